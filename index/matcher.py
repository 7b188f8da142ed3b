"""The matcher: turns listing photos into scored, explained matches against the catalog.

Three stages, each spent only where the one before leaves a question open:

1. Retrieval. One network pass per photo gives the whole-frame descriptor and, from the same
   feature map, descriptors of ten regions; the catalog's exact index ranks references by the best
   region's cosine similarity (a product in a hand fills only part of the frame).
2. Verification. The best few candidate products that come close enough are checked with local
   features (RootSIFT, ratio test, MAGSAC++ homography), against the reference and its mirror image;
   an alignment with enough inliers is then checked pixel by pixel (:mod:`vision.photometric`).
3. Scoring. Gradient-boosted trees over this evidence give a calibrated probability, so one threshold
   means the same for every query (:mod:`index.scoring`); the photometric agreement decides whether a
   match is a ``copy`` of the reference photo or a ``product`` match.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from hallmark.errors import HallmarkError
from index.catalog import Catalog, LoadedIndex, ReferenceInfo, reference_ids_of
from index.faiss_store import IndexStamp
from index.photo_workers import map_photos, single_threaded_kernels, worker_count
from index.reference_features import ReferenceFeatures
from index.scoring import Evidence, ScoreModel, default_score_model, set_relative_evidence
from models.regions import REGIONS
from vision.decode import DecodedImage
from vision.geometry import (
    LocalFeatures,
    Verification,
    colour_copy,
    extract_features,
    listing_footprint,
    verify,
)
from vision.photometric import agreement, colour_difference

Verdict = Literal["copy", "product", "none"]
MatchKind = Literal["copy", "product"]

#: Index vectors retrieved per query region before grouping by product: enough that the shortlist's
#: distinct products remain when a catalog holds several photos per product, each with two vectors.
CANDIDATES_PER_QUERY = 64
#: Below this many inliers an alignment is too weak to compare pixels on, and a mirrored copy is
#: tried (an unmirrored copy almost always has many more).
MIN_ALIGNMENT_INLIERS = 12
#: Only the best few candidates are also tried mirrored: a mirrored copy keeps its global descriptor
#: (GeM is nearly flip-invariant), so its source ranks at the top.
MIRRORED_CANDIDATES = 2
#: A listing aligned onto less than this share of a reference (a heavy crop of it) is verified again
#: against that part alone: described on its own, the part has several times the keypoints it has
#: among the whole photo's 500.
ZOOM_BELOW_SHARE = 0.4
#: The part is the listing's outline in the reference, widened by this share of its size each side.
ZOOM_MARGIN = 0.1
#: Parts smaller than this (pixels per side) have too little to describe.
ZOOM_MIN_SIDE = 48
#: Fewest inliers whose homography is trusted to say where the listing lands.
ZOOM_MIN_INLIERS = 8
#: Inlier pairs reported per match: enough to draw the evidence, few enough to keep answers small.
REPORTED_KEYPOINTS = 40


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


@dataclass(frozen=True)
class EmbeddedBatch:
    """Decoded photos with their region descriptors ``(N, R, D)``, ready for :meth:`Matcher.match`."""

    images: list[DecodedImage]
    regions: np.ndarray


@dataclass
class _Listing:
    """A listing photo under verification: its local features, and its colour copy once needed.

    Most listing photos align with no candidate, so the colour copy is made on the first alignment
    (:meth:`coloured`) instead of with the features. One worker thread owns it.
    """

    pixels: np.ndarray
    features: LocalFeatures

    def coloured(self) -> LocalFeatures:
        """The features with their colour copy."""
        if self.features.chroma is None:
            self.features = replace(self.features, chroma=colour_copy(self.pixels, self.features))
        return self.features


@dataclass
class _Candidate:
    reference: ReferenceInfo
    similarity: float
    region_similarity: float
    region: int
    evidence: Evidence | None = None


class Matcher:
    """Scores listing photos against the catalog's reference photos.

    Args:
        catalog: The reference catalog.
        calibration: The scoring parameters (default: the shipped ``index/calibration.json``).
        threshold: Operating threshold on the score (default: the calibration's).
        workers: Threads verifying a batch's photos (default: the catalog's ``verify_threads``
            setting, where 0 means one per core).
    """

    def __init__(
        self,
        catalog: Catalog,
        calibration: ScoreModel | None = None,
        threshold: float | None = None,
        workers: int | None = None,
    ) -> None:
        self.catalog = catalog
        self.workers = worker_count(catalog.settings.verify_threads if workers is None else workers)
        self.calibration = calibration or default_score_model()
        self.threshold = threshold if threshold is not None else self.calibration.threshold
        self.reference_features = ReferenceFeatures(catalog.home)
        self._prepared_stamp: IndexStamp | None = None

    def check(self, images: list[DecodedImage], top_k: int = 5) -> list[CheckResult]:
        """Checks decoded images in one batch; results in input order."""
        return self.match(self.embed(images), top_k)

    def embed(self, images: list[DecodedImage]) -> EmbeddedBatch:
        """The first half of :meth:`check`: one network pass over the batch.

        It holds no lock and touches no catalog state, so a caller may embed the next batch on
        another thread while :meth:`match` verifies this one (see :func:`index.checking.check_paths`).
        """
        _, regions = self.catalog.embedder.embed_with_regions([image.pixels for image in images])
        return EmbeddedBatch(images, regions)

    def match(self, batch: EmbeddedBatch, top_k: int = 5) -> list[CheckResult]:
        """The second half of :meth:`check`: search, verification and scoring; input order.

        A batch's photos are verified in parallel, one per worker thread (see
        :mod:`index.photo_workers`); a lone photo uses the kernels' own threads instead.
        """
        loaded = self.catalog.load_index()
        self._prepare(loaded)
        images = batch.images
        if not images:
            return []
        workers = min(self.workers, len(images))
        with single_threaded_kernels() if workers > 1 else nullcontext():
            count, region_count, dim = batch.regions.shape
            similarities, ids = loaded.index.search(batch.regions.reshape(-1, dim), CANDIDATES_PER_QUERY)
            similarities = similarities.reshape(count, region_count, -1)
            ids = ids.reshape(count, region_count, -1)

            def check_one(row: int) -> CheckResult:
                candidates = self._candidates(similarities[row], ids[row], loaded, top_k, images[row])
                return self._result(candidates, top_k)

            return map_photos(check_one, range(count), workers)

    def _prepare(self, loaded: LoadedIndex) -> None:
        """Computes every reference's local features once per index version, when the cache holds them.

        This is index-load work (like reading the FAISS file), done before the first check instead
        of inside it; larger catalogs fill the cache on demand.
        """
        if self._prepared_stamp == loaded.stamp:
            return
        if 2 * len(loaded.references) <= self.reference_features.capacity:
            for reference in loaded.references.values():
                try:
                    self.reference_features.get(reference)
                    self.reference_features.get(reference, mirrored=True)
                except HallmarkError:
                    continue  # reported when the reference is a candidate
        self._prepared_stamp = loaded.stamp

    def _candidates(
        self,
        similarities: np.ndarray,
        ids: np.ndarray,
        loaded: LoadedIndex,
        top_k: int,
        image: DecodedImage,
    ) -> list[_Candidate]:
        """The best reference per product by region similarity, verified where it could flag."""
        # A reference is as close as the nearer of its two vectors (the photo and its blurred copy).
        reference_ids = reference_ids_of(ids)
        # The whole frame is region 0; a reference outside its top list is at most that list's last.
        whole_frame: dict[int, float] = {}
        for similarity, reference_id in zip(similarities[0].tolist(), reference_ids[0].tolist(), strict=True):
            whole_frame.setdefault(reference_id, similarity)  # best first: the first hit is the best
        whole_floor = float(similarities[0][-1])
        # Each reference's best region: all hits best first (stable, so ties keep the lower region),
        # then each reference's first hit.
        flat_similarities = similarities.ravel()
        flat_references = reference_ids.ravel()
        order = np.argsort(-flat_similarities, kind="stable")
        order = order[ids.ravel()[order] >= 0]
        _, first = np.unique(flat_references[order], return_index=True)
        best_hits = order[np.sort(first)]
        model = self.calibration
        wanted = model.shortlist_size(top_k)
        per_product: dict[int, _Candidate] = {}
        per_region = similarities.shape[1]
        for hit in best_hits.tolist():
            reference = loaded.references.get(int(flat_references[hit]))
            if reference is None or reference.product_id in per_product:
                continue
            whole = whole_frame.get(reference.reference_id, whole_floor)
            region = hit // per_region
            per_product[reference.product_id] = _Candidate(
                reference, whole, float(flat_similarities[hit]), region
            )
            if len(per_product) == wanted:
                break
        # Verification can lift a lower-ranked product above the top K, so the shortlist is a little
        # deeper; deeper still (up to the weak limit) when the usual candidates all match weakly.
        shortlist = list(per_product.values())
        usual = max(top_k, model.verify_limit)
        extended = self._verify(image, shortlist)
        return shortlist if extended else shortlist[:usual]

    def _verify(self, image: DecodedImage, candidates: list[_Candidate]) -> bool:
        """Gives every candidate its evidence; returns whether the weak-match extension ran."""
        model = self.calibration
        if not candidates:
            return False
        best = candidates[0].region_similarity
        gate = max(model.verify_similarity, best - model.verify_margin)
        for candidate in candidates:
            candidate.evidence = _embedding_evidence(candidate, image)
        query = (
            _Listing(image.pixels, extract_features(image.pixels, colour=False))
            if candidates[0].region_similarity >= gate
            else None
        )
        strongest = self._verify_range(query, candidates[: model.verify_limit], gate)
        if strongest is None or strongest >= model.weak_inliers:
            return False  # a copy, or a match strong enough that deeper candidates rarely win
        if model.verify_limit_weak <= model.verify_limit:
            return False
        self._verify_range(query, candidates[: model.verify_limit_weak], gate)
        return True

    def _verify_range(self, query: _Listing | None, candidates: list[_Candidate], gate: float) -> int | None:
        """Verifies the not yet verified candidates past the gate; the most inliers, None at a copy."""
        strongest = 0
        if query is None:  # even the best candidate is below the gate
            return strongest
        for position, candidate in enumerate(candidates):
            assert candidate.evidence is not None
            if candidate.evidence.verified or candidate.region_similarity < gate:
                strongest = max(strongest, candidate.evidence.inliers)
                continue
            try:
                candidate.evidence = self._geometric_evidence(
                    query, candidate, candidate.evidence, try_mirrored=position < MIRRORED_CANDIDATES
                )
            except HallmarkError:
                continue  # a reference photo missing from the data directory: embedding evidence only
            if self.calibration.is_copy(candidate.evidence):
                return None  # the listing reuses this photo; no other candidate can explain it better
            strongest = max(strongest, candidate.evidence.inliers)
        return strongest

    def _geometric_evidence(
        self, listing: _Listing, candidate: _Candidate, evidence: Evidence, try_mirrored: bool
    ) -> Evidence:
        query = listing.features
        reference = self.reference_features.get(candidate.reference)
        found = verify(query, reference)
        if try_mirrored and found.inliers < MIN_ALIGNMENT_INLIERS:
            mirrored = self.reference_features.get(candidate.reference, mirrored=True)
            flipped = verify(query, mirrored)
            if flipped.inliers > found.inliers:
                found, reference = flipped, mirrored
        if not found.mirrored and found.homography is not None and found.inliers >= ZOOM_MIN_INLIERS:
            found, reference = self._zoomed(query, candidate, reference, found)
        evidence.verified = True
        evidence.matches = found.matches
        evidence.inliers = found.inliers
        evidence.inlier_ratio = round(found.inlier_ratio, 4)
        evidence.spread = round(found.spread, 4)
        evidence.mirrored = found.mirrored
        if found.homography is not None and found.inliers >= MIN_ALIGNMENT_INLIERS:
            evidence.agreement = round(agreement(query, reference, found.homography), 4)
            difference = colour_difference(listing.coloured(), reference, found.homography)
            evidence.colour_difference = None if difference is None else round(difference, 2)
        evidence.keypoints = _keypoint_pairs(found)
        return evidence

    def _zoomed(
        self, query: LocalFeatures, candidate: _Candidate, reference: LocalFeatures, found: Verification
    ) -> tuple[Verification, LocalFeatures]:
        """The alignment again against the part of the reference the listing shows, if it is small.

        A heavily cropped copy shows a part of the reference photo that holds only a few of the
        photo's keypoints, so it aligns with few inliers however exact the alignment. Returns the
        better of the two verifications with the features it was made against (the part's
        positions are shifted back to the reference photo's pixels for the reported keypoints; the
        spread is then the share of the part the inliers cover). Mirrored alignments are left as
        they are.
        """
        if found.homography is None:
            return found, reference
        footprint = listing_footprint(query, reference, found.homography)
        if footprint is None or footprint[1] >= ZOOM_BELOW_SHARE:
            return found, reference
        (left, top, right, bottom), _ = footprint
        margin_x, margin_y = round((right - left) * ZOOM_MARGIN), round((bottom - top) * ZOOM_MARGIN)
        box = (
            max(0, left - margin_x),
            max(0, top - margin_y),
            min(reference.width, right + margin_x),
            min(reference.height, bottom + margin_y),
        )
        if min(box[2] - box[0], box[3] - box[1]) < ZOOM_MIN_SIDE:
            return found, reference
        try:
            part = self.reference_features.part(candidate.reference, box)
        except HallmarkError:  # the stored photo went missing since its features were cached
            return found, reference
        again = verify(query, part)
        if again.inliers <= found.inliers:
            return found, reference
        offset = np.array([box[0], box[1]], dtype=again.reference_points.dtype)
        return replace(again, reference_points=again.reference_points + offset), part

    def _result(self, candidates: list[_Candidate], top_k: int) -> CheckResult:
        model = self.calibration
        evidences = [candidate.evidence for candidate in candidates if candidate.evidence is not None]
        assert len(evidences) == len(candidates)  # _verify gives every candidate its evidence
        set_relative_evidence(evidences)
        matches = []
        for candidate, evidence, score in zip(
            candidates, evidences, model.probabilities(evidences).tolist(), strict=True
        ):
            kind: MatchKind = "copy" if model.is_copy(evidence) else "product"
            matches.append(
                Match(
                    sku=candidate.reference.sku,
                    name=candidate.reference.name,
                    score=round(score, 4),
                    kind=kind,
                    reference=candidate.reference,
                    evidence=_evidence_json(evidence),
                )
            )
        matches.sort(key=lambda match: match.score, reverse=True)
        matches = matches[:top_k]
        if matches and matches[0].score >= self.threshold:
            return CheckResult(verdict=matches[0].kind, score=matches[0].score, matches=matches)
        return CheckResult(verdict="none", score=matches[0].score if matches else 0.0, matches=matches)


def _embedding_evidence(candidate: _Candidate, image: DecodedImage) -> Evidence:
    top, left, height, width = REGIONS[candidate.region]
    box = [
        round(left * image.width),
        round(top * image.height),
        round((left + width) * image.width),
        round((top + height) * image.height),
    ]
    return Evidence(
        similarity=round(candidate.similarity, 4),
        region_similarity=round(candidate.region_similarity, 4),
        region=box,
    )


def _keypoint_pairs(found: Verification) -> list[list[float]]:
    pairs = np.concatenate([found.query_points, found.reference_points], axis=1)[:REPORTED_KEYPOINTS]
    rounded: list[list[float]] = np.round(pairs.astype(np.float64), 1).tolist()
    return rounded


def _evidence_json(evidence: Evidence) -> dict[str, Any]:
    # Field by field rather than dataclasses.asdict, whose deep copy of the keypoint lists cost
    # more per photo than the search.
    payload = {item.name: getattr(evidence, item.name) for item in fields(evidence)}
    payload["decided_by"] = (
        "geometry and pixels"
        if evidence.agreement > 0
        else "geometry"
        if evidence.inliers > 0
        else "embedding"
    )
    if payload["keypoints"] is None:
        del payload["keypoints"]
    return payload


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
