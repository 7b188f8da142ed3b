"""``hallmark keys``: the key is the last line printed, works at once, and stops working when revoked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hallmark.db import open_database
from hallmark.errors import AuthenticationError
from hallmark.keys import authenticate
from hallmark.roles import Role
from hallmark.settings import Settings

HALLMARK = Path(sys.executable).parent / "hallmark"


def _hallmark(database_url: str, home: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HALLMARK_HOME": str(home), "HALLMARK_DATABASE_URL": database_url}
    return subprocess.run(
        [str(HALLMARK), *arguments], env=environment, capture_output=True, text=True, timeout=60
    )


def test_keys_create_prints_the_key_as_its_last_line_and_the_key_works(
    database_url: str, tmp_path: Path
) -> None:
    created = _hallmark(database_url, tmp_path, "keys", "create", "--role", "reviewer", "--name", "rita")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("hm_") and "not shown again" in created.stderr
    with open_database(Settings(home=tmp_path, database_url=database_url)).session() as session:
        principal = authenticate(session, key)
    assert (principal.name, principal.role) == ("rita", Role.REVIEWER)
    listed = _hallmark(database_url, tmp_path, "keys", "list")
    assert "reviewer\trita" in listed.stdout and key not in listed.stdout
    revoked = _hallmark(database_url, tmp_path, "keys", "revoke", str(principal.key_id))
    assert revoked.returncode == 0 and "revoked key" in revoked.stdout
    with (
        pytest.raises(AuthenticationError),
        open_database(Settings(home=tmp_path, database_url=database_url)).session() as s,
    ):
        authenticate(s, key)


def test_keys_create_with_an_unknown_role_fails_with_one_line(tmp_path: Path) -> None:
    refused = _hallmark(f"sqlite:///{tmp_path / 'h.db'}", tmp_path, "keys", "create", "--role", "boss")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: unknown role 'boss'; expected one of admin, reviewer, partner"


def test_revoking_an_unknown_key_fails_with_one_line(tmp_path: Path) -> None:
    refused = _hallmark(f"sqlite:///{tmp_path / 'h.db'}", tmp_path, "keys", "revoke", "77")
    assert (refused.returncode, refused.stderr.strip()) == (1, "error: no API key with id 77")
