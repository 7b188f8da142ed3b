"""``POST /v1/check`` and the public buyer check: the check contract, URLs fetched safely, hostile uploads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_client import Api
from case_world import MIRRORED_DA_002, UNRELATED, build_catalog
from local_http import serve

from hallmark.db import CheckRecord, open_database
from index.matcher import result_to_json
from index.service import open_matcher
from vision.decode import read_image


@pytest.fixture
def api_with_catalog(api: Api, tmp_path: Path) -> Api:
    build_catalog(api.settings, tmp_path / "catalog")
    return api


@pytest.fixture(scope="module")
def photo_server() -> Iterator[str]:
    with serve({"/listing.jpg": MIRRORED_DA_002.read_bytes()}) as base:
        yield base


def test_an_uploaded_photo_gets_the_check_contracts_answer(api_with_catalog: Api) -> None:
    answer = api_with_catalog.post(
        "partner", "/v1/check", files={"image": ("listing.jpg", MIRRORED_DA_002.read_bytes(), "image/jpeg")}
    )
    assert answer.status_code == 200
    body = answer.json()
    # The same object the CLI prints, but the reference photo as an API URL, never a server path.
    expected = result_to_json(
        "listing.jpg", open_matcher(api_with_catalog.settings).check([read_image(MIRRORED_DA_002)])[0]
    )
    assert {key: body[key] for key in ("image", "verdict", "score")} == {
        key: expected[key] for key in ("image", "verdict", "score")
    }
    assert body["verdict"] == "copy" and body["matches"][0]["sku"] == "DA-002"
    assert [match["sku"] for match in body["matches"]] == [match["sku"] for match in expected["matches"]]
    reference = body["matches"][0]["reference_image"]
    assert reference.startswith("http://testserver/v1/references/") and reference.endswith("/image")
    photo = api_with_catalog.client.get(reference, headers=api_with_catalog.auth("partner"))
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    again = api_with_catalog.get("partner", f"/v1/checks/{body['check_id']}").json()
    assert again["result"] == body


def test_an_unrelated_photo_gets_verdict_none(api_with_catalog: Api) -> None:
    body = api_with_catalog.post(
        "partner", "/v1/check", files={"image": ("x.jpg", UNRELATED.read_bytes())}
    ).json()
    assert body["verdict"] == "none" and len(body["matches"]) == 4


def test_a_photo_url_is_fetched_and_named_by_its_url(api_with_catalog: Api, photo_server: str) -> None:
    url = f"{photo_server}/listing.jpg"
    answer = api_with_catalog.post("partner", "/v1/check", json={"image_url": url, "top_k": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["image"], body["verdict"], len(body["matches"])) == (url, "copy", 2)


def test_a_loopback_url_is_refused_when_private_networks_are_off(
    make_api: Callable[..., Api], photo_server: str
) -> None:
    guarded = make_api(allow_private_networks=False)
    answer = guarded.post("partner", "/v1/check", json={"image_url": f"{photo_server}/listing.jpg"})
    assert answer.status_code == 422
    assert answer.json() == {"detail": "address 127.0.0.1 is loopback; refused"}
    metadata = guarded.post(
        "partner", "/v1/check", json={"image_url": "http://169.254.169.254/latest/meta-data/"}
    )
    assert metadata.status_code == 422 and "metadata" in metadata.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"image_url": "file:///etc/passwd"}, 422, "image_url"),
        ({"image_url": "not a url"}, 422, "image_url"),
        ({}, 422, "image_url"),
        ({"image_url": "http://example.com/x.jpg", "extra": 1}, 422, "extra"),
    ],
)
def test_a_bad_json_body_is_a_clear_422(api: Api, body: dict[str, object], status: int, message: str) -> None:
    answer = api.post("partner", "/v1/check", json=body)
    assert answer.status_code == status and message in answer.json()["detail"]


def test_an_error_page_or_a_missing_photo_at_the_url_is_a_422(api: Api, photo_server: str) -> None:
    answer = api.post("partner", "/v1/check", json={"image_url": f"{photo_server}/nothing-here.jpg"})
    assert answer.status_code == 422 and "answered HTTP 404" in answer.json()["detail"]


def test_a_body_in_another_media_type_is_a_415(api: Api) -> None:
    answer = api.post("partner", "/v1/check", content=b"<xml/>", headers={"Content-Type": "text/xml"})
    assert answer.status_code == 415 and "multipart" in answer.json()["detail"]


def test_a_multipart_body_without_the_image_field_is_a_422(api: Api) -> None:
    answer = api.post("partner", "/v1/check", files={"photo": ("x.jpg", b"abc")})
    assert answer.status_code == 422 and "'image'" in answer.json()["detail"]


@pytest.mark.parametrize(
    "name",
    [
        "empty",
        "one_byte",
        "random_bytes",
        "text",
        "html",
        "svg",
        "gif_300_frames",
        "pdf",
        "truncated_jpeg",
        "truncated_png",
        "png_bomb_40000",
        "png_header_65000",
        "jpeg_header_65000",
        "webp_canvas_bomb",
        "huge_side",
    ],
)
def test_a_hostile_upload_gets_a_4xx_json_message_and_the_server_keeps_serving(
    api: Api, hostile_images: dict[str, Path], name: str
) -> None:
    data = hostile_images[name].read_bytes()
    for path, who in (("/v1/check", "partner"), ("/v1/public/check", "partner")):
        answer = api.post(who, path, files={"image": (hostile_images[name].name, data)})
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
        assert answer.json()["detail"]
    assert api.client.get("/healthz").status_code == 200


def test_a_body_over_the_request_cap_is_refused_with_413_before_it_is_read(
    make_api: Callable[..., Api],
) -> None:
    small = make_api(max_request_bytes=200_000)
    huge = bytes(1_000_000)
    for path in ("/v1/check", "/v1/public/check"):
        answer = small.post("partner", path, files={"image": ("huge.jpg", huge)})
        assert answer.status_code == 413
        assert answer.json() == {"detail": "the request body is over the limit of 200000 bytes"}
    streamed = small.client.post(
        "/v1/public/check",
        content=iter([b"--x\r\n", bytes(300_000)]),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert streamed.status_code == 413
    assert small.client.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_an_image_over_the_byte_cap_is_refused_with_413(make_api: Callable[..., Api]) -> None:
    capped = make_api(max_image_bytes=10_000)
    answer = capped.post("partner", "/v1/check", files={"image": ("big.jpg", MIRRORED_DA_002.read_bytes())})
    assert answer.json() == {"detail": "image is 17281 bytes; the limit is 10000 bytes"}
    assert answer.status_code == 413


def test_the_public_check_needs_no_key_and_keeps_no_record(api_with_catalog: Api) -> None:
    answer = api_with_catalog.client.post(
        "/v1/public/check", files={"image": ("p.jpg", MIRRORED_DA_002.read_bytes())}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["verdict"] == "copy" and body["check_id"] is None and len(body["matches"]) == 3
    with open_database(api_with_catalog.settings).session() as session:
        assert session.query(CheckRecord).count() == 0
