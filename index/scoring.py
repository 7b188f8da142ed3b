"""From a candidate's evidence to one calibrated score, and from the evidence to its kind.

The score is the probability that the candidate is a true match (the listing reuses the reference
photo, or shows its product), from gradient-boosted trees over the evidence the matcher gathers:
embedding similarity of the whole frame and of its best region, and, when the candidate was
verified, the tentative matches, geometric inliers, their ratio and spread, the lead over the other
candidates and the photometric agreement after alignment. The trees are fitted with monotonic
constraints (:data:`MONOTONIC`), so more inliers or a closer embedding never lower a score. The
trees and the operating threshold are fitted by ``bench/calibrate.py`` on one half of the development
queries and distractors and shipped as ``index/calibration.json``; the other half measures them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CALIBRATION_FILE",
    "CONFIRMED_CALIBRATION_FILE",
    "CONTEST_MIN_INLIERS",
    "SIBLING_ANCHORS",
    "SIBLING_ANCHOR_MIN_INLIERS",
    "DECISIVE_AGREEMENT",
    "DECISIVE_INLIERS",
    "DECISIVE_LOW_AGREEMENT",
    "DECISIVE_SPREAD",
    "FEATURES",
    "MONOTONIC",
    "UNMEASURED_COLOUR",
    "BoostedTrees",
    "Evidence",
    "ScoreModel",
    "default_score_model",
    "feature_vector",
    "set_relative_evidence",
]

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
#: The score model for catalogs that also hold listing photos reviewers confirmed: fitted on
#: catalogs with and without them (see ``bench/calibrate.py``).
CONFIRMED_CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration-confirmed.json"

#: The inputs of the score model, in order (see :func:`feature_vector`).
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
    "verified",
    "matches",
    "region_gap",
    "region_rank",
    "whole_gap",
    "colour_difference",
    "colour_excess",
    "confirmed_similarity",
    "confirmed_gap",
    "log_confirmed_photos",
)
#: The ``colour_difference`` input of a candidate whose colours were not compared (not aligned):
#: a difference larger than any shop photo of the right package showed in the development sets
#: (at most 80; median 34), so that a missing comparison never counts for a match the way a
#: matching colour does.
UNMEASURED_COLOUR = 100.0
#: How each input may move the score, as constraints of the fit: 1 never lowers it, -1 never raises
#: it, 0 either way. The closer embedding, the more inliers, the copy evidence and the lead over
#: other candidates only ever count for a match, and standing behind the photo's closest candidate
#: only against it, as do colours further from the listing's, absolutely or than another
#: candidate's; the rest (ratios, coverage, the whole frame beside its best region) may count either
#: way, as a shared background or a lone logo shows.
#: A closer confirmed listing photo of the product only counts for it, and standing behind another
#: candidate's only against it; how many confirmed photos the product has says how far to trust that.
MONOTONIC = (0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, -1, -1, -1, -1, -1, 1, -1, 0)
#: A *decisive copy*: the aligned pixels agree as only the same photo's do, at a median block
#: correlation of at least :data:`DECISIVE_AGREEMENT` with three quarters of the blocks at least
#: :data:`DECISIVE_LOW_AGREEMENT` (a garment laid on the same floor as a reference's agrees on the
#: floor, up to a median of 0.92 in the development distractors, but not where the garments lie:
#: lower quartiles 0.0-0.28), over at least twice the inliers a copy needs, covering at least a fifth
#: of the reference (a copy shown small or cropped hard still covers that much). The score trees
#: learn copies from the development edits, whose embeddings stay close to their source; a copy
#: pasted small on a page or cropped hard is further from it in the embedding than any of them, and
#: trees do not extrapolate: they scored such copies 0.6-0.81 (``BENCHMARKS.md``, tenth session). A
#: decisive copy is scored at least :attr:`ScoreModel.decisive_copy_score`, a lower bound of the
#: rule's precision on the calibration half.
DECISIVE_AGREEMENT = 0.95
DECISIVE_LOW_AGREEMENT = 0.8
DECISIVE_INLIERS = 24
DECISIVE_SPREAD = 0.2
#: Fewest inliers each of two candidates needs for a colour contest between them
#: (:meth:`ScoreModel.contested_pair`): a weaker homography puts the colours in the wrong places.
CONTEST_MIN_INLIERS = 6
#: A photo the score model leaves below its threshold has the sibling packages
#: (:mod:`index.siblings`) of its best few candidates by score verified ...
SIBLING_ANCHORS = 2
#: ... those aligned with as many inliers as a colour contest needs (and not copies).
SIBLING_ANCHOR_MIN_INLIERS = CONTEST_MIN_INLIERS


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
        agreement_low: Their lower quartile: near the median for a copy, which agrees nearly
            everywhere, far below it for a shared background, which agrees only around the
            garments (a reported input of the decisive-copy rule, not of the score trees).
        inlier_margin: ``log(1 + inliers)`` minus the largest ``log(1 + inliers)`` among the same
            listing photo's other candidates (see :func:`set_relative_evidence`).
        region_gap: The best region similarity among the photo's candidates minus this one's.
        whole_gap: The same for the whole-frame similarity.
        region_rank: Candidates of the photo with a higher region similarity (0 for the closest).
        colour_difference: How far the listing's colours are from the aligned reference's (90th
            percentile of the a*b* distance, :func:`vision.photometric.colour_difference`); None
            when not aligned.
        colour_excess: This candidate's colour difference minus the smallest among the photo's
            candidates (0 for the best in colour, and when not measured).
        confirmed_reference: The reference is a listing photo a reviewer confirmed (origin
            ``confirmed``), not the brand's photography: a shop photo shares shelves, hands and
            light with other shop photos. Only for a product with no photo of the brand's own;
            reported, not a score input (no product of the calibration catalogs lacks a packshot,
            so the fit could learn nothing from it).
        confirmed_similarity: Best region similarity of the listing to the product's confirmed
            listing photos (0 when it has none): a person's photo of the product is much closer to
            the next such photo than the packshot is.
        confirmed_gap: The best confirmed similarity among the photo's candidates minus this one's
            (0 for a product with no confirmed photo: nothing measured, as for colour).
        confirmed_photos: How many confirmed listing photos the product has: with one or two, the
            closest of them depends on the shop it was taken in more than on the product.
        keypoints: Inlier pairs ``[x_listing, y_listing, x_reference, y_reference]``, pixels.
        colour_contests: The colour contests this candidate took part in
            (:func:`vision.photometric.colour_contest`), each as ``{"rival": sku, "pixels": n,
            "distance": d, "rival_distance": d, "overturned": bool}``: the listing's a*b* distance
            to this reference and to the rival's where the two differ, and whether the contest
            reordered them. Reported, not a score input; None when there was none.
        sibling_of: The SKU of the candidate whose sibling package this one is, when it was
            verified as one (:mod:`index.siblings`) rather than found by its descriptor alone.
            Reported, not a score input; None for the candidates the descriptor found.
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
    agreement_low: float = 0.0
    inlier_margin: float = 0.0
    region_gap: float = 0.0
    whole_gap: float = 0.0
    region_rank: int = 0
    colour_difference: float | None = None
    colour_excess: float = 0.0
    confirmed_reference: bool = False
    confirmed_similarity: float = 0.0
    confirmed_gap: float = 0.0
    confirmed_photos: int = 0
    keypoints: list[list[float]] | None = None
    colour_contests: list[dict[str, Any]] | None = None
    sibling_of: str | None = None


def set_relative_evidence(evidences: Sequence[Evidence]) -> None:
    """Sets what each candidate's evidence says relative to the same listing photo's other candidates.

    :attr:`Evidence.inlier_margin`: a packshot's logo and brand print match every sibling package of
    the brand, so the absolute inlier count of a product photo says less than how far it stands
    above the next product's. Unverified candidates count with 0 inliers, as the matcher knows
    nothing better about them.

    :attr:`Evidence.region_gap`, :attr:`Evidence.whole_gap` and :attr:`Evidence.region_rank`: how
    far the candidate's embedding stands behind the photo's closest candidate; a sibling verified
    with a few more inliers but far behind in the embedding is less likely the product shown.

    :attr:`Evidence.colour_excess`: how much further this candidate's colours are from the
    listing's than the closest-coloured candidate's; sibling packages align equally well but only
    one has the colours shown. Comparing within the photo cancels the shop's light.

    :attr:`Evidence.confirmed_gap`: how far the candidate's closest confirmed listing photo stands
    behind the closest of any candidate.
    """
    logs = [math.log1p(evidence.inliers) for evidence in evidences]
    best_region = max((evidence.region_similarity for evidence in evidences), default=0.0)
    best_whole = max((evidence.similarity for evidence in evidences), default=0.0)
    measured = [e.colour_difference for e in evidences if e.colour_difference is not None]
    best_colour = min(measured, default=0.0)
    best_confirmed = max((evidence.confirmed_similarity for evidence in evidences), default=0.0)
    for position, evidence in enumerate(evidences):
        others = logs[:position] + logs[position + 1 :]
        evidence.inlier_margin = round(logs[position] - max(others, default=0.0), 4)
        evidence.region_gap = round(best_region - evidence.region_similarity, 4)
        evidence.whole_gap = round(best_whole - evidence.similarity, 4)
        evidence.region_rank = sum(
            other.region_similarity > evidence.region_similarity for other in evidences
        )
        difference = evidence.colour_difference
        evidence.colour_excess = 0.0 if difference is None else round(difference - best_colour, 2)
        evidence.confirmed_gap = (
            round(best_confirmed - evidence.confirmed_similarity, 4) if evidence.confirmed_photos else 0.0
        )


def feature_vector(evidence: Evidence, copy_agreement: float = 1.0) -> np.ndarray:
    """The score model's inputs for one candidate, in the order of :data:`FEATURES`.

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
            float(evidence.verified),
            float(evidence.matches),
            evidence.region_gap,
            float(evidence.region_rank),
            evidence.whole_gap,
            UNMEASURED_COLOUR if evidence.colour_difference is None else evidence.colour_difference,
            evidence.colour_excess,
            evidence.confirmed_similarity,
            evidence.confirmed_gap,
            math.log1p(evidence.confirmed_photos),
        ],
        dtype=np.float64,
    )


