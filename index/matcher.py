"""The matcher: turns listing photos into scored, explained matches against the catalog."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.catalog import Catalog, LoadedIndex, ReferenceInfo
from vision.decode import DecodedImage
from vision.phash import hamming, phash

Verdict = Literal["copy", "product", "none"]
MatchKind = Literal["copy", "product"]

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
#: References retrieved per query before grouping by product: enough that K distinct products remain
#: when a catalog holds several photos per product.
CANDIDATES_PER_QUERY = 50


@dataclass(frozen=True)
class Calibration:
    """Maps raw similarities to probabilities of a true match, and holds the operating threshold.

    Fitted by ``bench`` (logistic regression on held-out development queries), shipped as JSON.
    """

    slope: float
    intercept: float
    threshold: float
    #: A candidate is a copy of the reference photo (rather than another photo of the product) when
    #: its perceptual hash is this close or its similarity this high.
    copy_hamming: int
    copy_similarity: float

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        payload = json.loads(path.read_text())
        return cls(**{name: payload[name] for name in cls.__dataclass_fields__})

    def probability(self, similarity: np.ndarray | float) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * similarity + self.intercept)))


@lru_cache(maxsize=1)
def default_calibration() -> Calibration:
    return Calibration.load()


@dataclass
class Match:
    """One candidate product for a listing photo."""

    sku: str
    name: str
    score: float
    kind: MatchKind
    reference: ReferenceInfo
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    """The verdict on one listing photo, with its K best candidates, best first."""

    verdict: Verdict
    score: float
    matches: list[Match]


class Matcher:
    """Scores listing photos against the catalog's reference photos."""

    def __init__(
        self, catalog: Catalog, calibration: Calibration | None = None, threshold: float | None = None
    ):
        self.catalog = catalog
        self.calibration = calibration or default_calibration()
        self.threshold = threshold if threshold is not None else self.calibration.threshold

    def check(self, images: list[DecodedImage], top_k: int = 5) -> list[CheckResult]:
        """Checks decoded images in one batch; results in input order."""
        if not images:
            return []
        loaded = self.catalog.load_index()
        descriptors = self.catalog.embedder.embed([image.pixels for image in images])
        similarities, ids = loaded.index.search(descriptors, CANDIDATES_PER_QUERY)
        return [
            self._result(image, row_similarities, row_ids, loaded, top_k)
            for image, row_similarities, row_ids in zip(images, similarities, ids, strict=True)
        ]

    def _result(
        self,
        image: DecodedImage,
        similarities: np.ndarray,
        ids: np.ndarray,
        loaded: LoadedIndex,
        top_k: int,
    ) -> CheckResult:
        best_per_product: dict[int, tuple[float, ReferenceInfo]] = {}
        for similarity, reference_id in zip(similarities.tolist(), ids.tolist(), strict=True):
            reference = loaded.references.get(reference_id)
            if reference is None or reference.product_id in best_per_product:
                continue
            best_per_product[reference.product_id] = (similarity, reference)
            if len(best_per_product) >= top_k:
                break
        query_hash = phash(image.pixels) if best_per_product else 0
        matches = []
        for similarity, reference in best_per_product.values():
            distance = hamming(query_hash, reference.phash)
            is_copy = (
                distance <= self.calibration.copy_hamming or similarity >= self.calibration.copy_similarity
            )
            score = float(self.calibration.probability(similarity))
            matches.append(
                Match(
                    sku=reference.sku,
                    name=reference.name,
                    score=round(score, 4),
                    kind="copy" if is_copy else "product",
                    reference=reference,
                    evidence={"similarity": round(similarity, 4), "phash_distance": distance},
                )
            )
        matches.sort(key=lambda match: match.score, reverse=True)
        if matches and matches[0].score >= self.threshold:
            return CheckResult(verdict=matches[0].kind, score=matches[0].score, matches=matches)
        return CheckResult(verdict="none", score=matches[0].score if matches else 0.0, matches=matches)


def result_to_json(
    image: str,
    result: CheckResult,
    reference_location: Any = None,
) -> dict[str, Any]:
    """The JSON object of the check contract (``hallmark check --json`` and ``POST /v1/check``).

    Args:
        image: The photo's name as the caller knows it (path, upload name or URL).
        result: The matcher's result.
        reference_location: Maps a :class:`ReferenceInfo` to what ``reference_image`` shows; the
            CLI gives the absolute source path (the default), the API a URL.
    """
    locate = reference_location or (lambda reference: reference.source_path)
    return {
        "image": image,
        "verdict": result.verdict,
        "score": result.score,
        "matches": [
            {
                "sku": match.sku,
                "name": match.name,
                "score": match.score,
                "kind": match.kind,
                "reference_image": locate(match.reference),
                "evidence": match.evidence,
            }
            for match in result.matches
        ],
    }
