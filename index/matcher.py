"""The matcher: turns listing photos into scored, explained matches against the catalog.

Three stages, each spent only where the one before leaves a question open:

1. Retrieval. One network pass per photo gives the whole-frame descriptor and, from the same
   feature map, descriptors of its regions (:mod:`models.regions`); the catalog's exact index ranks
   references by the best region's cosine similarity (a product in a hand fills only part of the
   frame).
2. Verification. The best few candidate products that come close enough are checked with local
   features (RootSIFT, ratio test, MAGSAC++ homography), against the reference and its mirror image;
   an alignment with enough inliers is then checked pixel by pixel (:mod:`vision.photometric`). A
   copy that fills only part of either photo (a heavy crop, or a photo shown small on a page) is
   verified again on that part, described on its own.
3. Scoring. Gradient-boosted trees over this evidence give a calibrated probability, so one threshold
   means the same for every query (:mod:`index.scoring`); the photometric agreement decides whether a
   match is a ``copy`` of the reference photo or a ``product`` match. When the best two are sibling
   packages aligned on their shared print, a colour contest where the two differ may reorder them.
   A photo the first scores leave below the threshold whose best candidates align with it has
   their sibling packages (:mod:`index.siblings`) verified and scored too: the descriptor ranks
   one brand's packages alike, and the right one may not have been among those it ranked first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from hallmark.errors import HallmarkError
from index.catalog import (
    REFERENCE_VIEWS,
    UNTILTED_VIEWS,
    VIEW_ID_OFFSET,
    Catalog,
    LoadedIndex,
    ReferenceInfo,
    reference_ids_of,
)
from index.faiss_store import IndexStamp, VectorIndex
from index.photo_workers import map_photos, single_threaded_kernels, worker_count
from index.reference_features import ReferenceFeatures
from index.scoring import (
    CONTEST_MIN_INLIERS,
    Evidence,
    ScoreModel,
    default_score_model,
    set_relative_evidence,
)
from index.siblings import Siblings
from models.regions import REGIONS
from vision.decode import DecodedImage
from vision.geometry import (
    FORESHORTENINGS,
    LocalFeatures,
    Verification,
    add_view_matches,
    colour_copy,
    extract_features,
    fit_alignment,
    listing_footprint,
    match_features,
    reference_footprint,
    verify,
)
from vision.photometric import (
    ColourContest,
    agreement,
    agreement_quartiles,
    colour_contest,
    colour_difference,
)

Verdict = Literal["copy", "product", "none"]
MatchKind = Literal["copy", "product"]

#: Index vectors retrieved per query region before grouping by product: enough that the shortlist's
#: distinct products remain when a catalog holds several photos per product, each with its views.
CANDIDATES_PER_QUERY = 64
#: The views of a reference (see :func:`index.catalog.view_ids`) a listing's whole frame is compared
#: with: the photo and its blurred copy. Its tilted views are compared with the listing's regions
#: only: a package photographed at an angle fills part of the frame (a hand, a shelf), while a
#: listing that fills its frame with a reference photo shows it upright, and every reference's tilted
#: views competing for the whole frame only added chances for an unrelated photo to come closest
#: (it cost two heavily blurred copies their source on the held-out half).
WHOLE_FRAME_VIEWS = UNTILTED_VIEWS
#: Below this many inliers an alignment is too weak to compare pixels on, and a mirrored copy is
#: tried (an unmirrored copy almost always has many more).
MIN_ALIGNMENT_INLIERS = 12
#: Only the best few candidates are also tried mirrored: a mirrored copy keeps its global descriptor
#: (GeM is nearly flip-invariant), so its source ranks near the top. Third at worst on the development
#: sets since listings are described larger than references (two mirrored copies' sources ranked
#: third, and lost every inlier with two tries).
MIRRORED_CANDIDATES = 3
#: A listing aligned onto less than this share of a reference (a heavy crop of it) is verified again
#: against that part alone: described on its own, the part has several times the keypoints it has
#: among the whole photo's 500. The same the other way: a reference that lands on less than this
#: share of a listing (a copy shown small) is verified again from that part of the listing.
ZOOM_BELOW_SHARE = 0.4
#: The part is the photo's outline in the other, widened by this share of its size each side.
ZOOM_MARGIN = 0.1
#: Parts smaller than this (pixels per side) have too little to describe.
ZOOM_MIN_SIDE = 48
#: Fewest inliers whose homography is trusted to say where the listing lands.
ZOOM_MIN_INLIERS = 8
#: A copy shown small shows the whole reference, so its alignment from the listing's part covers
#: much of the reference (0.25-0.9 of it for the copies pasted small that ``bench`` scripts made); a
#: part alignment whose inliers cover less is a shared background (the same carpet under two
#: garments), which agrees pixel for pixel too, and is not kept.
ZOOM_MIN_SPREAD = 0.2
#: A reference photo that aligns with at least this many inliers is verified again with its
#: foreshortened views (:func:`vision.geometry.add_view_matches`), and the alignment with more inliers is
#: kept. Four inliers fit the homography's minimal sample and say nothing; from five on, the views
#: bring the right product of a shop photo its missing inliers about as often as from four, at half
#: the extra matching.
FORESHORTENED_MIN_INLIERS = 5
#: With ``report_contests`` (calibration), the candidates with the most inliers among which every
#: pair is contested.
REPORTED_CONTESTANTS = 8
#: Sibling packages verified per photo (of the anchors of
#: :meth:`index.scoring.ScoreModel.sibling_anchors`), the closest to the photo by descriptor
#: first: a few more alignments for the uncertain photos only.
SIBLINGS_ADDED = 3
#: Inlier pairs reported per match: enough to draw the evidence, few enough to keep answers small.
REPORTED_KEYPOINTS = 40
#: ``decided_by`` of a match scored by the decisive-copy rule
#: (:meth:`index.scoring.ScoreModel.is_decisive_copy`) above what the score trees gave it.
DECIDED_BY_COPY_RULE = "decisive copy: geometry and pixels"
#: ``decided_by`` of a match that took first place by winning its colour contest
#: (:func:`vision.photometric.colour_contest`).
DECIDED_BY_CONTEST = "colour contest: geometry and colours"


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
    confirmed_similarity: float = 0.0
    confirmed_photos: int = 0
    evidence: Evidence | None = None
    #: The reference features the listing was last aligned with and the homography onto them, for
    #: a colour contest; kept only for an alignment of the listing's own frame with at least
    #: :data:`index.scoring.CONTEST_MIN_INLIERS` inliers.
    alignment: tuple[LocalFeatures, np.ndarray] | None = None


@dataclass(frozen=True)
class _Scoring:
    model: ScoreModel
    threshold: float


@dataclass(frozen=True)
class _ConfirmedPhotos:
    """A catalog's confirmed listing photos as one index version has them: each product's photos by
    origin, the index split by origin (brand photos, confirmed photos), and the vectors of each
    product's photos once it is first shortlisted (:func:`_photos_of`)."""

    by_product: dict[int, tuple[list[ReferenceInfo], list[ReferenceInfo]]]
    brand_index: VectorIndex
    confirmed_index: VectorIndex
    vectors: dict[int, _ProductPhotos] = field(default_factory=dict)


