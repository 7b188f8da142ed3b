"""ONNX export of the descriptor network, built once and cached, keyed by weights and code."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import warnings
from functools import cache
from importlib import metadata
from pathlib import Path

from hallmark.errors import ModelError
from models.spec import CATALOG_INPUT_SIZE
from models.weights import file_sha256, weights_path
from vision import preprocess

#: ONNX opset: supported by every onnxruntime release we allow.
OPSET = 17
#: Modules whose code changes what the exported graph computes.
_GRAPH_SOURCES = ("backbone.py", "descriptor.py", "export.py", "spec.py", "weights.py")


def descriptor_sources() -> list[Path]:
    """The source files a stored descriptor depends on besides the weights.

    The graph's modules, ``spec.py`` among them (the input size and normalisation), and
    :mod:`vision.preprocess`, which makes the model's input and the blurred and tilted views the
    catalog embeds. Without the last two, changing the input size or a view would have left every
    catalog's stored descriptors as they were, silently out of step with the listings' new ones.
    """
    here = Path(__file__).resolve().parent
    return [here / name for name in _GRAPH_SOURCES] + [Path(preprocess.__file__).resolve()]


@cache
def model_fingerprint() -> str:
    """A short hash of everything a descriptor depends on: weights, code and library versions.

    It names the exported graph in the model cache, and the catalog re-embeds a reference whose
    stored descriptors carry another one. Computed once per process: the catalog compares it on
    every check, and reading the sources and the packages' metadata cost about 6 ms each time,
    while none of them can change what the process has loaded.
    """
    digest = hashlib.sha256()
    digest.update(file_sha256(weights_path()).encode())
    for source in descriptor_sources():
        digest.update(source.read_bytes())
    for package in ("torch", "timm"):
        digest.update(f"{package}={metadata.version(package)}".encode())
    digest.update(f"opset={OPSET}".encode())
    return digest.hexdigest()[:16]


def export_onnx(destination: Path) -> None:
    """Exports the descriptor network to ``destination`` (batch, height and width dynamic)."""
    import torch

    from models.descriptor import DescriptorAndFeatures, DescriptorNet

    network = DescriptorAndFeatures(DescriptorNet()).eval()
    example = torch.zeros(2, 3, CATALOG_INPUT_SIZE, CATALOG_INPUT_SIZE)
    # The TorchScript exporter is deprecated but needs no onnxscript; dynamo=False selects it.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            network,
            (example,),
            str(destination),
            input_names=["images"],
            output_names=["descriptors", "features"],
            dynamic_axes={
                "images": {0: "batch", 2: "height", 3: "width"},
                "descriptors": {0: "batch"},
                "features": {0: "batch", 2: "rows", 3: "columns"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def cached_onnx_model(cache_dir: Path) -> Path:
    """Returns the path of the exported model in ``cache_dir``, exporting it first if needed.

    The file name carries :func:`model_fingerprint`, so new weights or code give a new file. The
    export is written to a temporary file and renamed into place, under an exclusive lock, so two
    processes starting together export once and a crash never leaves a half-written model.
    """
    fingerprint = model_fingerprint()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelError(f"cannot create the model cache {cache_dir}: {error.strerror}") from error
    target = cache_dir / f"descriptor-{fingerprint}.onnx"
    if target.exists():
        return target
    with (cache_dir / f"descriptor-{fingerprint}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():  # another process exported it while we waited
            return target
        handle, temporary = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=cache_dir)
        os.close(handle)
        try:
            export_onnx(Path(temporary))
            os.chmod(temporary, 0o644)  # mkstemp makes it private; the cache is shared
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    return target