# eq=False: the node arrays make field-wise equality ambiguous and hashing impossible; trees
# compare by identity, so a ScoreModel holding them stays hashable and comparable.
@dataclass(frozen=True, eq=False)
class BoostedTrees:
    """Gradient-boosted regression trees for a log-odds, all trees in one flat node table.

    A node with ``feature`` -1 is a leaf; otherwise an input at most ``threshold`` goes to ``left``,
    a larger one to ``right``. The log-odds is ``baseline`` plus the ``value`` of the leaf each tree
    sends the input to.

    Attributes:
        baseline: The log-odds before any tree.
        roots: ``(trees,)`` the node each tree starts at.
        feature: ``(nodes,)`` input index tested at each node, -1 at leaves.
        threshold: ``(nodes,)`` split value.
        left: ``(nodes,)`` next node when the input is at most the threshold.
        right: ``(nodes,)`` next node otherwise.
        value: ``(nodes,)`` contribution of a leaf (0 elsewhere).
    """

    baseline: float
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    #: Splits on the longest path from a root to a leaf (computed once).
    depth: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        deepest, level = 0, self.roots
        while True:
            inner = level[self.feature[level] >= 0]
            if not len(inner):
                break
            deepest += 1
            level = np.concatenate([self.left[inner], self.right[inner]])
        object.__setattr__(self, "depth", deepest)  # a frozen dataclass sets derived fields so

    @classmethod
    def constant(cls, log_odds: float = 0.0) -> BoostedTrees:
        """One leaf: the same score for every candidate (used while collecting evidence)."""
        return cls.from_json({"baseline": log_odds, "trees": [[[-1, 0.0, -1, -1, 0.0]]]})

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> BoostedTrees:
        """Reads ``{"baseline": b, "trees": [[[feature, threshold, left, right, value], ...], ...]}``.

        Node indices inside a tree are local to it; they are offset into one table here. Children
        come after their parent (scikit-learn writes nodes depth first), which rules out cycles.

        Raises:
            ValueError: There are no trees, or a split points outside its tree or backwards.
        """
        roots: list[int] = []
        rows: list[tuple[int, float, int, int, float]] = []
        for tree in payload["trees"]:
            offset = len(rows)
            roots.append(offset)
            for index, (feature, threshold, left, right, value) in enumerate(tree):
                leaf = int(feature) < 0
                if not leaf and not (index < int(left) < len(tree) and index < int(right) < len(tree)):
                    raise ValueError(f"score tree {len(roots) - 1}: node {index} points outside its tree")
                rows.append(
                    (
                        int(feature),
                        float(threshold),
                        offset + (0 if leaf else int(left)),
                        offset + (0 if leaf else int(right)),
                        float(value),
                    )
                )
        if not roots:
            raise ValueError("the score model has no trees")
        table = np.array(rows, dtype=np.float64)
        return cls(
            baseline=float(payload["baseline"]),
            roots=np.array(roots, dtype=np.int64),
            feature=table[:, 0].astype(np.int64),
            threshold=table[:, 1],
            left=table[:, 2].astype(np.int64),
            right=table[:, 3].astype(np.int64),
            value=table[:, 4],
        )

    def to_json(self) -> dict[str, Any]:
        """The inverse of :meth:`from_json` (tree-local node indices)."""
        ends = list(self.roots[1:]) + [len(self.feature)]
        trees = []
        for start, end in zip(self.roots.tolist(), ends, strict=True):
            nodes = []
            for node in range(start, end):
                leaf = self.feature[node] < 0
                nodes.append(
                    [
                        int(self.feature[node]),
                        0.0 if leaf else float(self.threshold[node]),
                        -1 if leaf else int(self.left[node]) - start,
                        -1 if leaf else int(self.right[node]) - start,
                        round(float(self.value[node]), 8) if leaf else 0.0,
                    ]
                )
            trees.append(nodes)
        return {"baseline": round(self.baseline, 8), "trees": trees}

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """Log-odds of ``(n, inputs)`` feature rows, every tree at once (one step per level)."""
        rows = np.arange(len(features))[:, None]
        node = np.tile(self.roots, (len(features), 1))
        for _ in range(self.depth):
            tested = self.feature[node]
            leaf = tested < 0
            goes_left = features[rows, np.where(leaf, 0, tested)] <= self.threshold[node]
            node = np.where(leaf, node, np.where(goes_left, self.left[node], self.right[node]))
        return self.baseline + self.value[node].sum(axis=1)


