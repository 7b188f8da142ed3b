"""Schemathesis over the whole OpenAPI document: no 5xx, and every answer matches what is documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_client import make_keys
from case_world import build_catalog
from db_fixtures import PostgresServer
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from api.app import create_app
from hallmark.settings import Settings

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_cache: Path
) -> Iterator[tuple[object, str]]:
    folder = tmp_path_factory.mktemp("fuzz")
    url = None
    server: PostgresServer | None = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        name = server.create_database()
        url = server.url(name)
    hallmark_settings = Settings(
        home=folder / "home",
        model_cache=model_cache,
        database_url=url,
        rate_limit_per_key="100000/minute",
        rate_limit_public="100000/minute",
        # Fuzzed URLs must never leave the machine: unresolvable names fail, private ones are refused.
        allow_private_networks=False,
        fetch_timeout=2,
    )
    build_catalog(hallmark_settings, folder / "catalog")
    keys = make_keys(hallmark_settings)
    yield create_app(hallmark_settings), keys["admin"]
    if server is not None:
        server.drop_database(name)


@pytest.mark.slow
def test_every_operation_answers_as_documented_and_never_with_a_server_error(
    fuzzed: tuple[object, str],
) -> None:
    app, admin_key = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {admin_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 37
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
