"""Per-photo threads: results in input order, kernels single-threaded only while a batch runs."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import cv2
import pytest
from threadpoolctl import threadpool_info

from index.photo_workers import map_photos, single_threaded_kernels, worker_count


@pytest.fixture(autouse=True)
def opencv_with_three_threads() -> Iterator[None]:
    # Not 1, whatever the machine's cores: a limit to 1 and its restoring are then both visible.
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    yield
    cv2.setNumThreads(before)


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_results_come_back_in_input_order_from_several_threads() -> None:
    started = threading.Barrier(2, timeout=10)
    names: set[str] = set()

    def work(item: int) -> int:
        names.add(threading.current_thread().name)
        if item < 2:
            started.wait()  # the first two items only finish once both run at the same time
        return item * item

    with single_threaded_kernels():
        assert map_photos(work, range(10), threads=2) == [item * item for item in range(10)]
    assert len(names) == 2 and all(name.startswith("photo") for name in names)


def test_one_thread_or_one_item_runs_in_the_calling_thread() -> None:
    caller = threading.current_thread().name
    assert map_photos(lambda item: threading.current_thread().name, [1, 2], threads=1) == [caller, caller]
    assert map_photos(lambda item: threading.current_thread().name, [1], threads=4) == [caller]


def test_a_failing_photo_raises_in_the_caller() -> None:
    def work(item: int) -> int:
        if item == 3:
            raise ValueError("photo 3")
        return item

    with single_threaded_kernels(), pytest.raises(ValueError, match="photo 3"):
        map_photos(work, range(6), threads=2)


def test_kernels_are_single_threaded_inside_and_restored_after() -> None:
    before_blas = _blas_threads()
    with single_threaded_kernels():
        assert cv2.getNumThreads() == 1
        assert all(threads == 1 for threads in _blas_threads())
    assert (cv2.getNumThreads(), _blas_threads()) == (3, before_blas)


def test_overlapping_blocks_restore_the_limits_only_when_the_last_one_leaves() -> None:
    first = single_threaded_kernels()
    second = single_threaded_kernels()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert cv2.getNumThreads() == 1  # the second batch is still running
    second.__exit__(None, None, None)
    assert cv2.getNumThreads() == 3


def test_zero_workers_means_one_per_core() -> None:
    assert worker_count(3) == 3
    assert worker_count(0) == max(1, os.cpu_count() or 1)
