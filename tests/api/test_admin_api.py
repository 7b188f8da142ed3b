"""Admin routes: the catalog (the index follows), authorised sellers and API keys."""

from __future__ import annotations

from api_client import Api
from case_world import DEMO_IMAGES, MIRRORED_DA_002


def test_a_reference_photo_added_over_the_api_is_matched_at_once(api: Api) -> None:
    photo = (DEMO_IMAGES / "DA-002.jpg").read_bytes()
    fields = {"sku": "JKT-1", "name": "Jacket", "brand": "Demo Apparel", "msrp": "89.00", "currency": "EUR"}
    added = api.post("admin", "/v1/references", data=fields, files={"image": ("jacket.jpg", photo)})
    assert added.status_code == 201 and added.json()["created"] is True
    again = api.post("admin", "/v1/references", data=fields, files={"image": ("jacket.jpg", photo)})
    assert again.json() == {**added.json(), "created": False}
    check = api.post("partner", "/v1/check", files={"image": ("l.jpg", MIRRORED_DA_002.read_bytes())}).json()
    assert (check["verdict"], check["matches"][0]["sku"]) == ("copy", "JKT-1")
    products = api.get("reviewer", "/v1/products").json()
    assert products["total"] == 1 and products["items"][0]["references"] == 1
    product_id = added.json()["product_id"]
    detail = api.get("reviewer", f"/v1/products/{product_id}").json()
    assert detail["msrp"] == "89.00" and len(detail["reference_photos"]) == 1
    assert detail["reference_photos"][0]["origin"] == "catalog"
    image = api.client.get(detail["reference_photos"][0]["image_url"], headers=api.auth("reviewer"))
    assert image.content == photo
    removed = api.client.delete(f"/v1/references/{added.json()['reference_id']}", headers=api.auth("admin"))
    assert removed.json() == {"removed": 1}
    after = api.post("partner", "/v1/check", files={"image": ("l.jpg", MIRRORED_DA_002.read_bytes())}).json()
    assert after["matches"] == []
    gone = api.client.delete(f"/v1/products/{product_id}", headers=api.auth("admin"))
    assert gone.json() == {"removed": 0}
    assert api.get("reviewer", f"/v1/products/{product_id}").status_code == 404


def test_a_listing_photo_a_reviewer_confirmed_can_be_added_as_such(api: Api) -> None:
    photo = (DEMO_IMAGES / "DA-002.jpg").read_bytes()
    fields = {"sku": "JKT-1", "name": "Jacket", "brand": "Demo Apparel", "origin": "confirmed"}
    added = api.post("admin", "/v1/references", data=fields, files={"image": ("shop.jpg", photo)})
    assert added.status_code == 201
    detail = api.get("reviewer", f"/v1/products/{added.json()['product_id']}").json()
    assert [photo["origin"] for photo in detail["reference_photos"]] == ["confirmed"]
    check = api.post("partner", "/v1/check", files={"image": ("l.jpg", MIRRORED_DA_002.read_bytes())}).json()
    assert check["matches"][0]["evidence"]["confirmed_reference"] is True


def test_a_reference_with_bad_fields_or_bytes_is_refused_clearly(api: Api) -> None:
    photo = (DEMO_IMAGES / "DA-002.jpg").read_bytes()
    base = {"sku": "JKT-1", "name": "Jacket", "brand": "Demo"}
    bad_price = api.post(
        "admin", "/v1/references", data={**base, "msrp": "-3"}, files={"image": ("j.jpg", photo)}
    )
    assert bad_price.status_code == 422 and "msrp" in bad_price.json()["detail"]
    bad_date = api.post(
        "admin", "/v1/references", data={**base, "release_date": "soon"}, files={"image": ("j.jpg", photo)}
    )
    assert bad_date.status_code == 422
    bad_origin = api.post(
        "admin", "/v1/references", data={**base, "origin": "scraped"}, files={"image": ("j.jpg", photo)}
    )
    assert bad_origin.status_code == 422 and "origin" in str(bad_origin.json()["detail"])
    assert api.get("reviewer", "/v1/products").json()["total"] == 0
    not_image = api.post("admin", "/v1/references", data=base, files={"image": ("j.jpg", b"GIF89a....")})
    assert not_image.status_code == 415 and "GIF" in not_image.json()["detail"]


def test_authorised_sellers_are_added_listed_and_removed(api: Api) -> None:
    body = {"brand": "Demo Apparel", "marketplace": "eBay", "seller": "Official Store"}
    added = api.post("admin", "/v1/authorised-sellers", json=body)
    assert added.status_code == 201 and added.json()["marketplace"] == "ebay"
    duplicate = api.post("admin", "/v1/authorised-sellers", json={**body, "seller": " official  store "})
    assert duplicate.status_code == 409 and "already authorised" in duplicate.json()["detail"]
    listed = api.get("reviewer", "/v1/authorised-sellers", params={"brand": "demo apparel"}).json()
    assert [seller["seller"] for seller in listed] == ["Official Store"]
    seller_id = added.json()["id"]
    assert (
        api.client.delete(f"/v1/authorised-sellers/{seller_id}", headers=api.auth("admin")).status_code == 200
    )
    assert (
        api.client.delete(f"/v1/authorised-sellers/{seller_id}", headers=api.auth("admin")).status_code == 404
    )


def test_keys_are_created_once_listed_without_secrets_and_revoked_at_once(api: Api) -> None:
    created = api.post("admin", "/v1/keys", json={"role": "partner", "name": "resale.example"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("hm_") and created.json()["prefix"] == key[:10]
    assert api.client.get("/v1/checks", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = api.get("admin", "/v1/keys").json()
    assert "resale.example" in [item["name"] for item in listed]
    assert all("key" not in item for item in listed)
    revoked = api.client.delete(f"/v1/keys/{created.json()['id']}", headers=api.auth("admin"))
    assert revoked.json()["revoked_at"] is not None
    assert api.client.get("/v1/checks", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert api.post("admin", "/v1/keys", json={"role": "owner", "name": "x"}).status_code == 422
