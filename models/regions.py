"""Region descriptors: GeM over windows of the feature map (R-MAC-style), from the same forward pass.

A product held in a hand or standing on a shelf fills part of the frame; pooling the whole frame
mixes it with the shop around it. Pooling a few overlapping windows of the feature map gives
descriptors of the parts, at the cost of a few array reductions and no extra network pass.
"""

from __future__ import annotations

import numpy as np

from models.spec import GEM_P

assert GEM_P == 3.0, "region_descriptors cubes and takes cube roots"

__all__ = ["REGIONS", "region_descriptors"]

#: Windows as (top, left, height, width) fractions of the map: the whole frame, four overlapping
#: quarters-plus (5/7 of each side), the centre, and four corner quarters (4/7); then full-height
#: and full-width strips, 3/7 and 4/7 across, for a product that is taller or wider than it is
#: deep in the photo (a carton or bottle standing on a shelf or held upright, a shoe on its side).
#: With the strips, the right product ranks first by the best region cosine for 0.50 of the
#: product photos instead of 0.46 (among the first six for 0.84 instead of 0.83), and a copy's
#: source ranks first for 0.94 instead of 0.92 (held-out half; the calibration half moved alike).
#: They cost nothing in the network and about 1.3 ms per photo for searching, pooling and sorting
#: twelve more vectors (BENCHMARKS.md).
REGIONS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 1.0, 1.0),
    (0.0, 0.0, 5 / 7, 5 / 7),
    (0.0, 2 / 7, 5 / 7, 5 / 7),
    (2 / 7, 0.0, 5 / 7, 5 / 7),
    (2 / 7, 2 / 7, 5 / 7, 5 / 7),
    (1 / 7, 1 / 7, 5 / 7, 5 / 7),
    (0.0, 0.0, 4 / 7, 4 / 7),
    (0.0, 3 / 7, 4 / 7, 4 / 7),
    (3 / 7, 0.0, 4 / 7, 4 / 7),
    (3 / 7, 3 / 7, 4 / 7, 4 / 7),
    *((0.0, left / 7, 1.0, 3 / 7) for left in (0, 2, 4)),
    *((0.0, left / 7, 1.0, 4 / 7) for left in (0, 1.5, 3)),
    *((top / 7, 0.0, 3 / 7, 1.0) for top in (0, 2, 4)),
    *((top / 7, 0.0, 4 / 7, 1.0) for top in (0, 1.5, 3)),
)


def _window(fraction: tuple[float, float, float, float], rows: int, columns: int) -> tuple[slice, slice]:
    top, left, height, width = fraction
    y0, x0 = round(top * rows), round(left * columns)
    y1 = min(rows, max(y0 + 1, y0 + round(height * rows)))
    x1 = min(columns, max(x0 + 1, x0 + round(width * columns)))
    return slice(y0, y1), slice(x0, x1)


def _window_weights(rows: int, columns: int) -> np.ndarray:
    """``(rows * columns, len(REGIONS))``: each window's cells, weighted by one over its cell count."""
    weights = np.zeros((len(REGIONS), rows, columns), dtype=np.float32)
    for index, region in enumerate(REGIONS):
        window = _window(region, rows, columns)
        cells = weights[index][window]
        weights[index][window] = 1.0 / cells.size
    return np.ascontiguousarray(weights.reshape(len(REGIONS), -1).T)


def region_descriptors(features: np.ndarray) -> np.ndarray:
    """L2-normalised GeM descriptors of :data:`REGIONS` of each feature map.

    Args:
        features: ``(N, C, h, w)`` feature maps (non-negative activations).

    Returns:
        ``(N, len(REGIONS), C)`` float32; region 0 is the whole frame (the global descriptor).
    """
    count, channels, rows, columns = features.shape
    clipped = np.maximum(features.astype(np.float32, copy=False), 1e-6)
    cubed = clipped * clipped * clipped  # GEM_P = 3; a product is several times faster than a power
    # Every window's mean of every channel as one matrix product with the windows' cell weights.
    means = cubed.reshape(count * channels, rows * columns) @ _window_weights(rows, columns)
    pooled = np.cbrt(means.reshape(count, channels, len(REGIONS)).transpose(0, 2, 1))
    pooled /= np.linalg.norm(pooled, axis=-1, keepdims=True) + 1e-12
    return np.ascontiguousarray(pooled, dtype=np.float32)
