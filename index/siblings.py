"""Sibling packages: catalog photos that align with each other on their shared print.

One brand's flavours, fat contents and editions share a logo and a layout and differ in a band, a
picture or a cap, so the network's descriptor of a shop photo lands about as close to any of them,
and the right one is often not among the products it ranks first (a shop photo of a vanilla
yoghurt whose strawberry sibling the descriptor ranks 15th and its own packshot not among the 16
first). Local features find
what the descriptor misses: when a shop photo aligns with a packshot, its siblings are worth
verifying too, and the colour contest (:func:`vision.photometric.colour_contest`) tells them apart.

A photo's siblings are the photos of the :data:`SIBLING_NEIGHBOURS` products nearest to it by
descriptor that align with it, either way round, with at least :data:`SIBLING_MIN_INLIERS`
inliers (so the relation holds both ways only where each is among the other's nearest). Finding a
photo's siblings costs a few alignments of small packshots, once per index version.
Photos that share a background align as well (garments photographed on one floor): they are
siblings too, and verifying them costs only time, as the scores decide.
"""

from __future__ import annotations

import threading

import numpy as np

from hallmark.errors import HallmarkError
from index.catalog import LoadedIndex, ReferenceInfo, reference_ids_of
from index.faiss_store import VectorIndex
from index.reference_features import ReferenceFeatures
from vision.geometry import LocalFeatures, fit_alignment, match_features

#: Fewest inliers (either way round) between two catalog photos that share their print. Photos of
#: unrelated products in the development catalogs align with at most 14 by chance; one brand's
#: packages with 17 to 142 (the logo alone brings about 20).
SIBLING_MIN_INLIERS = 20
#: The products nearest to a photo by its whole-frame descriptor whose photos are tried as its
#: siblings (a brand's packages lie close together, so its siblings are among them).
SIBLING_NEIGHBOURS = 16
#: Index vectors searched to find those products (each photo has several views in the index).
_NEIGHBOUR_HITS = 64


class Siblings:
    """The sibling photos of each brand photo in one index version, found on first need and kept
    (:class:`index.matcher.Matcher` asks for every photo's when it loads an index whose features
    its cache holds).

    Safe to share between threads: two threads asking for one photo at once compute the same
    answer, and either keeps it.

    Args:
        loaded: The index version.
        brand_index: The index of the brand's own photos (confirmed listing photos are never
            siblings: they show shops and hands besides the package).
        features: The reference photos' local features.
    """

    def __init__(self, loaded: LoadedIndex, brand_index: VectorIndex, features: ReferenceFeatures) -> None:
        self._loaded = loaded
        self._brand_index = brand_index
        self._features = features
        self._found: dict[int, tuple[ReferenceInfo, ...]] = {}
        self._lock = threading.Lock()

    def of(self, reference: ReferenceInfo) -> tuple[ReferenceInfo, ...]:
        """The photos of other products that share ``reference``'s print, most inliers first."""
        with self._lock:
            found = self._found.get(reference.reference_id)
        if found is None:
            found = self._find(reference)
            with self._lock:
                self._found[reference.reference_id] = found
        return found

    def _find(self, reference: ReferenceInfo) -> tuple[ReferenceInfo, ...]:
        try:
            own = self._features.get(reference)
        except HallmarkError:  # the stored photo went missing: it cannot be aligned with anything
            return ()
        vector = self._loaded.view_vectors(np.array([reference.reference_id], dtype=np.int64))[:1]
        _, ids = self._brand_index.search(vector, _NEIGHBOUR_HITS)
        neighbours: dict[int, ReferenceInfo] = {}
        for reference_id in reference_ids_of(ids[0]).tolist():
            other = self._loaded.references.get(int(reference_id))
            if other is None or other.confirmed or other.product_id == reference.product_id:
                continue
            neighbours.setdefault(other.product_id, other)
            if len(neighbours) == SIBLING_NEIGHBOURS:
                break
        aligned = []
        for other in neighbours.values():
            try:
                features = self._features.get(other)
            except HallmarkError:
                continue
            inliers = max(_inliers(own, features), _inliers(features, own))
            if inliers >= SIBLING_MIN_INLIERS:
                aligned.append((inliers, other))
        aligned.sort(key=lambda pair: -pair[0])
        return tuple(other for _, other in aligned)


def _inliers(first: LocalFeatures, second: LocalFeatures) -> int:
    """Inliers of ``first`` aligned onto ``second``; 0 without fitting when too few features match
    to reach :data:`SIBLING_MIN_INLIERS` (as for most pairs: the fit is skipped, not the ratio test)."""
    matches = match_features(first, second)
    if len(matches.query_indices) < SIBLING_MIN_INLIERS:
        return 0
    return fit_alignment(first, second, matches).inliers
