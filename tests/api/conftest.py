"""An app on each database, keys of every role, and a client; for the API tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Api, make_keys
from fastapi.testclient import TestClient

from api.app import create_app
from hallmark.settings import Settings


@pytest.fixture
def api_settings(db_settings: Settings) -> Settings:
    """Generous rate limits (the rate-limit tests set their own) and loopback reachable for fetches."""
    return db_settings.model_copy(
        update={
            "rate_limit_per_key": "10000/minute",
            "rate_limit_public": "10000/minute",
            "allow_private_networks": True,
        }
    )


@pytest.fixture
def make_api(api_settings: Settings) -> Iterator[Callable[..., Api]]:
    """Builds an app over the test's database with settings overridden as asked."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> Api:
        settings = api_settings.model_copy(update=overrides)
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return Api(client, settings, make_keys(settings))

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def catalog_folder(tmp_path: Path) -> Path:
    return tmp_path / "catalog"
