"""The FAISS store: stable ids through add, remove, search, save and load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.faiss_store import IndexStamp, VectorIndex


def _unit_vectors(count: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_search_finds_each_vector_under_its_own_id() -> None:
    index = VectorIndex(16)
    vectors = _unit_vectors(10)
    ids = np.arange(100, 110)
    index.add(ids, vectors)
    similarities, found = index.search(vectors, 1)
    assert found[:, 0].tolist() == ids.tolist()
    assert np.allclose(similarities[:, 0], 1.0, atol=1e-5)


def test_removed_ids_are_never_found_and_others_keep_their_ids() -> None:
    index = VectorIndex(16)
    vectors = _unit_vectors(5)
    index.add(np.array([7, 8, 9, 10, 11]), vectors)
    assert index.remove(np.array([8, 10, 999])) == 2
    _, found = index.search(vectors, 3)
    assert set(found.ravel().tolist()) == {7, 9, 11}
    assert sorted(index.ids().tolist()) == [7, 9, 11]


def test_searching_for_more_neighbours_than_vectors_pads_with_minus_one() -> None:
    index = VectorIndex(16)
    index.add(np.array([1]), _unit_vectors(1))
    similarities, found = index.search(_unit_vectors(2, seed=1), 3)
    assert found.shape == (2, 3) and found[:, 1:].tolist() == [[-1, -1], [-1, -1]]
    assert np.isneginf(similarities[:, 1:]).all()


def test_an_empty_index_answers_every_query_with_nothing() -> None:
    similarities, found = VectorIndex(16).search(_unit_vectors(2), 4)
    assert (found == -1).all() and np.isneginf(similarities).all()


def test_vectors_of_the_wrong_dimension_are_refused() -> None:
    with pytest.raises(ValueError, match="dimension 16"):
        VectorIndex(16).add(np.array([1]), _unit_vectors(1, dim=8))


def test_a_saved_index_loads_with_its_stamp_and_ids(tmp_path: Path) -> None:
    index = VectorIndex(16)
    vectors = _unit_vectors(4)
    index.add(np.array([3, 5, 8, 13]), vectors)
    stamp = IndexStamp(catalog_version=4, model_fingerprint="abc", dim=16)
    index.save(tmp_path / "refs.faiss", stamp)
    loaded = VectorIndex.load(tmp_path / "refs.faiss")
    assert loaded is not None
    reloaded, loaded_stamp = loaded
    assert loaded_stamp == stamp
    assert reloaded.search(vectors, 1)[1][:, 0].tolist() == [3, 5, 8, 13]
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_a_stamp_written_before_layouts_existed_reads_as_layout_0(tmp_path: Path) -> None:
    index = VectorIndex(16)
    index.add(np.array([3]), _unit_vectors(1))
    index.save(
        tmp_path / "refs.faiss", IndexStamp(catalog_version=4, model_fingerprint="abc", dim=16, layout=2)
    )
    stamp_file = tmp_path / "refs.faiss.json"
    stamp_file.write_text(json.dumps({"catalog_version": 4, "model_fingerprint": "abc", "dim": 16}))
    loaded = VectorIndex.load(tmp_path / "refs.faiss")
    assert loaded is not None and loaded[1] == IndexStamp(4, "abc", 16, layout=0)


def test_a_missing_or_corrupt_index_file_loads_as_nothing(tmp_path: Path) -> None:
    assert VectorIndex.load(tmp_path / "missing.faiss") is None
    index = VectorIndex(16)
    index.save(tmp_path / "refs.faiss", IndexStamp(1, "abc", 16))
    (tmp_path / "refs.faiss").write_bytes(b"not an index")
    assert VectorIndex.load(tmp_path / "refs.faiss") is None


def test_stored_vectors_come_back_by_id_and_an_unknown_id_is_refused() -> None:
    index = VectorIndex(16)
    vectors = _unit_vectors(4)
    index.add(np.array([7, 3, 11, 5]), vectors)
    assert np.array_equal(index.vectors(np.array([11, 7])), vectors[[2, 0]])
    assert index.vectors(np.array([], dtype=np.int64)).shape == (0, 16)
    with pytest.raises(KeyError):
        index.vectors(np.array([8]))
