"""What the listing spider hands to the pipelines."""

from __future__ import annotations

from dataclasses import dataclass

from crawlers.listing import ExtractedListing


@dataclass(frozen=True)
class ListingItem:
    """One listing as read from a marketplace, and the page it was read from.

    Attributes:
        listing: the extracted fields; ``listing.url`` is the canonical URL that identifies it.
        page_url: the page the fields came from (its item page, or the search or API page when the
            adapter reads no item pages).
    """

    listing: ExtractedListing
    page_url: str