@dataclass(frozen=True)
class _Prepared:
    """What :meth:`Matcher._prepare` computed for one index version."""

    stamp: IndexStamp
    scoring: _Scoring
    confirmed: _ConfirmedPhotos | None
    #: Sibling packages among the brand photos; None for a catalog with confirmed photos, whose
    #: candidates carry their confirmed photos' evidence, which a sibling added here would lack.
    siblings: Siblings | None


@dataclass(frozen=True)
class _ProductPhotos:
    """A product's reference photos by origin, with their index vectors (every photo's views, as
    :func:`index.catalog.view_ids` orders them: ``(REFERENCE_VIEWS * photos, dim)``)."""

    catalog: list[ReferenceInfo]
    catalog_vectors: np.ndarray
    confirmed: list[ReferenceInfo]
    confirmed_vectors: np.ndarray


class Matcher:
    """Scores listing photos against the catalog's reference photos.

    Args:
        catalog: The reference catalog.
        calibration: The scoring parameters (default: the shipped ``index/calibration.json``).
        threshold: Operating threshold on the score (default: the calibration's).
        workers: Threads verifying a batch's photos (default: the catalog's ``verify_threads``
            setting, where 0 means one per core).
        report_contests: For calibration: hold a colour contest between every two aligned
            candidates (of the :data:`REPORTED_CONTESTANTS` with the most inliers) and report each
            in both candidates' evidence, without reordering any.
        report_siblings: For calibration: verify the sibling packages (:mod:`index.siblings`) of
            every aligned candidate of every photo and report them with the candidates, so that
            which of them the matcher adds can be decided after scoring is fitted.
    """

    def __init__(
        self,
        catalog: Catalog,
        calibration: ScoreModel | None = None,
        threshold: float | None = None,
        workers: int | None = None,
        report_contests: bool = False,
        report_siblings: bool = False,
    ) -> None:
        self.catalog = catalog
        self.report_contests = report_contests
        self.report_siblings = report_siblings
        self.workers = worker_count(catalog.settings.verify_threads if workers is None else workers)
        self._given = (calibration, threshold)
        self.reference_features = ReferenceFeatures(catalog.home)
        self._prepared: _Prepared | None = None

    @property
    def calibration(self) -> ScoreModel:
        """The score model for the catalog as last loaded (see :meth:`_scoring_for`)."""
        return (self._prepared.scoring if self._prepared else self._scoring_for(False)).model

    @property
    def threshold(self) -> float:
        """The operating threshold for the catalog as last loaded."""
        return (self._prepared.scoring if self._prepared else self._scoring_for(False)).threshold

    def _scoring_for(self, confirmed_photos: bool) -> _Scoring:
        """The given score model and threshold, else the shipped ones for this kind of catalog.

        A catalog that holds confirmed listing photos is scored by the model fitted on such
        catalogs (:func:`index.scoring.default_score_model`); one of brand photos only by the model
        fitted on those, whose figures the confirmed photos would otherwise move.
        """
        model, threshold = self._given
        model = model or default_score_model(confirmed_photos)
        return _Scoring(model, model.threshold if threshold is None else threshold)

    def check(self, images: list[DecodedImage], top_k: int = 5) -> list[CheckResult]:
        """Checks decoded images in one batch; results in input order."""
        return self.match(self.embed(images), top_k)

    def embed(self, images: list[DecodedImage], one_thread: bool = False) -> EmbeddedBatch:
        """The first half of :meth:`check`: one network pass over the batch.

        It holds no lock and touches no catalog state, so a caller may embed the next batches on
        other threads while :meth:`match` verifies this one (see :func:`index.checking.check_paths`),
        each pass then on one core (``one_thread``).
        """
        _, regions = self.catalog.embedder.embed_with_regions(
            [image.pixels for image in images], one_thread=one_thread
        )
        return EmbeddedBatch(images, regions)

    def match(self, batch: EmbeddedBatch, top_k: int = 5) -> list[CheckResult]:
        """The second half of :meth:`check`: search, verification and scoring; input order.

        A batch's photos are verified in parallel, one per worker thread (see
        :mod:`index.photo_workers`); a lone photo uses the kernels' own threads instead.
        """
        loaded = self.catalog.load_index()
        # What this index version needs, held for the whole batch: a concurrent batch that loads a
        # changed catalog prepares its own.
        prepared = self._prepare(loaded)
        scoring, confirmed = prepared.scoring, prepared.confirmed
        images = batch.images
        if not images:
            return []
        workers = min(self.workers, len(images))
        with single_threaded_kernels() if workers > 1 else nullcontext():
            count, region_count, dim = batch.regions.shape
            queries = batch.regions.reshape(-1, dim)
            # With confirmed photos in the catalog, the brand photos are searched on their own: a
            # product's many shop photos would otherwise crowd other products' packshots out of the
            # top hits, and the packshot is what a listing is verified against.
            brand_index = loaded.index if confirmed is None else confirmed.brand_index
            similarities, ids = brand_index.search(queries, CANDIDATES_PER_QUERY)
            similarities = similarities.reshape(count, region_count, -1)
            ids = ids.reshape(count, region_count, -1)
            confirmed_hits = None
            if confirmed is not None:
                found = confirmed.confirmed_index.search(queries, CANDIDATES_PER_QUERY)
                confirmed_hits = (
                    found[0].reshape(count, region_count, -1),
                    found[1].reshape(count, region_count, -1),
                )

            def check_one(row: int) -> CheckResult:
                candidates = self._candidates(similarities[row], ids[row], loaded, top_k, scoring.model)
                if confirmed is not None and confirmed_hits is not None:
                    candidates = _with_confirmed(
                        confirmed,
                        candidates,
                        (confirmed_hits[0][row], confirmed_hits[1][row]),
                        loaded,
                        scoring.model.shortlist_size(top_k),
                        batch.regions[row],
                    )
                # Verification can lift a lower-ranked product above the top K, so the shortlist is
                # a little deeper; deeper still (up to the weak limit) when the usual candidates all
                # match weakly.
                usual = max(top_k, scoring.model.verify_limit)
                extended, listing = self._verify(images[row], candidates, scoring.model)
                kept = candidates if extended else candidates[:usual]
                if listing is not None and prepared.siblings is not None:
                    kept = kept + self._siblings(
                        listing,
                        images[row],
                        (kept, candidates),
                        batch.regions[row],
                        (loaded, prepared.siblings),
                        scoring,
                    )
                # Calibration keeps every sibling it verified.
                return self._result(kept, len(kept) if self.report_siblings else top_k, scoring, listing)

            return map_photos(check_one, range(count), workers)

    def _prepare(self, loaded: LoadedIndex) -> _Prepared:
        """What checking against this index version needs, computed once per version.

        The score model for the kind of catalog, the confirmed photos (if any) by product with the
        index split by origin, and every brand photo's local features (with its
        foreshortened views) and sibling packages when the cache holds them: index-load work (like
        reading the FAISS file), done once per index version before any photo is verified (by the
        first check, or ``check([])``), on the worker threads; larger catalogs fill the cache on
        demand.
        """
        prepared = self._prepared
        if prepared is not None and prepared.stamp == loaded.stamp:
            return prepared
        by_product: dict[int, tuple[list[ReferenceInfo], list[ReferenceInfo]]] = {}
        for reference in loaded.references.values():
            photos = by_product.setdefault(reference.product_id, ([], []))
            photos[1 if reference.confirmed else 0].append(reference)
        confirmed = None
        if any(confirmed_photos for _, confirmed_photos in by_product.values()):
            confirmed = _ConfirmedPhotos(by_product, *_split_by_origin(loaded))
        siblings = Siblings(loaded, loaded.index, self.reference_features) if confirmed is None else None
        # Confirmed photos are verified against only for a product with no photo of the brand's.
        verified = [reference for reference in loaded.references.values() if not reference.confirmed]
        if (2 + len(FORESHORTENINGS)) * len(verified) <= self.reference_features.capacity:

            def features_of(reference: ReferenceInfo) -> None:
                try:
                    self.reference_features.get(reference)
                    self.reference_features.get(reference, mirrored=True)
                    self.reference_features.foreshortened(reference)
                except HallmarkError:
                    pass  # reported when the reference is a candidate

            workers = min(self.workers, len(verified))
            with single_threaded_kernels() if workers > 1 else nullcontext():
                map_photos(features_of, verified, workers)
                if siblings is not None:  # every photo's features are there now
                    map_photos(siblings.of, verified, workers)
        prepared = _Prepared(loaded.stamp, self._scoring_for(confirmed is not None), confirmed, siblings)
        self._prepared = prepared
        return prepared

    def _candidates(
        self,
        similarities: np.ndarray,
        ids: np.ndarray,
        loaded: LoadedIndex,
        top_k: int,
        model: ScoreModel,
    ) -> list[_Candidate]:
        """The best brand photo per product by region similarity, the closest products first."""
        # A reference is as close as the nearest of its views (the photo, blurred, tilted), the whole
        # frame (region 0) as the nearer of its untilted ones. A reference outside the whole frame's
        # top list is at most that list's last, whichever view that was.
        whole_floor = float(similarities[0][-1])
        similarities, ids = _whole_frame_untilted(similarities, ids)
        reference_ids = reference_ids_of(ids)
        whole_frame: dict[int, float] = {}
        for similarity, reference_id in zip(similarities[0].tolist(), reference_ids[0].tolist(), strict=True):
            whole_frame.setdefault(reference_id, similarity)  # best first: the first hit is the best
        flat_similarities = similarities.ravel()
        flat_references = reference_ids.ravel()
        wanted = model.shortlist_size(top_k)
        per_product: dict[int, _Candidate] = {}
        per_region = similarities.shape[1]
        for hit in _best_hits(similarities, ids).tolist():
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
        return list(per_product.values())

    def _verify(
        self, image: DecodedImage, candidates: list[_Candidate], model: ScoreModel
    ) -> tuple[bool, _Listing | None]:
        """Gives every candidate its evidence; returns whether the weak-match extension ran, and the
        listing's features when any candidate was verified."""
        if not candidates:
            return False, None
        gate = VerificationGate.of(
            model,
            [candidate.region_similarity for candidate in candidates],
            [candidate.confirmed_similarity for candidate in candidates if candidate.confirmed_photos],
        )
        for candidate in candidates:
            candidate.evidence = _embedding_evidence(candidate, image)
        query = (
            _Listing(image.pixels, extract_features(image.pixels, colour=False))
            if any(gate.passes(candidate) for candidate in candidates)
            else None
        )
        strongest = self._verify_range(query, candidates[: model.verify_limit], gate, model)
        if strongest is None or strongest >= model.weak_inliers:
            return False, query  # a copy, or a match strong enough that deeper candidates rarely win
        if model.verify_limit_weak <= model.verify_limit:
            return False, query
        self._verify_range(query, candidates[: model.verify_limit_weak], gate, model)
        return True, query

    def _verify_range(
        self,
        query: _Listing | None,
        candidates: list[_Candidate],
        gate: VerificationGate,
        model: ScoreModel,
    ) -> int | None:
        """Verifies the not yet verified candidates past the gate; the most inliers, None at a copy."""
        strongest = 0
        if query is None:  # even the best candidate is below the gate
            return strongest
        for position, candidate in enumerate(candidates):
            assert candidate.evidence is not None
            if candidate.evidence.verified or not gate.passes(candidate):
                strongest = max(strongest, candidate.evidence.inliers)
                continue
            try:
                candidate.evidence = self._geometric_evidence(
                    query,
                    candidate,
                    candidate.evidence,
                    try_mirrored=position < MIRRORED_CANDIDATES,
                    copy_agreement=model.copy_agreement,
                )
            except HallmarkError:
                continue  # a reference photo missing from the data directory: embedding evidence only
            if model.is_copy(candidate.evidence):
                return None  # the listing reuses this photo; no other candidate can explain it better
            strongest = max(strongest, candidate.evidence.inliers)
        return strongest

    def _siblings(
        self,
        listing: _Listing,
        image: DecodedImage,
        candidates: tuple[list[_Candidate], list[_Candidate]],
        regions: np.ndarray,
        catalog: tuple[LoadedIndex, Siblings],
        scoring: _Scoring,
    ) -> list[_Candidate]:
        """The sibling packages of the photo's best aligned candidates that were not verified,
        verified: for a photo the score model leaves below its threshold, at most
        :data:`SIBLINGS_ADDED` siblings of the anchors
        :meth:`index.scoring.ScoreModel.sibling_anchors` gives; with ``report_siblings``
        (calibration), every sibling of every aligned candidate. A sibling among
        the kept candidates that the gates turned away is verified where it stands; the others are
        returned, to be added. One whose stored photo went missing is left out.

        Args:
            listing: The listing photo's features.
            image: The listing photo.
            candidates: The kept candidates (verified as far as the gates allow) and the search's
                whole shortlist they begin.
            regions: The listing's region descriptors.
            catalog: The index version and its siblings.
            scoring: The score model and threshold.
        """
        (kept, shortlist), (loaded, siblings) = candidates, catalog
        model = scoring.model
        evidences = [candidate.evidence for candidate in kept if candidate.evidence is not None]
        set_relative_evidence(evidences)
        anchors = model.sibling_anchors(model.probabilities(evidences), evidences, every=self.report_siblings)
        if not anchors:
            return []
        limit = len(loaded.references) if self.report_siblings else SIBLINGS_ADDED
        verified = {
            candidate.reference.product_id
            for candidate in kept
            if candidate.evidence and candidate.evidence.verified
        }
        # Kept but not verified (turned away by the gates): verified where they stand.
        unverified: dict[int, tuple[int | None, _Candidate]] = {
            candidate.reference.product_id: (position, candidate)
            for position, candidate in enumerate(kept)
            if candidate.reference.product_id not in verified
        }
        beyond = {candidate.reference.product_id: candidate for candidate in shortlist[len(kept) :]}
        found: dict[int, tuple[_Candidate, str, int | None]] = {}
        for position in anchors:
            anchor = kept[position]
            for sibling in siblings.of(anchor.reference):
                if sibling.product_id in verified or sibling.product_id in found:
                    continue
                # A product the search shortlisted keeps its similarities; any other is compared
                # with the photo's regions here.
                where, candidate = unverified.get(sibling.product_id) or (
                    None,
                    beyond.get(sibling.product_id) or _closest_candidate(sibling, regions, loaded),
                )
                found[sibling.product_id] = (candidate, anchor.reference.sku, where)
        added: list[_Candidate] = []
        verifications = 0
        for candidate, anchor_sku, where in sorted(
            found.values(), key=lambda item: -item[0].region_similarity
        ):
            if verifications == limit:
                break
            evidence = replace(_embedding_evidence(candidate, image), sibling_of=anchor_sku)
            try:
                candidate.evidence = self._geometric_evidence(
                    listing,
                    candidate,
                    evidence,
                    try_mirrored=where is not None and where < MIRRORED_CANDIDATES,
                    copy_agreement=model.copy_agreement,
                )
            except HallmarkError:  # a reference photo missing from the data directory: left out
                continue
            verifications += 1
            if where is None:
                added.append(candidate)
        return added

    def siblings_of(self, reference: ReferenceInfo) -> tuple[ReferenceInfo, ...]:
        """The sibling packages of a brand photo in the catalog as last loaded (:mod:`index.siblings`);
        none in a catalog with confirmed photos, where none are added."""
        loaded = self.catalog.load_index()
        prepared = self._prepare(loaded)
        if prepared.siblings is None or reference.reference_id not in loaded.references:
            return ()
        return prepared.siblings.of(reference)

    def _geometric_evidence(
        self,
        listing: _Listing,
        candidate: _Candidate,
        evidence: Evidence,
        try_mirrored: bool,
        copy_agreement: float,
    ) -> Evidence:
        query = listing.features
        reference = self.reference_features.get(candidate.reference)
        matches = match_features(query, reference)
        found = fit_alignment(query, reference, matches)
        if try_mirrored and found.inliers < MIN_ALIGNMENT_INLIERS:
            mirrored = self.reference_features.get(candidate.reference, mirrored=True)
            flipped = verify(query, mirrored)
            if flipped.inliers > found.inliers:
                found, reference = flipped, mirrored
        if not found.mirrored and found.inliers >= FORESHORTENED_MIN_INLIERS:
            views = self.reference_features.foreshortened(candidate.reference)
            turned = fit_alignment(query, reference, add_view_matches(query, reference, matches, views))
            if turned.inliers > found.inliers:
                found = turned
        if not found.mirrored and found.homography is not None and found.inliers >= ZOOM_MIN_INLIERS:
            found, reference = self._zoomed(query, candidate, reference, found)
            found, query = _zoomed_listing(listing, reference, found, copy_agreement)
        # The listing's own frame, not a part of it zoomed into (whose features the colour copy
        # below does not replace).
        own_frame = query is listing.features
        evidence.verified = True
        evidence.matches = found.matches
        evidence.inliers = found.inliers
        evidence.inlier_ratio = round(found.inlier_ratio, 4)
        evidence.spread = round(found.spread, 4)
        evidence.mirrored = found.mirrored
        if found.homography is not None and found.inliers >= MIN_ALIGNMENT_INLIERS:
            median, lower_quartile = agreement_quartiles(query, reference, found.homography)
            evidence.agreement = round(median, 4)
            evidence.agreement_low = round(lower_quartile, 4)
            coloured = listing.coloured() if own_frame else query
            difference = colour_difference(coloured, reference, found.homography)
            evidence.colour_difference = None if difference is None else round(difference, 2)
        if own_frame and found.homography is not None and found.inliers >= CONTEST_MIN_INLIERS:
            candidate.alignment = (reference, found.homography)
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
        box = _zoom_part(footprint, reference.width, reference.height)
        if box is None:
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

    def _result(
        self, candidates: list[_Candidate], top_k: int, scoring: _Scoring, listing: _Listing | None
    ) -> CheckResult:
        model = scoring.model
        evidences = [candidate.evidence for candidate in candidates if candidate.evidence is not None]
        assert len(evidences) == len(candidates)  # _verify gives every candidate its evidence
        set_relative_evidence(evidences)
        matches = []
        by_trees = model.tree_probabilities(evidences)
        by_rules = model.with_decisive_copies(by_trees, evidences)
        scores = by_rules
        if listing is not None:
            if self.report_contests:
                _report_every_contest(listing, candidates)
            else:
                scores = _after_contest(listing, candidates, evidences, by_rules, model)
        for candidate, evidence, score, tree_score, rule_score in zip(
            candidates, evidences, scores.tolist(), by_trees.tolist(), by_rules.tolist(), strict=True
        ):
            kind: MatchKind = "copy" if model.is_copy(evidence) else "product"
            payload = _evidence_json(evidence)
            if score > rule_score:
                payload["decided_by"] = DECIDED_BY_CONTEST
            elif rule_score > tree_score:
                payload["decided_by"] = DECIDED_BY_COPY_RULE
            matches.append(
                Match(
                    sku=candidate.reference.sku,
                    name=candidate.reference.name,
                    score=round(score, 4),
                    kind=kind,
                    reference=candidate.reference,
                    evidence=payload,
                )
            )
        matches.sort(key=lambda match: match.score, reverse=True)
        matches = matches[:top_k]
        if matches and matches[0].score >= scoring.threshold:
            return CheckResult(verdict=matches[0].kind, score=matches[0].score, matches=matches)
        return CheckResult(verdict="none", score=matches[0].score if matches else 0.0, matches=matches)


