"""The case queue over HTTP: from a reported listing to a removed one, with notices, labels and KPIs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from api_client import Api
from case_world import CROPPED_DA_001, MIRRORED_DA_002, build_catalog, run_matching
from local_http import serve


@pytest.fixture
def queue(api: Api, tmp_path: Path) -> Api:
    build_catalog(api.settings, tmp_path / "catalog")
    return api


def _report(api: Api, url: str, photo: Path = MIRRORED_DA_002, **fields: str) -> int:
    data = {
        "url": url,
        "marketplace": "Demo",
        "title": "Jacket replica",
        "price": "10.00",
        "currency": "EUR",
        "seller": "cheap-jackets",
        "quantity": "3",
        **fields,
    }
    answer = api.post(
        "reviewer", "/v1/listings", data=data, files={"image": ("photo.jpg", photo.read_bytes())}
    )
    assert answer.status_code == 201, answer.text
    run_matching(api.settings)
    listing_id: int = answer.json()["listing_id"]
    return listing_id


def _case(api: Api, listing_id: int) -> dict[str, object]:
    found = api.get("reviewer", "/v1/cases", params={"listing_id": listing_id}).json()
    assert found["total"] == 1
    case: dict[str, object] = found["items"][0]
    return case


def _move(api: Api, case_id: object, to: str, note: str | None = None) -> object:
    return api.post("reviewer", f"/v1/cases/{case_id}/transition", json={"to": to, "note": note})


def test_a_reported_listing_becomes_a_case_that_goes_all_the_way_to_removed(queue: Api) -> None:
    with serve() as market:
        listing_id = _report(queue, f"{market}/gone")
        case = _case(queue, listing_id)
        assert case["status"] == "open" and case["sku"] == "DA-002" and case["marketplace"] == "demo"
        assert case["allowed_transitions"] == ["dismissed", "in_review", "not_a_match"]
        assert {"image_copy", "suspicious_words", "price_far_below"} <= {
            r["code"] for r in case["risk_reasons"]
        }
        case_id = case["id"]
        assert _move(queue, case_id, "in_review").status_code == 200
        assert _move(queue, case_id, "confirmed", "the same photo, mirrored").status_code == 200
        notice = queue.post("reviewer", f"/v1/cases/{case_id}/takedown")
        assert notice.status_code == 201
        evidence = notice.json()["evidence"]
        assert evidence["listing"]["url"] == f"{market}/gone"
        assert evidence["product"] == {"sku": "DA-002", "name": "Demo jacket DA-002", "brand": "Demo Apparel"}
        assert evidence["evidence"]["verdict"] == "copy" and evidence["rights_holder"] == "Demo Apparel"
        assert evidence["evidence"]["matched_reference"]["url"].endswith("/image")
        text = queue.get("reviewer", f"/v1/cases/{case_id}/takedown", params={"format": "text"})
        assert text.headers["content-type"].startswith("text/plain")
        for expected in (
            f"{market}/gone",
            "Demo Apparel",
            "DA-002",
            "cheap-jackets",
            "copy (score",
            "Risk score",
        ):
            assert expected in text.text
        assert queue.get("reviewer", f"/v1/cases/{case_id}").json()["status"] == "takedown_requested"
        sent = queue.post("reviewer", f"/v1/cases/{case_id}/takedown/sent", json={"note": "mailed"})
        assert sent.status_code == 200 and sent.json()["sent_by"] == "reviewer"
        # The worker re-checks the sent takedown: the page answers 404, the listing is gone.
        run_matching(queue.settings)
    removed = queue.get("reviewer", f"/v1/cases/{case_id}").json()
    assert removed["status"] == "removed" and removed["hours_to_removal"] >= 0
    assert removed["allowed_transitions"] == []
    events = queue.get("reviewer", f"/v1/cases/{case_id}/events").json()
    assert [(e["action"], e["to_status"], e["actor"]) for e in events] == [
        ("opened", "open", "worker"),
        ("transition", "in_review", "reviewer"),
        ("transition", "confirmed", "reviewer"),
        ("transition", "takedown_requested", "reviewer"),
        ("transition", "takedown_sent", "reviewer"),
        ("transition", "removed", "worker"),
    ]
    assert events[2]["note"] == "the same photo, mirrored"
    kpis = queue.get("reviewer", "/v1/kpis", params={"days": 7}).json()
    assert (kpis["flags"], kpis["reviewed"], kpis["precision"]) == (1, 1, 1.0)
    assert (kpis["takedowns_sent"], kpis["removed"], kpis["listings_scanned"]) == (1, 1, 1)
    assert kpis["median_hours_to_removal"] >= 0 and len(kpis["flags_per_day"]) == 7


def test_a_listing_still_up_after_a_takedown_stays_sent(queue: Api) -> None:
    with serve() as market:
        case_id = _case(queue, _report(queue, f"{market}/listing"))["id"]
        for to in ("in_review", "confirmed"):
            _move(queue, case_id, to)
        queue.post("reviewer", f"/v1/cases/{case_id}/takedown")
        queue.post("reviewer", f"/v1/cases/{case_id}/takedown/sent", json={})
        run_matching(queue.settings)
    assert queue.get("reviewer", f"/v1/cases/{case_id}").json()["status"] == "takedown_sent"
    notice = queue.get("reviewer", f"/v1/cases/{case_id}/takedown").json()
    assert notice["checks"] == 1 and notice["removed_at"] is None


def test_an_illegal_move_is_a_409_with_the_allowed_moves_and_an_unknown_state_a_422(queue: Api) -> None:
    case_id = _case(queue, _report(queue, "https://m.example/1"))["id"]
    refused = _move(queue, case_id, "removed")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"case {case_id} cannot go from open to removed; allowed: dismissed, in_review, not_a_match"
    )
    assert _move(queue, case_id, "sold").status_code == 422
    early = queue.post("reviewer", f"/v1/cases/{case_id}/takedown")
    assert early.status_code == 409 and "needs a confirmed case" in early.json()["detail"]
    unsent = queue.post("reviewer", f"/v1/cases/{case_id}/takedown/sent", json={})
    assert unsent.status_code == 409
    assert queue.get("reviewer", f"/v1/cases/{case_id}/takedown").status_code == 404
    assert _move(queue, 987654, "in_review").status_code == 404


def test_not_a_match_is_remembered_and_reopening_forgets_it(queue: Api) -> None:
    case_id = _case(queue, _report(queue, "https://m.example/2"))["id"]
    assert _move(queue, case_id, "not_a_match").json()["status"] == "not_a_match"
    # The same photo elsewhere does not flag DA-002 again.
    other = _report(queue, "https://other.example/2")
    assert queue.get("reviewer", "/v1/cases", params={"listing_id": other}).json()["total"] == 0
    assert _move(queue, case_id, "open").json()["status"] == "open"
    labels = queue.get("reviewer", "/v1/labels").json()
    assert [(label["decision"], label["is_match"]) for label in labels] == [("not_a_match", False)]


def test_cases_are_assigned_annotated_filtered_and_handled_in_bulk(queue: Api) -> None:
    first = _case(queue, _report(queue, "https://m.example/3"))["id"]
    second = _case(queue, _report(queue, "https://m.example/4", photo=CROPPED_DA_001))["id"]
    assigned = queue.client.patch(
        f"/v1/cases/{first}", json={"assignee": "rita"}, headers=queue.auth("reviewer")
    )
    assert assigned.json()["assignee"] == "rita"
    note = queue.post("reviewer", f"/v1/cases/{first}/notes", json={"text": "seller has 40 more"})
    assert note.status_code == 201 and note.json()["note"] == "seller has 40 more"
    assert queue.post("reviewer", f"/v1/cases/{first}/notes", json={"text": ""}).status_code == 422
    mine = queue.get("reviewer", "/v1/cases", params={"assignee": "rita"}).json()
    assert [case["id"] for case in mine["items"]] == [first]
    bulk = queue.post(
        "reviewer",
        "/v1/cases/bulk",
        json={"case_ids": [first, second, 424242], "to": "in_review", "note": "triage"},
    ).json()["results"]
    assert [(r["case_id"], r["ok"]) for r in bulk] == [(first, True), (second, True), (424242, False)]
    assert bulk[2]["error"] == "no case with id 424242"
    in_review = queue.get("reviewer", "/v1/cases", params=[("status", "in_review"), ("status", "confirmed")])
    assert in_review.json()["total"] == 2
    actions = [e["action"] for e in queue.get("reviewer", f"/v1/cases/{first}/events").json()]
    assert actions == ["opened", "assigned", "note", "transition"]
    nothing = queue.post("reviewer", "/v1/cases/bulk", json={"case_ids": [first]})
    assert nothing.status_code == 422


def test_labels_export_as_csv_and_json(queue: Api) -> None:
    for number, decision in enumerate(["confirmed", "dismissed"]):
        case_id = _case(queue, _report(queue, f"https://m.example/l{number}"))["id"]
        _move(queue, case_id, "in_review")
        _move(queue, case_id, decision)
    as_json = queue.get("reviewer", "/v1/labels").json()
    as_csv = queue.get("reviewer", "/v1/labels", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (
        [row["decision"] for row in rows]
        == [label["decision"] for label in as_json]
        == ["confirmed", "dismissed"]
    )
    assert [row["sku"] for row in rows] == ["DA-002", "DA-002"]
    assert json.loads(json.dumps(as_json))[0]["reviewer"] == "reviewer"


def test_a_listing_report_needs_a_valid_photo_and_fields(queue: Api) -> None:
    no_photo = queue.post(
        "reviewer", "/v1/listings", data={"url": "https://m.example/x", "marketplace": "demo"}
    )
    assert no_photo.status_code == 422 and "photo" in no_photo.json()["detail"]
    bad_price = queue.post(
        "reviewer",
        "/v1/listings",
        data={"url": "https://m.example/x", "marketplace": "demo", "price": "cheap"},
        files={"image": ("p.jpg", MIRRORED_DA_002.read_bytes())},
    )
    assert bad_price.status_code == 422
    not_image = queue.post(
        "reviewer",
        "/v1/listings",
        data={"url": "https://m.example/x", "marketplace": "demo"},
        files={"image": ("p.jpg", b"not an image")},
    )
    assert not_image.status_code == 415
    listing = queue.get("reviewer", "/v1/listings").json()
    assert listing["total"] == 0


def test_learning_from_confirmed_cases_is_for_admins_and_never_takes_a_copy(queue: Api) -> None:
    with serve() as market:
        case_id = _case(queue, _report(queue, f"{market}/copy"))["id"]
        for to in ("in_review", "confirmed"):
            assert _move(queue, case_id, to).status_code == 200
    assert queue.post("reviewer", "/v1/catalog/learn").status_code == 403
    learned = queue.post("admin", "/v1/catalog/learn")
    # The confirmed case is a copy of the brand's own photo, which the catalog already holds.
    assert learned.status_code == 200
    assert learned.json() == {"cases": 0, "added": 0, "unchanged": 0, "errors": []}
