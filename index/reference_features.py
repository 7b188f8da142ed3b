"""Local features of reference photos, computed from the stored copies on first need and kept."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from index.catalog import ReferenceInfo
from vision.decode import read_image
from vision.geometry import (
    FORESHORTENINGS,
    ForeshortenedView,
    LocalFeatures,
    extract_features,
    foreshortened_view,
)

#: Feature sets kept in memory: a photo, its mirror image and each of its foreshortened views count
#: once. A photo's or its mirror image's is at most about 370 KB (descriptors 256 KB, the colour
#: copy 74 KB, the greyscale copy 37 KB), a view's 260 KB, about 1.3 MB for all four of a photo;
#: so the cache stays under about 750 MB however large the catalog (650 MB when full of whole
#: photos' sets), and holds every feature set of a catalog of 512 photos.
CACHE_ENTRIES = 2048
#: Cache keys' second part: which features of the photo.
_PHOTO, _MIRRORED = "photo", "mirrored"


class ReferenceFeatures:
    """An LRU cache of :class:`LocalFeatures` per reference photo, safe to share between threads.

    Reference photos never change under a reference id (a new photo gets a new id), so entries stay
    valid until evicted.
    """

    def __init__(self, home: Path, entries: int = CACHE_ENTRIES) -> None:
        self._home = home
        self._entries = entries
        self._cache: OrderedDict[tuple[int, str], LocalFeatures | ForeshortenedView] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        """How many feature sets the cache keeps."""
        return self._entries

    def get(self, reference: ReferenceInfo, mirrored: bool = False) -> LocalFeatures:
        """Features of a reference photo (of its mirror image when ``mirrored``).

        Raises:
            HallmarkError: The stored photo is missing or unreadable.
        """
        key = (reference.reference_id, _MIRRORED if mirrored else _PHOTO)
        found = self._cached(key)
        if isinstance(found, LocalFeatures):
            return found
        pixels = read_image(self._home / reference.stored_path).pixels
        features = extract_features(pixels, mirrored=mirrored)
        self._store(key, features)
        return features

    def foreshortened(self, reference: ReferenceInfo) -> tuple[ForeshortenedView, ...]:
        """The photo's foreshortened views, one per :data:`vision.geometry.FORESHORTENINGS`.

        Raises:
            HallmarkError: The stored photo is missing or unreadable.
        """
        keys = [(reference.reference_id, f"{width}x{height}") for width, height in FORESHORTENINGS]
        views = [found for key in keys if isinstance(found := self._cached(key), ForeshortenedView)]
        if len(views) == len(keys):
            return tuple(views)
        pixels = read_image(self._home / reference.stored_path).pixels
        made = []
        for key, (width, height) in zip(keys, FORESHORTENINGS, strict=True):
            view = foreshortened_view(pixels, width, height)
            self._store(key, view)
            made.append(view)
        return tuple(made)

    def _cached(self, key: tuple[int, str]) -> LocalFeatures | ForeshortenedView | None:
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
            return found

    def _store(self, key: tuple[int, str], features: LocalFeatures | ForeshortenedView) -> None:
        with self._lock:
            self._cache[key] = features
            while len(self._cache) > self._entries:
                self._cache.popitem(last=False)

    def part(self, reference: ReferenceInfo, box: tuple[int, int, int, int]) -> LocalFeatures:
        """Features of a part of a reference photo, described on their own (not kept).

        Positions are in the part's pixels: add the box's left and top for the photo's. Rarely
        needed (a listing that shows a small part of a reference), so computed each time.

        Args:
            reference: The reference photo.
            box: ``(left, top, right, bottom)`` in the photo's own pixels.

        Raises:
            HallmarkError: The stored photo is missing or unreadable.
        """
        left, top, right, bottom = box
        pixels = read_image(self._home / reference.stored_path).pixels
        return extract_features(np.ascontiguousarray(pixels[top:bottom, left:right]))
