"""From a candidate's evidence to one calibrated score, and from the evidence to its kind.

The score is the probability that the candidate is a true match (the listing reuses the reference
photo, or shows its product), from a logistic model over the evidence the matcher gathers: embedding
similarity of the whole frame and of its best region, and, when the candidate was verified, the
geometric inliers, their ratio and spread and the photometric agreement after alignment. The model
and the operating threshold are fitted by ``bench/calibrate.py`` on one half of the development
queries and distractors and shipped as ``index/calibration.json``; the other half measures them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CALIBRATION_FILE",
    "FEATURES",
    "Evidence",
    "ScoreModel",
    "default_score_model",
    "feature_vector",
]

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"

#: The inputs of the logistic model, in order (see :func:`feature_vector`).
FEATURES = (
    "similarity",
    "region_similarity",
    "log_inliers",
    "inlier_ratio",
    "spread",
    "agreement",
    "copy_evidence",
)


@dataclass
class Evidence:
    """What the matcher found about one candidate reference photo.

    Attributes:
        similarity: Cosine similarity of the whole listing photo to the reference.
        region_similarity: Best cosine similarity of a region of the listing photo to the reference.
        region: ``[x0, y0, x1, y1]`` of that region in the listing photo's pixels.
        verified: Local features were matched (the candidate was close enough to be worth it).
        matches: Tentative local-feature matches (ratio test).
        inliers: Matches consistent with one homography.
        inlier_ratio: ``inliers / matches``.
        spread: Share of the reference covered by the inliers' convex hull.
        mirrored: The listing shows the reference flipped left to right.
        agreement: Median local correlation of the aligned pixels (about 1 for a copy).
        keypoints: Inlier pairs ``[x_listing, y_listing, x_reference, y_reference]``, pixels.
    """

    similarity: float
    region_similarity: float
    region: list[int]
    verified: bool = False
    matches: int = 0
    inliers: int = 0
    inlier_ratio: float = 0.0
    spread: float = 0.0
    mirrored: bool = False
    agreement: float = 0.0
    keypoints: list[list[float]] | None = None


def feature_vector(evidence: Evidence) -> np.ndarray:
    """The logistic model's inputs for one candidate, in the order of :data:`FEATURES`.

    ``copy_evidence`` lets many inliers count for a copy only when the aligned pixels also agree:
    a shared carpet or shelf gives inliers without agreement, a reused photo gives both.
    """
    log_inliers = math.log1p(evidence.inliers)
    agreement = max(0.0, evidence.agreement)
    return np.array(
        [
            evidence.similarity,
            evidence.region_similarity,
            log_inliers,
            evidence.inlier_ratio,
            evidence.spread,
            agreement,
            log_inliers * agreement,
        ],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class ScoreModel:
    """The shipped scoring: logistic weights, operating threshold and the copy rule.

    Attributes:
        weights: One weight per entry of :data:`FEATURES`.
        bias: The logistic model's intercept.
        threshold: Operating threshold on the probability: a listing is flagged at or above it.
        copy_agreement: A verified candidate is a ``copy`` (the listing reuses this photo) when the
            aligned pixels agree at least this much; otherwise it is a ``product`` match.
        copy_min_inliers: ... and when at least this many inliers support the alignment.
        verify_similarity: Candidates below this region similarity are never verified: no true
            pair of the calibration split was found below it.
        verify_margin: Candidates further than this below the query's best similarity are not
            verified either (they cannot overtake it often enough to pay for the time).
        verify_limit: At most this many candidates (products) are verified per listing photo.
        fitted_on: A description of the data the parameters were fitted on.
    """

    weights: tuple[float, ...]
    bias: float
    threshold: float
    copy_agreement: float
    copy_min_inliers: int
    verify_similarity: float
    verify_margin: float
    verify_limit: int
    fitted_on: str = ""

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> ScoreModel:
        """Reads the parameters written by ``bench/calibrate.py``."""
        payload: dict[str, Any] = json.loads(path.read_text())
        if tuple(payload["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted for features {payload['features']}, not {FEATURES}")
        return cls(
            weights=tuple(float(weight) for weight in payload["weights"]),
            bias=float(payload["bias"]),
            threshold=float(payload["threshold"]),
            copy_agreement=float(payload["copy_agreement"]),
            copy_min_inliers=int(payload["copy_min_inliers"]),
            verify_similarity=float(payload["verify_similarity"]),
            verify_margin=float(payload["verify_margin"]),
            verify_limit=int(payload["verify_limit"]),
            fitted_on=str(payload.get("fitted_on", "")),
        )

    def to_json(self) -> dict[str, Any]:
        """The parameters as ``calibration.json`` stores them."""
        return {
            "features": list(FEATURES),
            "weights": [round(weight, 6) for weight in self.weights],
            "bias": round(self.bias, 6),
            "threshold": self.threshold,
            "copy_agreement": self.copy_agreement,
            "copy_min_inliers": self.copy_min_inliers,
            "verify_similarity": self.verify_similarity,
            "verify_margin": self.verify_margin,
            "verify_limit": self.verify_limit,
            "fitted_on": self.fitted_on,
        }

    def probability(self, evidence: Evidence) -> float:
        """Calibrated probability that the candidate is a true match."""
        logit = float(np.dot(self.weights, feature_vector(evidence))) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def is_copy(self, evidence: Evidence) -> bool:
        """Whether the evidence says the listing reuses this very photo (rather than shows the product)."""
        return (
            evidence.verified
            and evidence.inliers >= self.copy_min_inliers
            and evidence.agreement >= self.copy_agreement
        )


@lru_cache(maxsize=1)
def default_score_model() -> ScoreModel:
    """The shipped :class:`ScoreModel` (``index/calibration.json``)."""
    return ScoreModel.load()
