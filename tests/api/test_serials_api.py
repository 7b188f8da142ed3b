"""Serials over HTTP: import the registry, verify typed serials and QR photos, spot cloned tags."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import segno
from api_client import Api
from PIL import Image


def qr_photo(text: str, angle: float = 6) -> bytes:
    """A phone-like photo of a tag: a QR code, slightly turned, on a shaded background, as JPEG."""
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=7, border=4)
    code = Image.open(buffer).convert("RGB").rotate(angle, expand=True, fillcolor=(255, 255, 255))
    photo = Image.linear_gradient("L").resize((1000, 750)).convert("RGB")
    photo.paste(code, (320, 160))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85)
    return out.getvalue()


REGISTRY = (
    "\n".join(
        [
            "sku,serial,batch",
            "DA-001,SN-0001,B1",
            "DA-001,sn-0002,B1",
            "DA-002,SN-0003,",
            ",SN-0004,B2",
            "DA-002,SN-0001,B9",
        ]
    )
    + "\n"
)


@pytest.fixture
def serial_api(make_api: Callable[..., Api]) -> Api:
    api = make_api(serial_max_lookups=4, serial_max_places=2)
    answer = api.post("admin", "/v1/serials/import", files={"file": ("serials.csv", REGISTRY.encode())})
    assert answer.status_code == 200
    assert answer.json() == {
        "rows": 5,
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "errors": [
            "line 5: the sku is empty or longer than 128 characters",
            "line 6: serial SN-0001 appears twice in the file",
        ],
    }
    return api


def _verify(api: Api, serial: str, place: str | None = None) -> dict[str, object]:
    answer = api.client.post("/v1/public/serials/verify", json={"serial": serial, "place": place})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_registered_serial_is_genuine_whatever_its_case_and_spacing(serial_api: Api) -> None:
    body = _verify(serial_api, " sn 0002 ".replace(" 0", "-0"), "Berlin")
    assert (body["serial"], body["result"], body["sku"], body["batch"]) == (
        "SN-0002",
        "genuine",
        "DA-001",
        "B1",
    )
    assert (body["lookups"], body["places"], body["source"]) == (1, 1, "typed")


def test_an_unregistered_serial_is_unknown_and_still_counted(serial_api: Api) -> None:
    body = _verify(serial_api, "SN-9999")
    assert (body["result"], body["sku"]) == ("unknown", None)
    kpis = serial_api.get("reviewer", "/v1/kpis").json()
    assert kpis["serial_lookups"] == 1


def test_a_serial_looked_up_too_often_becomes_suspicious(serial_api: Api) -> None:
    results = [_verify(serial_api, "SN-0003", "Berlin")["result"] for _ in range(5)]
    assert results == ["genuine"] * 4 + ["suspicious"]
    info = serial_api.get("reviewer", "/v1/serials/SN-0003").json()
    assert (info["lookups"], info["places"]) == (5, 1)


def test_a_serial_looked_up_from_too_many_places_becomes_suspicious(serial_api: Api) -> None:
    answers = [_verify(serial_api, "SN-0001", place) for place in ("Berlin", "Lagos", "Lima")]
    assert [answer["result"] for answer in answers] == ["genuine", "genuine", "suspicious"]
    assert answers[-1]["reasons"] == ["looked up from 3 places (more than 2)"]
    kpis = serial_api.get("admin", "/v1/kpis").json()
    assert (kpis["serial_lookups"], kpis["suspicious_serial_lookups"]) == (3, 1)


def test_a_serial_is_read_from_a_photo_of_its_qr_code(serial_api: Api) -> None:
    answer = serial_api.client.post(
        "/v1/public/serials/verify-photo",
        files={"image": ("tag.jpg", qr_photo("SN-0001"))},
        data={"place": "Oslo"},
    )
    assert answer.status_code == 200, answer.text
    assert {k: answer.json()[k] for k in ("serial", "result", "sku", "source")} == {
        "serial": "SN-0001",
        "result": "genuine",
        "sku": "DA-001",
        "source": "qr",
    }


def test_a_qr_code_holding_a_verification_url_gives_its_serial(serial_api: Api) -> None:
    photo = qr_photo("https://verify.demo-apparel.example/check?serial=SN-0003", angle=-4)
    body = serial_api.client.post(
        "/v1/public/serials/verify-photo", files={"image": ("tag.jpg", photo)}
    ).json()
    assert (body["serial"], body["result"]) == ("SN-0003", "genuine")


def test_an_unknown_serial_in_a_qr_code_is_unknown(serial_api: Api) -> None:
    body = serial_api.client.post(
        "/v1/public/serials/verify-photo", files={"image": ("t.jpg", qr_photo("FAKE-1"))}
    )
    assert body.json()["result"] == "unknown"


def test_a_photo_without_a_readable_code_is_a_clear_422(serial_api: Api) -> None:
    blank = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(blank, "PNG")
    answer = serial_api.client.post(
        "/v1/public/serials/verify-photo", files={"image": ("b.png", blank.getvalue())}
    )
    assert answer.status_code == 422 and "no QR code" in answer.json()["detail"]
    not_image = serial_api.client.post(
        "/v1/public/serials/verify-photo", files={"image": ("b.png", b"hello")}
    )
    assert not_image.status_code == 415


def test_importing_a_file_without_the_columns_is_a_422(serial_api: Api) -> None:
    answer = serial_api.post("admin", "/v1/serials/import", files={"file": ("s.csv", b"code,product\n1,2\n")})
    assert answer.status_code == 422 and "lacks the column(s) sku, serial" in answer.json()["detail"]
    latin = serial_api.post(
        "admin", "/v1/serials/import", files={"file": ("s.csv", "sku,serial\nÄ,1\n".encode("latin-1"))}
    )
    assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
    assert serial_api.get("reviewer", "/v1/serials/NOPE").status_code == 404
