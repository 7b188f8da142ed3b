"""The risk score: each signal, and how they combine."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from hallmark.risk import RiskInputs, assess_risk, suspicious_words
from hallmark.serials import serial_from_qr


def _inputs(**changes: object) -> RiskInputs:
    base: dict[str, object] = {
        "verdict": "product",
        "match_score": 0.8,
        "title": "Demo jacket, worn twice",
        "price": Decimal("80"),
        "currency": "EUR",
        "msrp": Decimal("89"),
        "product_currency": "EUR",
        "listed_at": datetime(2024, 6, 1, tzinfo=UTC),
        "release_date": date(2024, 4, 1),
        "quantity": 1,
        "batch_size": 500,
        "seller": "someone",
        "seller_authorised": None,
    }
    base.update(changes)
    return RiskInputs(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("title", "words"),
    [
        ("Jacket REPLICA 1:1 top AAA+ quality", ["replica", "1:1", "aaa+"]),
        ("Mirror quality jacket, inspired by Demo", ["mirror quality", "inspired by"]),
        ("Jacket 11:15 size AAAA", []),
        ("Brand new jacket", []),
    ],
)
def test_suspicious_words_are_found_as_whole_words(title: str, words: list[str]) -> None:
    assert suspicious_words(title) == words


def test_a_plain_listing_is_scored_by_its_image_alone() -> None:
    score, reasons = assess_risk(_inputs(), price_ratio=0.5)
    assert [reason.code for reason in reasons] == ["image_product"]
    assert score == pytest.approx(0.8 * 0.8, abs=1e-4)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"title": "replica jacket"}, "suspicious_words"),
        ({"price": Decimal("20")}, "price_far_below"),
        ({"seller_authorised": False}, "unauthorised_seller"),
        ({"listed_at": datetime(2024, 3, 1, tzinfo=UTC)}, "before_release"),
        ({"quantity": 501}, "over_batch"),
    ],
)
def test_each_signal_raises_the_score_and_says_why(changes: dict[str, object], code: str) -> None:
    plain, _ = assess_risk(_inputs(), 0.5)
    score, reasons = assess_risk(_inputs(**changes), 0.5)
    assert code in [reason.code for reason in reasons] and score > plain


def test_a_low_price_in_another_currency_is_not_compared() -> None:
    _, reasons = assess_risk(_inputs(price=Decimal("20"), currency="USD"), 0.5)
    assert "price_far_below" not in [reason.code for reason in reasons]


def test_an_authorised_seller_lowers_the_score_and_is_named() -> None:
    plain, _ = assess_risk(_inputs(title="replica"), 0.5)
    score, reasons = assess_risk(_inputs(title="replica", seller_authorised=True), 0.5)
    assert score < plain and reasons[-1].code == "authorised_seller"


@pytest.mark.parametrize(
    ("payload", "serial"),
    [
        ("SN-0001", "SN-0001"),
        (" SN-0001\n", "SN-0001"),
        ("https://verify.example/check?serial=SN-7", "SN-7"),
        ("https://verify.example/s/SN-8", "SN-8"),
        ("https://verify.example/v?sn=SN-9&lang=de", "SN-9"),
    ],
)
def test_the_serial_in_a_qr_code_is_the_text_or_the_urls_serial(payload: str, serial: str) -> None:
    assert serial_from_qr(payload) == serial
