"""Per-photo work of a batch spread over threads, one photo per thread at a time.

Verifying a listing photo is a chain of small numeric calls: SIFT on a 192 px image, a few
500 x 500 descriptor products, a homography fit. Each is too small to split well across cores:
OpenCV's threads share one small SIFT poorly, and OpenBLAS's and OpenMP's idle threads busy-wait
after every call, burning the cores the next call needs. So the photos are the unit of
parallelism: each worker thread verifies whole photos, and while they run, OpenCV, BLAS and OpenMP
run single-threaded. OpenCV and NumPy's BLAS release the GIL inside their kernels, so the threads
overlap where the time goes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import cv2
from threadpoolctl import ThreadpoolController

__all__ = ["map_photos", "single_threaded_kernels", "worker_count"]

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

_kernels_lock = threading.Lock()
_kernels_users = 0
_kernels_restore: Callable[[], None] | None = None
_controller: ThreadpoolController | None = None


def _native_pools() -> ThreadpoolController:
    """The process's BLAS and OpenMP pools, found on first use and kept.

    Finding them walks every loaded library (about 2 ms, which every batch paid before); switching
    a found pool's limit costs microseconds. A library loaded later is not limited (the checking
    path loads its libraries before its first batch).
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def worker_count(configured: int) -> int:
    """Worker threads for a setting where 0 means one per core."""
    return configured if configured > 0 else max(1, os.cpu_count() or 1)


@contextmanager
def single_threaded_kernels() -> Iterator[None]:
    """OpenCV, BLAS and OpenMP (FAISS) run single-threaded inside the block, process-wide.

    Idle OpenBLAS and OpenMP threads spin for a while after each call; around a batch's small
    searches and products they take the cores from the photo threads and from onnxruntime's pool
    (which is its own and stays as configured).

    The limits are process-wide settings, so overlapping blocks (two API requests checking
    batches at once) share them: the first block to enter sets them and the last to leave
    restores what was there before. OpenMP's limit holds for the thread that set it (OpenMP keeps
    it per thread), which is the one that searches in :meth:`index.matcher.Matcher.match`; another
    thread's overlapping block only runs its search with OpenMP's usual threads.
    """
    global _kernels_users, _kernels_restore
    with _kernels_lock:
        if _kernels_users == 0:
            opencv_threads = cv2.getNumThreads()
            native_limits = _native_pools().limit(limits=1)
            cv2.setNumThreads(1)

            def restore() -> None:
                cv2.setNumThreads(opencv_threads)
                native_limits.restore_original_limits()

            _kernels_restore = restore
        _kernels_users += 1
    try:
        yield
    finally:
        with _kernels_lock:
            _kernels_users -= 1
            if _kernels_users == 0 and _kernels_restore is not None:
                _kernels_restore()
                _kernels_restore = None


def map_photos(work: Callable[[Item], Outcome], items: Sequence[Item], threads: int) -> list[Outcome]:
    """``[work(item) for item in items]``, spread over up to ``threads`` threads, in input order.

    Call it inside :func:`single_threaded_kernels` when ``threads > 1``.
    """
    threads = min(threads, len(items))
    if threads <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(threads, thread_name_prefix="photo") as pool:
        return list(pool.map(work, items))
