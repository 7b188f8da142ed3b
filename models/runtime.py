"""Inference with onnxruntime: the process-wide embedder."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hallmark.errors import ModelError
from hallmark.settings import Settings, get_settings
from models.export import cached_onnx_model
from models.regions import REGIONS, region_descriptors
from models.spec import CATALOG_INPUT_SIZE, DESCRIPTOR_DIM, LISTING_INPUT_SIZE, MEAN, STD
from vision.preprocess import to_batch

#: Images per one-core forward pass. Two such passes run at once in ``hallmark check`` over many
#: files, and each holds its batch's activations: checking 400 photos peaked at 2.4 GiB with
#: passes of 32, 1.8 with 16, 1.3 with 4 (1.2 with one two-core pass ahead). Smaller passes were
#: slower in the pipeline (interleaved, checks/s over the model-only rate: 0.46 at 32 and 16,
#: 0.44 at 8, 0.42 at 4). Those were listings at 224 px; at 288 px a pass holds 1.65 times the
#: activations (``make bench`` peaked at 3.6 GiB instead of 2.4).
ONE_CORE_BATCH = 16


class Embedder:
    """Turns RGB images into L2-normalised descriptors with the cached ONNX export.

    The session loads lazily on first use, under a lock: two requests may arrive for a model that
    neither has loaded.
    """

    def __init__(self, settings: Settings | None = None, model_path: Path | None = None) -> None:
        self._settings = settings or get_settings()
        self._model_path = model_path
        # One session per threading mode: its intra-op thread count is fixed when it is made.
        self._sessions: dict[bool, object] = {}
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return DESCRIPTOR_DIM

    def load(self) -> None:
        """Exports (if not cached) and loads the model now instead of on first use."""
        self._get_session()

    def _get_session(self, one_thread: bool = False):  # type: ignore[no-untyped-def]
        session = self._sessions.get(one_thread)
        if session is not None:
            return session
        with self._lock:
            if one_thread not in self._sessions:
                import onnxruntime as ort

                path = self._model_path or cached_onnx_model(self._settings.resolved_model_cache)
                options = ort.SessionOptions()
                if one_thread:
                    options.intra_op_num_threads = 1
                elif self._settings.inference_threads:
                    options.intra_op_num_threads = self._settings.inference_threads
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                try:
                    self._sessions[one_thread] = ort.InferenceSession(
                        str(path), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as error:  # onnxruntime raises its own untyped errors
                    raise ModelError(f"cannot load the model {path}: {error}") from error
            return self._sessions[one_thread]

    def embed_batch(self, batch: np.ndarray) -> np.ndarray:
        """Descriptors of an already normalised ``(N, 3, H, W)`` float32 batch."""
        session = self._get_session()
        (descriptors,) = session.run(["descriptors"], {"images": batch})
        return np.ascontiguousarray(descriptors, dtype=np.float32)

    def embed_with_regions(
        self, images: Sequence[np.ndarray], batch_size: int | None = None, one_thread: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Listing photos' descriptors ``(N, 1280)`` and region descriptors ``(N, R, 1280)``.

        One pass each, at :data:`~models.spec.LISTING_INPUT_SIZE`. The regions are pooled from the
        feature map of the same forward pass (see :mod:`models.regions`), so they cost no extra
        inference.

        Args:
            images: RGB uint8 images of any size.
            batch_size: Images per forward pass (default: the ``check_batch_size`` setting).
            one_thread: Run the network on one core (a session of its own), in passes of at most
                :data:`ONE_CORE_BATCH` images. Several such calls at once use the cores better
                than one call spread over all of them: the network's small layers leave a
                multi-threaded pass waiting on its slowest thread.
        """
        if not images:
            empty = np.zeros((0, DESCRIPTOR_DIM), dtype=np.float32)
            return empty, np.zeros((0, len(REGIONS), DESCRIPTOR_DIM), dtype=np.float32)
        size = batch_size or self._settings.check_batch_size
        if one_thread:
            size = min(size, ONE_CORE_BATCH)
        session = self._get_session(one_thread)
        descriptors, regions = [], []
        for start in range(0, len(images), size):
            batch = to_batch(images[start : start + size], LISTING_INPUT_SIZE, MEAN, STD)
            pooled, features = session.run(["descriptors", "features"], {"images": batch})
            descriptors.append(np.ascontiguousarray(pooled, dtype=np.float32))
            regions.append(region_descriptors(features))
        return np.concatenate(descriptors), np.concatenate(regions)

    def embed(self, images: Sequence[np.ndarray], batch_size: int | None = None) -> np.ndarray:
        """Catalog photos' descriptors ``(N, 1280)``, at :data:`~models.spec.CATALOG_INPUT_SIZE`.

        Args:
            images: RGB uint8 images of any size.
            batch_size: Images per forward pass (default: the ``check_batch_size`` setting).
        """
        if not images:
            return np.zeros((0, DESCRIPTOR_DIM), dtype=np.float32)
        size = batch_size or self._settings.check_batch_size
        parts = [
            self.embed_batch(to_batch(images[start : start + size], CATALOG_INPUT_SIZE, MEAN, STD))
            for start in range(0, len(images), size)
        ]
        return np.concatenate(parts)


_default_embedder: Embedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """The process-wide embedder for the current settings."""
    global _default_embedder
    with _default_lock:
        if _default_embedder is None:
            _default_embedder = Embedder()
        return _default_embedder
