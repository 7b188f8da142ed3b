"""What extraction finds on a marketplace page: one listing, as the rest of Hallmark sees it."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

_PRICE_FIELDS = ("price", "price_max", "currency")


class ExtractedListing(BaseModel):
    """One listing found on a search or item page.

    ``url`` identifies the listing: absolute and canonical (no tracking), so the same listing seen on
    two pages, or twice on one page, has one URL. Fields the page does not show are ``None``.
    """

    model_config = ConfigDict(frozen=True)

    url: str = Field(max_length=4096)
    title: str | None = Field(default=None, max_length=2000)
    price: float | None = Field(default=None, ge=0, description="The price, or the lower end of a range.")
    price_max: float | None = Field(default=None, ge=0, description="The upper end of a price range.")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    image: str | None = Field(default=None, max_length=4096, description="Absolute URL of the main photo.")
    seller: str | None = Field(default=None, max_length=500)
    quantity: int | None = Field(default=None, ge=0, description="Items available, where the page says.")
    listed_at: datetime | date | None = Field(default=None, description="When the listing went up.")

    def merged(self, other: ExtractedListing) -> ExtractedListing:
        """This listing with its missing fields taken from ``other`` (another sighting of it).

        The price, its upper end and its currency travel together, so a merged listing never pairs one
        card's amount with another card's currency.
        """
        updates: dict[str, object] = {}
        for name in type(self).model_fields:
            if name in _PRICE_FIELDS or name == "url":
                continue
            if getattr(self, name) is None and getattr(other, name) is not None:
                updates[name] = getattr(other, name)
        if self.price is None and other.price is not None:
            updates.update({name: getattr(other, name) for name in _PRICE_FIELDS})
        return self.model_copy(update=updates) if updates else self


def parse_quantity(text: str | int | float | None) -> int | None:
    """The first whole number in ``text`` ("3 available", "Noch 12 verfügbar"), or ``None``."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return int(text) if text >= 0 else None
    match = re.search(r"\d[\d.,\u00a0 ]*", text)
    if not match:
        return None
    digits = re.sub(r"\D", "", match.group())
    return int(digits) if digits else None


def parse_listed_at(text: str | None) -> datetime | date | None:
    """A listing date in ISO 8601 (``2024-05-01`` or ``2024-05-01T10:00:00Z``), or ``None``."""
    if not text:
        return None
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def clean_text(text: str | None) -> str | None:
    """``text`` with runs of whitespace collapsed; ``None`` when nothing is left."""
    if text is None:
        return None
    cleaned = " ".join(text.replace("\u200b", " ").split())
    return cleaned or None