@dataclass(frozen=True)
class ScoreModel:
    """The shipped scoring: the score trees, operating threshold, copy rule and verification gates.

    Attributes:
        trees: The score model over :data:`FEATURES` (log-odds of a true match).
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
        decisive_copy_score: The least score of a decisive copy (:meth:`is_decisive_copy`): a lower
            confidence bound of that rule's precision on the calibration half (0: no such floor).
        contest_margin: The best two candidates trade places when the runner-up wins their colour
            contest by more than this (a*b* units, :attr:`vision.photometric.ColourContest.second_closer_by`);
            None: no contests.
        contest_ratio: ... and when its score is at least this share of the best one's: a far
            weaker runner-up is not the product shown, whatever its colours.
        fitted_on: A description of the data the parameters were fitted on.
    """

    trees: BoostedTrees
    threshold: float
    copy_agreement: float
    copy_min_inliers: int
    verify_similarity: float
    verify_margin: float
    verify_limit: int
    weak_inliers: int = 0
    verify_limit_weak: int = 0
    decisive_copy_score: float = 0.0
    contest_margin: float | None = None
    contest_ratio: float = 0.0
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
        trees = BoostedTrees.from_json(payload["score_trees"])
        if trees.feature.max() >= len(FEATURES):
            raise ValueError(f"{path}: a score tree tests an input beyond the {len(FEATURES)} features")
        return cls(
            trees=trees,
            threshold=float(payload["threshold"]),
            copy_agreement=float(payload["copy_agreement"]),
            copy_min_inliers=int(payload["copy_min_inliers"]),
            verify_similarity=float(payload["verify_similarity"]),
            verify_margin=float(payload["verify_margin"]),
            verify_limit=int(payload["verify_limit"]),
            weak_inliers=int(payload.get("weak_inliers", 0)),
            verify_limit_weak=int(payload.get("verify_limit_weak", 0)),
            decisive_copy_score=float(payload.get("decisive_copy_score", 0.0)),
            contest_margin=None if (margin := payload.get("contest_margin")) is None else float(margin),
            contest_ratio=float(payload.get("contest_ratio", 0.0)),
            fitted_on=str(payload.get("fitted_on", "")),
        )

    def to_json(self) -> dict[str, Any]:
        """The parameters as ``calibration.json`` stores them."""
        return {
            "features": list(FEATURES),
            "threshold": self.threshold,
            "copy_agreement": self.copy_agreement,
            "copy_min_inliers": self.copy_min_inliers,
            "verify_similarity": self.verify_similarity,
            "verify_margin": self.verify_margin,
            "verify_limit": self.verify_limit,
            "weak_inliers": self.weak_inliers,
            "verify_limit_weak": self.verify_limit_weak,
            "decisive_copy_score": self.decisive_copy_score,
            "contest_margin": self.contest_margin,
            "contest_ratio": self.contest_ratio,
            "fitted_on": self.fitted_on,
            "score_trees": self.trees.to_json(),
        }

    def probability(self, evidence: Evidence) -> float:
        """Calibrated probability that the candidate is a true match."""
        return float(self.probabilities([evidence])[0])

    def probabilities(self, evidences: Sequence[Evidence]) -> np.ndarray:
        """:meth:`probability` of several candidates at once (one pass through the trees)."""
        return self.with_decisive_copies(self.tree_probabilities(evidences), evidences)

    def tree_probabilities(self, evidences: Sequence[Evidence]) -> np.ndarray:
        """The score trees' probabilities alone, before :meth:`with_decisive_copies`."""
        if not evidences:
            return np.zeros(0)
        features = np.stack([feature_vector(evidence, self.copy_agreement) for evidence in evidences])
        return 1.0 / (1.0 + np.exp(-np.clip(self.trees.log_odds(features), -50.0, 50.0)))

    def with_decisive_copies(self, scores: np.ndarray, evidences: Sequence[Evidence]) -> np.ndarray:
        """``scores`` of ``evidences`` raised to :attr:`decisive_copy_score` for decisive copies."""
        if self.decisive_copy_score <= 0.0:
            return scores
        decisive = np.array([self.is_decisive_copy(evidence) for evidence in evidences], dtype=bool)
        return np.where(decisive, np.maximum(scores, self.decisive_copy_score), scores)

    def contested_pair(
        self, scores: Sequence[float], evidences: Sequence[Evidence]
    ) -> tuple[int, int] | None:
        """The best and the second-best candidate by score, when a colour contest may reorder them.

        Both must be aligned with at least :data:`CONTEST_MIN_INLIERS` inliers, neither be a copy
        (pixel agreement decides copies) nor have confirmed listing photos (the contest compares
        packshots, and a product's confirmed shop photos, which show the package as it is sold now,
        tell it from its siblings better: with them it cost 4 of 485 held-out photos their right
        product), and the runner-up's score must be at least :attr:`contest_ratio` of the best
        one's. Ties keep the candidates' order.

        Returns:
            Their positions in ``scores``, best first, or None.
        """
        if self.contest_margin is None or len(scores) < 2:
            return None
        first, second = sorted(range(len(scores)), key=lambda position: -scores[position])[:2]
        for evidence in (evidences[first], evidences[second]):
            if evidence.inliers < CONTEST_MIN_INLIERS or self.is_copy(evidence) or evidence.confirmed_photos:
                return None
        if scores[second] < self.contest_ratio * scores[first]:
            return None
        return first, second

    def overturns(self, second_closer_by: float) -> bool:
        """Whether a runner-up whose colours are this much closer to the listing's takes first place."""
        return self.contest_margin is not None and second_closer_by > self.contest_margin

    def after_contest(
        self,
        scores: np.ndarray,
        evidences: Sequence[Evidence],
        second_closer_by: Callable[[int, int], float | None],
    ) -> np.ndarray:
        """``scores`` after the colour contest of :meth:`contested_pair`, if one is held.

        The runner-up takes first place when it wins by more than :attr:`contest_margin`: the two
        trade scores. Trading keeps what the score says (how sure the evidence is that the listing
        shows one of these aligned packages) and gives it to the package whose colours it shows.

        Args:
            scores: One score per candidate.
            evidences: The candidates' evidence, in the same order.
            second_closer_by: Given the best and the runner-up's positions, how much closer the
                listing's colours are to the runner-up's where the two differ
                (:attr:`vision.photometric.ColourContest.second_closer_by`), or None when they
                cannot be compared. The matcher holds the contest here; the calibration reads it
                from collected evidence.

        Returns:
            ``scores`` itself when nothing changes, else a copy with the two traded.
        """
        pair = self.contested_pair(scores.tolist(), evidences)
        if pair is None:
            return scores
        gain = second_closer_by(*pair)
        if gain is None or not self.overturns(gain):
            return scores
        first, second = pair
        traded = scores.copy()
        traded[first], traded[second] = scores[second], scores[first]
        return traded

    def sibling_anchors(
        self, scores: np.ndarray, evidences: Sequence[Evidence], every: bool = False
    ) -> list[int]:
        """The candidates whose sibling packages (:mod:`index.siblings`) are verified too.

        For a photo whose best score is below :attr:`threshold` (the model's own, whatever
        threshold an operator flags at, so that what is verified stays what calibration measured),
        the best :data:`SIBLING_ANCHORS` by score that are aligned with at least
        :data:`SIBLING_ANCHOR_MIN_INLIERS` inliers and are not copies; none for any other photo.

        Args:
            scores: One score per candidate (:meth:`probabilities`).
            evidences: The candidates' evidence, in the same order.
            every: Every aligned candidate that is not a copy, whatever the scores (calibration).

        Returns:
            Their positions, the best first.
        """
        if every:
            positions: Sequence[int] = range(len(evidences))
        elif len(scores) == 0 or float(scores.max()) >= self.threshold:
            return []
        else:
            positions = sorted(range(len(scores)), key=lambda position: -scores[position])[:SIBLING_ANCHORS]
        return [
            position
            for position in positions
            if evidences[position].inliers >= SIBLING_ANCHOR_MIN_INLIERS
            and not self.is_copy(evidences[position])
        ]

    def is_copy(self, evidence: Evidence) -> bool:
        """Whether the evidence says the listing reuses this very photo (rather than shows the product)."""
        return (
            evidence.verified
            and evidence.inliers >= self.copy_min_inliers
            and evidence.agreement >= self.copy_agreement
        )

    def is_decisive_copy(self, evidence: Evidence) -> bool:
        """Whether the evidence shows a copy beyond doubt (see :data:`DECISIVE_AGREEMENT`)."""
        return (
            self.is_copy(evidence)
            and evidence.inliers >= DECISIVE_INLIERS
            and evidence.agreement >= DECISIVE_AGREEMENT
            and evidence.agreement_low >= DECISIVE_LOW_AGREEMENT
            and evidence.spread >= DECISIVE_SPREAD
        )


@lru_cache(maxsize=2)
def default_score_model(confirmed_photos: bool = False) -> ScoreModel:
    """The shipped :class:`ScoreModel` for a catalog of brand photos (``index/calibration.json``),
    or for one that also holds confirmed listing photos (``index/calibration-confirmed.json``)."""
    return ScoreModel.load(CONFIRMED_CALIBRATION_FILE if confirmed_photos else CALIBRATION_FILE)
