"""Who may call what: a key is needed, its role must be enough, and objects stay with their owners."""

from __future__ import annotations

from typing import Any

import pytest
from api_client import Api

from hallmark.db import open_database
from hallmark.keys import revoke_key

#: Every route that needs a key: (method, path, the roles allowed). Ids are 1: permissions are checked
#: before the object is looked up, so no object needs to exist.
ROUTES: list[tuple[str, str, set[str]]] = [
    ("POST", "/v1/check", {"admin", "reviewer", "partner"}),
    ("GET", "/v1/checks", {"admin", "reviewer", "partner"}),
    ("GET", "/v1/checks/1", {"admin", "reviewer", "partner"}),
    ("GET", "/v1/products", {"admin", "reviewer"}),
    ("GET", "/v1/products/1", {"admin", "reviewer"}),
    ("DELETE", "/v1/products/1", {"admin"}),
    ("POST", "/v1/references", {"admin"}),
    ("GET", "/v1/references/1/image", {"admin", "reviewer", "partner"}),
    ("DELETE", "/v1/references/1", {"admin"}),
    ("POST", "/v1/catalog/learn", {"admin"}),
    ("GET", "/v1/listings", {"admin", "reviewer"}),
    ("POST", "/v1/listings", {"admin", "reviewer"}),
    ("GET", "/v1/listings/1", {"admin", "reviewer"}),
    ("GET", "/v1/cases", {"admin", "reviewer"}),
    ("GET", "/v1/cases/1", {"admin", "reviewer"}),
    ("PATCH", "/v1/cases/1", {"admin", "reviewer"}),
    ("POST", "/v1/cases/1/transition", {"admin", "reviewer"}),
    ("POST", "/v1/cases/1/notes", {"admin", "reviewer"}),
    ("GET", "/v1/cases/1/events", {"admin", "reviewer"}),
    ("POST", "/v1/cases/bulk", {"admin", "reviewer"}),
    ("POST", "/v1/cases/1/takedown", {"admin", "reviewer"}),
    ("GET", "/v1/cases/1/takedown", {"admin", "reviewer"}),
    ("POST", "/v1/cases/1/takedown/sent", {"admin", "reviewer"}),
    ("GET", "/v1/labels", {"admin", "reviewer"}),
    ("GET", "/v1/authorised-sellers", {"admin", "reviewer"}),
    ("POST", "/v1/authorised-sellers", {"admin"}),
    ("DELETE", "/v1/authorised-sellers/1", {"admin"}),
    ("POST", "/v1/serials/import", {"admin"}),
    ("GET", "/v1/serials/SN1", {"admin", "reviewer"}),
    ("GET", "/v1/kpis", {"admin", "reviewer"}),
    ("POST", "/v1/keys", {"admin"}),
    ("GET", "/v1/keys", {"admin"}),
    ("DELETE", "/v1/keys/1", {"admin"}),
]
PUBLIC = {"/healthz", "/v1/public/check", "/v1/public/serials/verify", "/v1/public/serials/verify-photo"}
REFUSED = [
    pytest.param(method, path, role, id=f"{method} {path} as {role}")
    for method, path, allowed in ROUTES
    for role in ("admin", "reviewer", "partner")
    if role not in allowed
]


def _call(api: Api, method: str, path: str, headers: dict[str, str]) -> Any:
    return api.client.request(method, path, headers=headers)


def test_the_permission_table_covers_every_route_of_the_api(api: Api) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in api.client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in operations
        if path not in PUBLIC
    }
    listed = {
        (method, path.replace("/1", "/{id}").replace("/SN1", "/{serial}")) for method, path, _ in ROUTES
    }
    normalised = {
        (
            method,
            path.replace("{check_id}", "{id}")
            .replace("{product_id}", "{id}")
            .replace("{reference_id}", "{id}")
            .replace("{listing_id}", "{id}")
            .replace("{case_id}", "{id}")
            .replace("{seller_id}", "{id}")
            .replace("{key_id}", "{id}"),
        )
        for method, path in documented
    }
    assert normalised == listed


@pytest.mark.parametrize(("method", "path", "role"), REFUSED)
def test_route_answers_403_not_enough_permissions(api: Api, method: str, path: str, role: str) -> None:
    answer = _call(api, method, path, api.auth(role))
    assert answer.status_code == 403
    assert "role" in answer.json()["detail"]


@pytest.mark.parametrize(("method", "path"), [pytest.param(m, p, id=f"{m} {p}") for m, p, _ in ROUTES])
def test_route_answers_401_without_a_key(api: Api, method: str, path: str) -> None:
    answer = _call(api, method, path, {})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert "API key" in answer.json()["detail"]


def test_an_unknown_or_revoked_key_is_refused_alike(api: Api) -> None:
    unknown = api.client.get("/v1/checks", headers={"Authorization": "Bearer hm_not-a-key"})
    with open_database(api.settings).session() as session:
        revoke_key(session, 3)  # the partner's key
    revoked = api.get("partner", "/v1/checks")
    assert unknown.status_code == revoked.status_code == 401
    assert unknown.json() == revoked.json() == {"detail": "invalid or revoked API key"}


def test_a_partner_never_sees_another_partners_checks_not_enough_permissions(
    api: Api, catalog_world: None
) -> None:
    from local_http import png_bytes

    mine = api.post("partner", "/v1/check", files={"image": ("mine.png", png_bytes())}).json()["check_id"]
    theirs = api.post("other_partner", "/v1/check", files={"image": ("theirs.png", png_bytes())}).json()[
        "check_id"
    ]
    assert api.get("partner", f"/v1/checks/{mine}").status_code == 200
    refused = api.get("partner", f"/v1/checks/{theirs}")
    assert refused.status_code == 403 and refused.json() == {
        "detail": "this check belongs to another API key"
    }
    assert api.get("reviewer", f"/v1/checks/{theirs}").status_code == 403
    assert api.get("admin", f"/v1/checks/{theirs}").status_code == 200
    listed = api.get("partner", "/v1/checks").json()
    assert [item["id"] for item in listed["items"]] == [mine] and listed["total"] == 1
    assert api.get("admin", "/v1/checks").json()["total"] == 2
    assert api.get("partner", "/v1/checks/999999").status_code == 404


@pytest.fixture
def catalog_world(api: Api, tmp_path: Any) -> None:
    from case_world import build_catalog

    build_catalog(api.settings, tmp_path / "catalog")