def _record(first: _Candidate, second: _Candidate, contest: ColourContest, overturned: bool) -> None:
    """Adds a colour contest to both contestants' evidence."""
    for own, rival, distance, rival_distance in (
        (first, second, contest.first_distance, contest.second_distance),
        (second, first, contest.second_distance, contest.first_distance),
    ):
        assert own.evidence is not None
        record = {
            "rival": rival.reference.sku,
            "pixels": contest.pixels,
            "distance": distance,
            "rival_distance": rival_distance,
            "overturned": overturned,
        }
        own.evidence.colour_contests = [*(own.evidence.colour_contests or []), record]


def _report_every_contest(listing: _Listing, candidates: list[_Candidate]) -> None:
    """Contests every two aligned candidates among those with the most inliers (see
    ``Matcher(report_contests=True)``); scores stay as they are."""
    aligned = [candidate for candidate in candidates if candidate.alignment is not None]
    aligned.sort(key=lambda candidate: -(candidate.evidence.inliers if candidate.evidence else 0))
    contestants = aligned[:REPORTED_CONTESTANTS]
    for position, first in enumerate(contestants):
        for second in contestants[position + 1 :]:
            assert first.alignment is not None and second.alignment is not None
            contest = colour_contest(listing.coloured(), first.alignment, second.alignment)
            if contest is not None:
                _record(first, second, contest, overturned=False)


