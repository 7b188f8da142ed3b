"""The risk score of a flagged listing: how likely it is a counterfeit worth acting on, and why."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

#: Words sellers of fakes use to say so without saying so. Matched case-insensitively as whole words.
SUSPICIOUS_WORDS = (
    "replica",
    "1:1",
    "aaa",
    "aaa+",
    "fake",
    "mirror quality",
    "super copy",
    "inspired by",
    "knockoff",
    "dupe",
)
_WORDS = re.compile(
    r"(?<![\w])("
    + "|".join(re.escape(word) for word in sorted(SUSPICIOUS_WORDS, key=len, reverse=True))
    + r")(?![\w])",
    re.IGNORECASE,
)

# How much each signal alone makes a listing risky, 0..1; combined as independent evidence.
WEIGHT_WORDS = 0.6
WEIGHT_PRICE = 0.5
WEIGHT_UNAUTHORISED = 0.3
WEIGHT_BEFORE_RELEASE = 0.5
WEIGHT_OVER_BATCH = 0.7
#: An image that matches a different photo of the product is weaker evidence than a reused photo.
PRODUCT_MATCH_FACTOR = 0.8
#: A seller on the brand's allow-list keeps this share of the risk: the case still opens (the match is
#: right) so that a reviewer can dismiss it, but it sorts below the rest.
AUTHORISED_FACTOR = 0.3


@dataclass(frozen=True)
class RiskReason:
    """One signal and how much it adds."""

    code: str
    detail: str
    weight: float


@dataclass(frozen=True)
class RiskInputs:
    """What the score looks at, gathered from the listing, the product and the match."""

    verdict: str
    match_score: float
    title: str
    price: Decimal | None
    currency: str | None
    msrp: Decimal | None
    product_currency: str | None
    listed_at: datetime | None
    release_date: date | None
    quantity: int | None
    batch_size: int | None
    seller: str | None
    #: True, False, or None when the brand keeps no allow-list for the marketplace.
    seller_authorised: bool | None


def suspicious_words(title: str) -> list[str]:
    """The suspicious words in a title, lower-cased, in order of appearance, without repeats."""
    found: list[str] = []
    for match in _WORDS.finditer(title or ""):
        word = match.group(1).lower()
        if word not in found:
            found.append(word)
    return found


def assess_risk(inputs: RiskInputs, price_ratio: float) -> tuple[float, list[RiskReason]]:
    """The risk score (0..1) and its reasons, strongest first.

    Args:
        inputs: The listing's facts.
        price_ratio: A price below this share of the catalog price counts as far below.
    """
    reasons: list[RiskReason] = []
    image_weight = inputs.match_score * (1.0 if inputs.verdict == "copy" else PRODUCT_MATCH_FACTOR)
    kind = "reuses the reference photo" if inputs.verdict == "copy" else "shows the product"
    reasons.append(
        RiskReason(
            f"image_{inputs.verdict}", f"the photo {kind} (score {inputs.match_score:.2f})", image_weight
        )
    )
    words = suspicious_words(inputs.title)
    if words:
        reasons.append(
            RiskReason(
                "suspicious_words", "the title says " + ", ".join(repr(w) for w in words), WEIGHT_WORDS
            )
        )
    if (
        inputs.price is not None
        and inputs.msrp is not None
        and inputs.msrp > 0
        and (inputs.currency or "").upper() == (inputs.product_currency or "").upper()
        and inputs.price < inputs.msrp * Decimal(str(price_ratio))
    ):
        share = float(inputs.price / inputs.msrp)
        reasons.append(
            RiskReason(
                "price_far_below",
                f"price {inputs.price} {inputs.currency} is {share:.0%} of the catalog price {inputs.msrp}",
                WEIGHT_PRICE,
            )
        )
    if inputs.seller_authorised is False:
        reasons.append(
            RiskReason(
                "unauthorised_seller",
                f"seller {inputs.seller!r} is not on the authorised list",
                WEIGHT_UNAUTHORISED,
            )
        )
    if (
        inputs.listed_at is not None
        and inputs.release_date is not None
        and inputs.listed_at.date() < inputs.release_date
    ):
        reasons.append(
            RiskReason(
                "before_release",
                f"listed {inputs.listed_at.date()} before the release date {inputs.release_date}",
                WEIGHT_BEFORE_RELEASE,
            )
        )
    if inputs.quantity is not None and inputs.batch_size is not None and inputs.quantity > inputs.batch_size:
        reasons.append(
            RiskReason(
                "over_batch",
                f"{inputs.quantity} units offered, more than the {inputs.batch_size} made",
                WEIGHT_OVER_BATCH,
            )
        )
    remaining = 1.0
    for reason in reasons:
        remaining *= 1.0 - max(0.0, min(1.0, reason.weight))
    score = 1.0 - remaining
    if inputs.seller_authorised is True:
        score *= AUTHORISED_FACTOR
        reasons.append(
            RiskReason("authorised_seller", f"seller {inputs.seller!r} is on the authorised list", 0.0)
        )
    reasons.sort(key=lambda reason: reason.weight, reverse=True)
    return round(score, 4), reasons


def reasons_to_json(reasons: list[RiskReason]) -> list[dict[str, Any]]:
    return [{**asdict(reason), "weight": round(reason.weight, 4)} for reason in reasons]
