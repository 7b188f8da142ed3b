"""Local features of reference photos, computed from the stored copies on first need and kept."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from index.catalog import ReferenceInfo
from vision.decode import read_image
from vision.geometry import LocalFeatures, extract_features

#: Feature sets kept in memory (a reference and its mirror image count twice); each is about 370 KB
#: (descriptors 256 KB, the colour copy 74 KB, the greyscale copy 37 KB), so the cache stays under
#: about 400 MB however large the catalog, and a typical catalog's candidates all fit.
CACHE_ENTRIES = 1024


class ReferenceFeatures:
    """An LRU cache of :class:`LocalFeatures` per reference photo, safe to share between threads.

    Reference photos never change under a reference id (a new photo gets a new id), so entries stay
    valid until evicted.
    """

    def __init__(self, home: Path, entries: int = CACHE_ENTRIES) -> None:
        self._home = home
        self._entries = entries
        self._cache: OrderedDict[tuple[int, bool], LocalFeatures] = OrderedDict()
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
        key = (reference.reference_id, mirrored)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        pixels = read_image(self._home / reference.stored_path).pixels
        features = extract_features(pixels, mirrored=mirrored)
        with self._lock:
            self._cache[key] = features
            while len(self._cache) > self._entries:
                self._cache.popitem(last=False)
        return features

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
