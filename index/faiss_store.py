"""A FAISS inner-product index with stable ids, persisted atomically beside the database."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np


@dataclass(frozen=True)
class IndexStamp:
    """What an index file was built from; a stale stamp means rebuild from the database."""

    catalog_version: int
    model_fingerprint: str
    dim: int
    #: The owner's version of what the ids and vectors mean; stamps written before it existed read
    #: as 0, so that changing it makes older index files stale.
    layout: int = 0


class VectorIndex:
    """Exact cosine search over L2-normalised vectors, keyed by reference-image ids.

    An exact flat index: a brand's catalog holds thousands to a few hundred thousand photos, where
    exhaustive search is fast and never misses a copy the way an approximate index can.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Adds vectors under the given ids (ids must not be present already)."""
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got shape {vectors.shape}")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        """Removes the given ids; returns how many were present."""
        if len(ids) == 0:
            return 0
        return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))  # type: ignore[arg-type]

    def ids(self) -> np.ndarray:
        """Every id in the index."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of the given ids, ``(len(ids), dim)``.

        Raises:
            KeyError: An id is not in the index.
        """
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            return self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))
        except RuntimeError as error:  # FAISS reports an unknown id as a RuntimeError
            raise KeyError(f"an id of {ids.tolist()} is not in the index") from error

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest ids per query, as ``(similarities, ids)``; missing slots have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(self) == 0 or len(queries) == 0:
            return (
                np.full((len(queries), k), -np.inf, dtype=np.float32),
                np.full((len(queries), k), -1, dtype=np.int64),
            )
        similarities, ids = self._index.search(queries, min(k, len(self)))
        if ids.shape[1] < k:  # pad so callers always get k columns
            pad = k - ids.shape[1]
            similarities = np.pad(similarities, ((0, 0), (0, pad)), constant_values=-np.inf)
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        return similarities, ids

    def save(self, path: Path, stamp: IndexStamp) -> None:
        """Writes the index and its stamp atomically: readers see the old files or the new, never half."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".index-", dir=path.parent)
        os.close(handle)
        try:
            faiss.write_index(self._index, temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        _write_json_atomically(_stamp_path(path), stamp.__dict__)

    @classmethod
    def load(cls, path: Path) -> tuple[VectorIndex, IndexStamp] | None:
        """Reads an index written by :meth:`save`; None when missing or unreadable."""
        try:
            stamp = IndexStamp(**json.loads(_stamp_path(path).read_text()))
            raw = faiss.read_index(str(path))
        except (OSError, ValueError, TypeError, RuntimeError):
            return None
        if not isinstance(raw, faiss.IndexIDMap2) or raw.d != stamp.dim:
            return None
        index = cls(stamp.dim)
        index._index = raw  # read_index returns the IndexIDMap2 it wrote
        return index, stamp


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _write_json_atomically(path: Path, payload: dict[str, object]) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".stamp-", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
