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
from collections.abc import Sequence
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
    "set_inlier_margins",
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
    "product_margin_gain",
    "product_margin_loss",
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
        inlier_margin: ``log(1 + inliers)`` minus the largest ``log(1 + inliers)`` among the same
            listing photo's other candidates (see :func:`set_inlier_margins`).
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
    inlier_margin: float = 0.0
    keypoints: list[list[float]] | None = None


def set_inlier_margins(evidences: Sequence[Evidence]) -> None:
    """Sets each candidate's :attr:`Evidence.inlier_margin` against the listing's other candidates.

    A packshot's logo and brand print match every sibling package of the brand, so the absolute
    inlier count of a product photo says less than how far it stands above the next product's.
    Unverified candidates count with 0 inliers, as the matcher knows nothing better about them.
    """
    logs = [math.log1p(evidence.inliers) for evidence in evidences]
    for position, evidence in enumerate(evidences):
        others = logs[:position] + logs[position + 1 :]
        evidence.inlier_margin = round(logs[position] - max(others, default=0.0), 4)


def feature_vector(evidence: Evidence, copy_agreement: float = 1.0) -> np.ndarray:
    """The logistic model's inputs for one candidate, in the order of :data:`FEATURES`.

    ``copy_evidence`` lets many inliers count for a copy only when the aligned pixels also agree:
    a shared carpet or shelf gives inliers without agreement, a reused photo gives both.

    The two ``product_margin`` inputs carry :attr:`Evidence.inlier_margin` (its gain above the
    other candidates and its loss below the best of them) for product evidence only: they fade out
    as the aligned pixels approach ``copy_agreement``. Copies are decided by pixel agreement, and
    letting the margin lift them flagged distractors that share a background with one reference.

    Args:
        evidence: The candidate's evidence.
        copy_agreement: The agreement at which evidence counts as a copy (the model's copy rule).
    """
    log_inliers = math.log1p(evidence.inliers)
    agreement = max(0.0, evidence.agreement)
    product_share = 1.0 - min(1.0, agreement / max(copy_agreement, 1e-6))
    margin = evidence.inlier_margin
    return np.array(
        [
            evidence.similarity,
            evidence.region_similarity,
            log_inliers,
            evidence.inlier_ratio,
            evidence.spread,
            agreement,
            log_inliers * agreement,
            max(0.0, margin) * product_share,
            min(0.0, margin) * product_share,
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
        verify_limit: At most this many candidates (products) are verified per listing photo...
        weak_inliers: ... unless none of them reaches this many inliers (and none is a copy): then the
            next candidates up to ``verify_limit_weak`` are verified too, as the true product of a
            weakly matched photo is often ranked lower by the embedding.
        verify_limit_weak: The candidates verified in all for such a weakly matched photo (0: never
            more than ``verify_limit``).
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
    weak_inliers: int = 0
    verify_limit_weak: int = 0
    fitted_on: str = ""

    def shortlist_size(self, top_k: int) -> int:
        """Candidates (products) the matcher keeps per listing photo before scoring."""
        return max(top_k, self.verify_limit, self.verify_limit_weak)

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
            weak_inliers=int(payload.get("weak_inliers", 0)),
            verify_limit_weak=int(payload.get("verify_limit_weak", 0)),
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
            "weak_inliers": self.weak_inliers,
            "verify_limit_weak": self.verify_limit_weak,
            "fitted_on": self.fitted_on,
        }

    def probability(self, evidence: Evidence) -> float:
        """Calibrated probability that the candidate is a true match."""
        logit = float(np.dot(self.weights, feature_vector(evidence, self.copy_agreement))) + self.bias
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
