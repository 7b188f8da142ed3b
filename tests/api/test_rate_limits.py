"""Rate limits: per key and per client address, 429 with Retry-After, and the storage is configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from api_client import Api

from api.app import create_app
from api.rate_limit import RateLimiter
from hallmark.errors import ConfigurationError
from hallmark.settings import Settings


def test_a_key_over_its_budget_gets_429_with_retry_after(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit_per_key="3/minute")
    answers = [api.get("partner", "/v1/checks") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("too many requests for this API key (limit 3 per 1 minute)")
    # Budgets are per key: the other partner still gets through.
    assert api.get("other_partner", "/v1/checks").status_code == 200


def test_the_public_routes_are_limited_per_client_address(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit_public="2/minute")
    body = {"serial": "SN-1"}
    answers = [api.client.post("/v1/public/serials/verify", json=body) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "from this address" in answers[-1].json()["detail"] and "Retry-After" in answers[-1].headers
    public_check = api.client.post("/v1/public/check", files={"image": ("x.jpg", b"")})
    assert public_check.status_code == 429


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "rate_limit_storage",
            "bogus://localhost",
            "HALLMARK_RATE_LIMIT_STORAGE='bogus://localhost' cannot be used",
        ),
        ("rate_limit_storage", "memcached://localhost:11211", "prerequisite not available"),
        ("rate_limit_per_key", "lots", "HALLMARK_RATE_LIMIT_PER_KEY='lots' is not a rate limit"),
        ("rate_limit_public", "5 per hour please", "HALLMARK_RATE_LIMIT_PUBLIC"),
    ],
)
def test_a_bad_rate_limit_setting_stops_the_app_at_start_up_with_a_clear_message(
    tmp_path: Path, setting: str, value: str, message: str
) -> None:
    settings = Settings(home=tmp_path, **{setting: value})
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace("?", r"\?")):
        create_app(settings)


def test_memory_storage_is_the_default_and_counts_in_the_process(tmp_path: Path) -> None:
    limiter = RateLimiter(Settings(home=tmp_path, rate_limit_per_key="1/minute"))
    assert type(limiter.storage).__name__ == "MemoryStorage"
    limiter.hit_key(1)
    with pytest.raises(Exception, match="too many requests"):
        limiter.hit_key(1)
