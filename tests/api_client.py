"""The API tests' client: a TestClient with a key per role. Plain module, used by tests/api."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from hallmark.db import open_database
from hallmark.keys import create_key
from hallmark.roles import Role
from hallmark.settings import Settings


@dataclass
class Api:
    """A test client with a key per role (``partner`` and ``other_partner`` are two partners)."""

    client: TestClient
    settings: Settings
    keys: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def get(self, who: str, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers={**self.auth(who), **kwargs.pop("headers", {})}, **kwargs)

    def post(self, who: str, path: str, **kwargs: Any) -> Any:
        return self.client.post(path, headers={**self.auth(who), **kwargs.pop("headers", {})}, **kwargs)


def make_keys(settings: Settings) -> dict[str, str]:
    keys = {}
    with open_database(settings).session() as session:
        for who, role in [
            ("admin", Role.ADMIN),
            ("reviewer", Role.REVIEWER),
            ("partner", Role.PARTNER),
            ("other_partner", Role.PARTNER),
        ]:
            keys[who] = create_key(session, role, who)[1]
    return keys
