"""Prices in listing text: amounts, ranges ("EUR 234,95 bis EUR 269,95") and ISO currency codes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from price_parser import Price

# Symbols and local spellings to ISO 4217. A bare "$" or "kr" is ambiguous; the marketplace's default
# currency, when it is one of the candidates, decides.
_SYMBOLS: dict[str, tuple[str, ...]] = {
    "€": ("EUR",),
    "£": ("GBP",),
    "$": ("USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD"),
    "us$": ("USD",),
    "us $": ("USD",),
    "c$": ("CAD",),
    "ca$": ("CAD",),
    "au$": ("AUD",),
    "au $": ("AUD",),
    "a$": ("AUD",),
    "r$": ("BRL",),
    "¥": ("JPY", "CNY"),
    "円": ("JPY",),
    "₹": ("INR",),
    "₽": ("RUB",),
    "₩": ("KRW",),
    "₺": ("TRY",),
    "zł": ("PLN",),
    "kč": ("CZK",),
    "ft": ("HUF",),
    "lei": ("RON",),
    "kr": ("SEK", "NOK", "DKK", "ISK"),
    "kr.": ("DKK", "SEK", "NOK"),
    "fr.": ("CHF",),
    "chf": ("CHF",),
}
ISO_CODES = frozenset(
    # fmt: off
    [
        "EUR",
        "USD",
        "GBP",
        "CHF",
        "JPY",
        "CNY",
        "CAD",
        "AUD",
        "NZD",
        "SEK",
        "NOK",
        "DKK",
        "ISK",
        "PLN",
        "CZK",
        "HUF",
        "RON",
        "BGN",
        "TRY",
        "INR",
        "RUB",
        "BRL",
        "MXN",
        "SGD",
        "HKD",
        "KRW",
        "ZAR",
        "ILS",
        "AED",
        "SAR",
        "UAH",
    ]
    # fmt: on
)

_CURRENCY = r"(?:[€£$¥₹₽₩₺]|\b(?:" + "|".join(sorted(ISO_CODES)) + r")\b|zł|Kč|\bkr\b)"
_NUMBER = r"\d[\d.,'\u00a0\u202f ]*"
_PRICE_RE = re.compile(rf"{_CURRENCY}\s?{_NUMBER}|{_NUMBER}\s?{_CURRENCY}", re.IGNORECASE)
# Words and dashes that join the two ends of a price range, in the languages marketplaces use.
_RANGE_SEPARATOR = re.compile(r"\s+(?:-|–|—|~|bis|to|à|a|tot|do|até|al|till)\s+|\s*[–—]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedPrice:
    """A price read from text: the amount (the lower end of a range), the upper end and the currency."""

    amount: float | None
    maximum: float | None = None
    currency: str | None = None


def currency_code(marker: str | None, default: str | None = None) -> str | None:
    """The ISO 4217 code for a currency marker as printed (``"€"``, ``"EUR"``, ``"US $"``)."""
    if not marker:
        return default
    text = marker.strip()
    if text.upper() in ISO_CODES:
        return text.upper()
    candidates = _SYMBOLS.get(text.lower())
    if not candidates:
        return default
    if default in candidates:
        return default
    return candidates[0]


def looks_like_price(text: str) -> bool:
    """Whether ``text`` holds a number marked with a currency (a symbol or an ISO code)."""
    return bool(_PRICE_RE.search(text))


def _amount(text: str, decimal_separator: str | None) -> Price:
    return Price.fromstring(text, decimal_separator=decimal_separator)


def parse_price(
    text: str | float | int | None,
    *,
    default_currency: str | None = None,
    decimal_separator: str | None = None,
) -> ParsedPrice:
    """Reads a price, or a range of two, from ``text``.

    Args:
        text: what the page prints ("EUR 1.049,00", "$20.00 to $25.00"), or a number from structured data.
        default_currency: ISO code to use when the text has no currency marker, or an ambiguous one.
        decimal_separator: "," or "." when the marketplace's convention is known; guessed otherwise.

    Returns:
        The parsed price; ``amount`` is ``None`` when the text holds no number.
    """
    if text is None:
        return ParsedPrice(None, None, default_currency)
    if isinstance(text, int | float):
        return ParsedPrice(float(text), None, default_currency)
    text = " ".join(text.split())
    parts = _RANGE_SEPARATOR.split(text, maxsplit=1)
    if len(parts) == 2 and all(re.search(r"\d", part) for part in parts):
        low, high = (_amount(part, decimal_separator) for part in parts)
        if low.amount is not None and high.amount is not None:
            marker = low.currency or high.currency
            lo, hi = sorted((low.amount_float or 0.0, high.amount_float or 0.0))
            return ParsedPrice(lo, hi if hi != lo else None, currency_code(marker, default_currency))
    price = _amount(text, decimal_separator)
    return ParsedPrice(price.amount_float, None, currency_code(price.currency, default_currency))