def _after_contest(
    listing: _Listing,
    candidates: list[_Candidate],
    evidences: list[Evidence],
    scores: np.ndarray,
    model: ScoreModel,
) -> np.ndarray:
    """``scores`` after the model's colour contest (:meth:`index.scoring.ScoreModel.after_contest`),
    held between the two candidates' alignments and recorded in both evidences."""

    def hold(first_position: int, second_position: int) -> float | None:
        first, second = candidates[first_position], candidates[second_position]
        if first.alignment is None or second.alignment is None:
            return None
        contest = colour_contest(listing.coloured(), first.alignment, second.alignment)
        if contest is None:
            return None
        _record(first, second, contest, model.overturns(contest.second_closer_by))
        return contest.second_closer_by

    return model.after_contest(scores, evidences, hold)


def _zoom_part(
    footprint: tuple[tuple[int, int, int, int], float] | None, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """The part of a ``width`` x ``height`` photo to describe again for a zoom, from where the other
    photo lands in it (a footprint of :mod:`vision.geometry`): its box widened by
    :data:`ZOOM_MARGIN` each side. None when there is no footprint, when it covers at least
    :data:`ZOOM_BELOW_SHARE` of the photo (nothing to zoom into), or when the part is too small to
    describe (:data:`ZOOM_MIN_SIDE`)."""
    if footprint is None or footprint[1] >= ZOOM_BELOW_SHARE:
        return None
    (left, top, right, bottom), _ = footprint
    margin_x, margin_y = round((right - left) * ZOOM_MARGIN), round((bottom - top) * ZOOM_MARGIN)
    widened = (
        max(0, left - margin_x),
        max(0, top - margin_y),
        min(width, right + margin_x),
        min(height, bottom + margin_y),
    )
    if min(widened[2] - widened[0], widened[3] - widened[1]) < ZOOM_MIN_SIDE:
        return None
    return widened


def _zoomed_listing(
    listing: _Listing, reference: LocalFeatures, found: Verification, copy_agreement: float
) -> tuple[Verification, LocalFeatures]:
    """The alignment again from the part of the listing the reference lands on, if that part is
    small and its pixels agree with the reference's as a copy's do.

    A copy shown small (in a collage, on a page, pasted onto another photo) fills only part of
    the listing, which holds only a few of the listing's 500 keypoints, so it aligns with few
    inliers however exact the alignment; described on its own, the part has several times as
    many. Only copy-like alignments pay for the second description: a product on a shelf also
    fills part of the frame, but its pixels do not agree with its packshot's that closely.

    Returns:
        The better of the two verifications, with the listing features it was made from: the
        part's (its ``gray`` is what the homography maps; its positions are shifted back to the
        listing photo's pixels in the verification, for the reported keypoints) or the whole
        listing's.
    """
    query = listing.features
    if found.homography is None:
        return found, query
    box = _zoom_part(reference_footprint(query, reference, found.homography), query.width, query.height)
    if box is None or agreement(query, reference, found.homography) < copy_agreement:
        return found, query
    left, top, right, bottom = box
    part = extract_features(np.ascontiguousarray(listing.pixels[top:bottom, left:right]))
    again = verify(part, reference)
    if again.inliers <= found.inliers or again.spread < ZOOM_MIN_SPREAD:
        return found, query
    offset = np.array([left, top], dtype=again.query_points.dtype)
    return replace(again, query_points=again.query_points + offset), part


def _with_confirmed(
    confirmed: _ConfirmedPhotos,
    shortlist: list[_Candidate],
    confirmed_hits: tuple[np.ndarray, np.ndarray],
    loaded: LoadedIndex,
    wanted: int,
    regions: np.ndarray,
) -> list[_Candidate]:
    """The shortlist of a catalog that holds confirmed listing photos.

    The products whose brand photos are closest (``shortlist``) and those whose confirmed photos
    are closest, in the order of :func:`verification_order`; each gets the similarity of its
    closest confirmed photo, computed exactly from the stored vectors, and a product found
    through its confirmed photos alone gets its closest brand photo the same way (or, with
    none, its closest confirmed photo as the reference to verify against).
    """
    chosen = {candidate.reference.product_id: candidate for candidate in shortlist}
    found_by_confirmed: list[_ProductPhotos] = []
    hit_references = reference_ids_of(confirmed_hits[1]).ravel()
    for hit in _best_hits(*_whole_frame_untilted(*confirmed_hits)).tolist():
        reference = loaded.references.get(int(hit_references[hit]))
        if reference is None or reference.product_id in chosen:
            continue
        photos = _photos_of(confirmed, reference.product_id, loaded)
        chosen[reference.product_id] = _Candidate(reference, 0.0, 0.0, 0)  # filled in below
        found_by_confirmed.append(photos)
        if len(chosen) == 2 * wanted:
            break
    candidates = list(chosen.values())
    with_confirmed = [
        (candidate, photos)
        for candidate in candidates
        if (photos := _photos_of(confirmed, candidate.reference.product_id, loaded)).confirmed
    ]
    # A product found through its confirmed photos is verified against its closest brand photo (or,
    # with none, its closest confirmed photo). All comparisons in one matrix product.
    closest = _closest_photos(
        regions,
        [
            (photos.catalog, photos.catalog_vectors)
            if photos.catalog
            else (photos.confirmed, photos.confirmed_vectors)
            for photos in found_by_confirmed
        ]
        + [(photos.confirmed, photos.confirmed_vectors) for _, photos in with_confirmed],
    )
    added = candidates[len(shortlist) :]
    for candidate, (reference, region_similarity, region, whole) in zip(
        added, closest[: len(added)], strict=True
    ):
        candidate.reference, candidate.similarity = reference, whole
        candidate.region_similarity, candidate.region = region_similarity, region
    for (candidate, photos), (_, similarity, _, _) in zip(with_confirmed, closest[len(added) :], strict=True):
        candidate.confirmed_similarity = round(similarity, 4)
        candidate.confirmed_photos = len(photos.confirmed)
    order = verification_order(
        [candidate.region_similarity for candidate in candidates],
        [_confirmed_or_none(candidate) for candidate in candidates],
    )
    return [candidates[position] for position in order[:wanted]]


def _photos_of(confirmed_photos: _ConfirmedPhotos, product_id: int, loaded: LoadedIndex) -> _ProductPhotos:
    """A product's photos by origin with their vectors (kept with the index version)."""
    found = confirmed_photos.vectors.get(product_id)
    if found is not None:
        return found
    catalog, confirmed = confirmed_photos.by_product[product_id]

    def vectors(photos: list[ReferenceInfo]) -> np.ndarray:
        return loaded.view_vectors(np.array([photo.reference_id for photo in photos], dtype=np.int64))

    found = _ProductPhotos(catalog, vectors(catalog), confirmed, vectors(confirmed))
    # Worker threads may both fill one product: the same value, so the race is harmless.
    confirmed_photos.vectors[product_id] = found
    return found


@dataclass(frozen=True)
class VerificationGate:
    """Which candidates of a listing photo are close enough to verify.

    A candidate is verified when its brand photo is within ``verify_margin`` of the photo's closest
    brand photo (and above ``verify_similarity``), or its closest confirmed listing photo is within
    the margin of the closest confirmed photo of any candidate: each kind of photo is compared with
    its own kind, as shop photos sit much closer to shop photos than packshots do.
    """

    brand: float
    confirmed: float

    @classmethod
    def of(cls, model: ScoreModel, brand: Sequence[float], confirmed: Sequence[float]) -> VerificationGate:
        """The gate for candidates with these brand-photo and (where any) confirmed similarities."""
        floor = model.verify_similarity

        def gate(similarities: Sequence[float]) -> float:
            return max(floor, max(similarities) - model.verify_margin) if similarities else math.inf

        return cls(gate(brand), gate(confirmed))

    def admits(self, brand: float, confirmed: float | None) -> bool:
        """Whether a candidate with these similarities (None: no confirmed photo) is verified."""
        return brand >= self.brand or (confirmed is not None and confirmed >= self.confirmed)

    def passes(self, candidate: _Candidate) -> bool:
        return self.admits(candidate.region_similarity, _confirmed_or_none(candidate))


def _confirmed_or_none(candidate: _Candidate) -> float | None:
    """A candidate's confirmed-photo similarity, None when its product has no confirmed photo."""
    return candidate.confirmed_similarity if candidate.confirmed_photos else None


def verification_order(brand: Sequence[float], confirmed: Sequence[float | None]) -> list[int]:
    """The order in which a photo's candidates are verified (and cut to the shortlist), as indices.

    Each candidate counts by the better of its rank by brand-photo similarity and its rank by
    confirmed-photo similarity (candidates without confirmed photos by the first alone), ties by
    the first: the closest products of each kind come first, neither kind crowding out the other.
    """
    by_brand = sorted(range(len(brand)), key=lambda position: -brand[position])
    brand_rank = {position: rank for rank, position in enumerate(by_brand)}
    with_confirmed = [position for position in range(len(confirmed)) if confirmed[position] is not None]
    by_confirmed = sorted(with_confirmed, key=lambda position: -(confirmed[position] or 0.0))
    confirmed_rank = {position: rank for rank, position in enumerate(by_confirmed)}
    return sorted(
        range(len(brand)),
        key=lambda position: (
            min(brand_rank[position], confirmed_rank.get(position, brand_rank[position])),
            brand_rank[position],
        ),
    )


def _split_by_origin(loaded: LoadedIndex) -> tuple[VectorIndex, VectorIndex]:
    """The catalog's index as two: the brand photos' vectors and the confirmed photos'."""
    parts = []
    for confirmed in (False, True):
        ids = np.array(
            [ref.reference_id for ref in loaded.references.values() if ref.confirmed == confirmed], np.int64
        )
        views = loaded.indexed_view_ids(ids)
        part = VectorIndex(loaded.index.dim)
        part.add(views, loaded.index.vectors(views))
        parts.append(part)
    return parts[0], parts[1]


def _whole_frame_untilted(similarities: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A photo's region hits ``(regions, k)`` without the whole frame's (region 0) hits on tilted
    views (see :data:`WHOLE_FRAME_VIEWS`): those get similarity -inf and id -1, FAISS's "no result"."""
    tilted = ids[0] >= WHOLE_FRAME_VIEWS * VIEW_ID_OFFSET
    if not tilted.any():
        return similarities, ids
    similarities, ids = similarities.copy(), ids.copy()
    similarities[0, tilted] = -np.inf
    ids[0, tilted] = -1
    return similarities, ids


def _best_hits(similarities: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions in a photo's flattened region hits of each reference photo's best hit, closest
    first: all hits best first (stable, so ties keep the lower region), then each reference's first.
    A reference is as close as the nearest of its views (the photo, blurred, tilted)."""
    order = np.argsort(-similarities.ravel(), kind="stable")
    order = order[ids.ravel()[order] >= 0]
    _, first = np.unique(reference_ids_of(ids).ravel()[order], return_index=True)
    return order[np.sort(first)]


def _closest_photos(
    regions: np.ndarray, groups: list[tuple[list[ReferenceInfo], np.ndarray]]
) -> list[tuple[ReferenceInfo, float, int, float]]:
    """For each group of photos with their vectors (see :class:`_ProductPhotos`), the photo closest
    to any region of the listing (a photo is as close as the nearest of its views), with that
    similarity, the region, and the photo's whole-frame (region 0) similarity."""
    if not groups:
        return []
    similarities = regions @ np.concatenate([vectors for _, vectors in groups]).T
    closest = []
    start = 0
    for photos, vectors in groups:
        block = similarities[:, start : start + len(vectors)]
        start += len(vectors)
        count = len(photos)
        views = block.reshape(len(block), REFERENCE_VIEWS, count)
        per_photo = views.max(axis=1)
        per_photo[0] = views[0, :WHOLE_FRAME_VIEWS].max(axis=0)  # the whole frame: untilted views
        # Row-major argmax: on ties the lower region, as the index's hits give it.
        region, column = np.unravel_index(int(np.argmax(per_photo)), per_photo.shape)
        closest.append(
            (photos[column], float(per_photo[region, column]), int(region), float(per_photo[0, column]))
        )
    return closest


def _closest_candidate(reference: ReferenceInfo, regions: np.ndarray, loaded: LoadedIndex) -> _Candidate:
    """A candidate for a photo the search did not shortlist, with its similarities to the listing's
    regions computed from its stored vectors."""
    vectors = loaded.view_vectors(np.array([reference.reference_id], dtype=np.int64))
    ((_, region_similarity, region, whole),) = _closest_photos(regions, [([reference], vectors)])
    return _Candidate(reference, whole, region_similarity, region)


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
        confirmed_reference=candidate.reference.confirmed,
        confirmed_similarity=candidate.confirmed_similarity,
        confirmed_photos=candidate.confirmed_photos,
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
    for reported_only_when_made in ("keypoints", "colour_contests", "sibling_of"):
        if payload[reported_only_when_made] is None:
            del payload[reported_only_when_made]
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
