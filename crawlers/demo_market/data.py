"""The demo marketplace's listings (``demo/market/listings.json``) and what tests have done to them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hallmark.errors import NotFoundError

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "demo" / "market"

Fault = Literal["robots", "broken_image", "huge_image", "slow", "flaky", "missing"]


class Truth(BaseModel):
    """What a listing really is, for tests: never shown by the storefronts."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["copy", "lookalike", "unrelated"]
    sku: str = ""
    edits: list[str] = Field(default_factory=list)


class MarketListing(BaseModel):
    """One listing of the demo marketplace."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^L\d{3}$")
    title: str
    price: float = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    seller: str
    quantity: int = Field(ge=0)
    listed_at: datetime
    image: str = Field(description="Path of the photo, relative to the data folder.")
    fault: Fault | None = None
    truth: Truth


class MarketChange(BaseModel):
    """An edit a test makes to a listing, so a re-crawl sees it change."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=300)
    price: float | None = Field(default=None, ge=0)
    quantity: int | None = Field(default=None, ge=0)


class Market:
    """The listings a demo server serves, and its mutable state: removed listings, edits, failure counts.

    Args:
        data_dir: folder with ``listings.json`` and ``images/``.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir or DEFAULT_DATA_DIR).resolve()
        path = self.data_dir / "listings.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            listings = [MarketListing.model_validate(entry) for entry in document["listings"]]
        except (OSError, KeyError, TypeError, json.JSONDecodeError, ValidationError) as error:
            raise NotFoundError(f"no usable demo market data at {path}: {error}") from error
        self._original = {listing.id: listing for listing in listings}
        self.listings: dict[str, MarketListing] = dict(self._original)
        self.removed: set[str] = set()
        self.failures: dict[str, int] = {}

    def reset(self) -> None:
        """Back to the data as shipped: nothing removed, no edits, failure counters at zero."""
        self.listings = dict(self._original)
        self.removed.clear()
        self.failures.clear()

    def get(self, listing_id: str) -> MarketListing:
        """The listing ``listing_id``, removed or not.

        Raises:
            NotFoundError: there never was such a listing.
        """
        try:
            return self.listings[listing_id]
        except KeyError:
            raise NotFoundError(f"no listing {listing_id!r}") from None

    def change(self, listing_id: str, change: MarketChange) -> MarketListing:
        """Applies ``change`` to a listing and returns the new version."""
        listing = self.get(listing_id)
        updated = listing.model_copy(update=change.model_dump(exclude_none=True))
        self.listings[listing_id] = updated
        return updated

    def search(self, query: str) -> list[MarketListing]:
        """Live listings whose title holds every word of ``query`` (all of them for an empty query)."""
        words = query.lower().split()
        return [
            listing
            for listing in self.listings.values()
            if listing.id not in self.removed and all(word in listing.title.lower() for word in words)
        ]
