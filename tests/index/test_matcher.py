"""The matcher on the demo catalog: copies, product photos and unrelated photos, with evidence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from sibling_packages import blueberry_packshot, decoded, jpeg, shop_photo, vanilla_sibling

from hallmark.settings import Settings
from index.catalog import VIEW_ID_OFFSET, Catalog
from index.catalog_csv import ProductFields
from index.matcher import (
    DECIDED_BY_CONTEST,
    DECIDED_BY_COPY_RULE,
    CheckResult,
    Matcher,
    VerificationGate,
    _whole_frame_untilted,
    result_to_json,
    verification_order,
)
from index.scoring import (
    DECISIVE_AGREEMENT,
    DECISIVE_INLIERS,
    DECISIVE_LOW_AGREEMENT,
    BoostedTrees,
    ScoreModel,
    default_score_model,
)
from index.service import open_catalog
from models.regions import REGIONS
from vision.decode import DecodedImage, read_image
from vision.geometry import extract_features, verify

DEMO = Path(__file__).resolve().parents[2] / "demo"
EVIDENCE_FIELDS = {
    "similarity",
    "region_similarity",
    "region",
    "verified",
    "inliers",
    "inlier_ratio",
    "spread",
    "mirrored",
    "agreement",
    "decided_by",
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Catalog:
    settings = Settings(home=tmp_path_factory.mktemp("home"), model_cache=model_cache)
    catalog = open_catalog(settings)
    catalog.import_csv(DEMO / "catalog" / "catalog.csv")
    return catalog


@pytest.fixture(scope="module")
def matcher(catalog: Catalog) -> Matcher:
    return Matcher(catalog)


def _listing(name: str) -> DecodedImage:
    return read_image(DEMO / "listings" / name, min_side=224)


def _encoded(pixels: np.ndarray) -> DecodedImage:
    return decoded(pixels, quality=70)


def _check(matcher: Matcher, image: DecodedImage) -> CheckResult:
    return matcher.check([image], top_k=5)[0]


def test_a_cropped_captioned_recompressed_copy_is_a_copy_with_inliers(matcher: Matcher) -> None:
    reference = read_image(DEMO / "catalog" / "images" / "DA-004.jpg").pixels
    height, width = reference.shape[:2]
    copy = reference[height // 6 :, width // 8 : width - width // 10].copy()
    cv2.putText(copy, "ONLY 9.99", (8, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 0), 3)
    result = _check(matcher, _encoded(copy))
    assert result.verdict == "copy"
    best = result.matches[0]
    assert best.sku == "DA-004" and best.kind == "copy"
    assert best.evidence["inliers"] >= 20 and best.evidence["agreement"] > 0.8
    assert len(best.evidence["keypoints"]) > 0 and len(best.evidence["keypoints"][0]) == 4
    # The listing's colour copy is made on its first alignment; a copy keeps the source's colours.
    assert best.evidence["colour_difference"] is not None and best.evidence["colour_difference"] < 10


def test_a_heavy_crop_is_verified_again_against_the_part_of_the_reference_it_shows(
    matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.matcher as matcher_module

    reference = read_image(DEMO / "catalog" / "images" / "DA-004.jpg").pixels
    height, width = reference.shape[:2]
    top, left, bottom, right = height // 4, width // 3, height // 4 + height // 2, width // 3 + width // 2
    crop = _encoded(reference[top:bottom, left:right].copy())

    zoomed = _check(matcher, crop).matches[0]
    monkeypatch.setattr(matcher_module, "ZOOM_BELOW_SHARE", 0.0)
    whole = _check(matcher, crop).matches[0]

    assert zoomed.sku == whole.sku == "DA-004"
    assert zoomed.kind == "copy" and zoomed.evidence["agreement"] > 0.8
    assert zoomed.evidence["inliers"] > whole.evidence["inliers"]
    # Reported in the reference photo's own pixels: inside the part the crop was taken from.
    pairs = np.array(zoomed.evidence["keypoints"])
    assert np.all((pairs[:, 2] >= left - 2) & (pairs[:, 2] <= right + 2))
    assert np.all((pairs[:, 3] >= top - 2) & (pairs[:, 3] <= bottom + 2))


def test_a_copy_shown_small_in_a_larger_photo_is_verified_again_from_the_part_it_fills(
    matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.matcher as matcher_module

    reference = read_image(DEMO / "catalog" / "images" / "DA-004.jpg").pixels
    height, width = reference.shape[:2]
    # The brand's photo at a third of its size, pasted onto a busy page (as in a collage).
    small = cv2.resize(reference, (width // 3, height // 3), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(11).integers(0, 255, (height, width, 3), dtype=np.uint8)
    page = cv2.GaussianBlur(noise, (0, 0), 2)
    top, left = height // 2, width // 5
    page[top : top + small.shape[0], left : left + small.shape[1]] = small
    listing = _encoded(page)

    zoomed = _check(matcher, listing).matches[0]
    monkeypatch.setattr(matcher_module, "ZOOM_BELOW_SHARE", 0.0)
    whole = _check(matcher, listing).matches[0]

    assert zoomed.sku == whole.sku == "DA-004"
    assert zoomed.kind == "copy" and zoomed.evidence["agreement"] > 0.8
    assert zoomed.evidence["inliers"] > 2 * whole.evidence["inliers"]
    assert zoomed.score > whole.score
    # Reported in the listing's own pixels: inside the part the copy was pasted on.
    pairs = np.array(zoomed.evidence["keypoints"])
    assert np.all((pairs[:, 0] >= left - 2) & (pairs[:, 0] <= left + small.shape[1] + 2))
    assert np.all((pairs[:, 1] >= top - 2) & (pairs[:, 1] <= top + small.shape[0] + 2))


def _small_copy_on_a_page(name: str) -> DecodedImage:
    """A brand photo at 40 % of each side, pasted onto a busy page, saved as a JPEG."""
    reference = read_image(DEMO / "catalog" / "images" / name).pixels
    height, width = reference.shape[:2]
    small = cv2.resize(reference, (width * 2 // 5, height * 2 // 5), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(5).integers(0, 255, (height, width, 3), dtype=np.uint8)
    page = cv2.GaussianBlur(noise, (0, 0), 3)
    page[height // 3 : height // 3 + small.shape[0], width // 2 : width // 2 + small.shape[1]] = small
    return _encoded(page)


def test_a_decisive_copy_is_flagged_even_where_the_score_trees_doubt_it(catalog: Catalog) -> None:
    base = default_score_model()
    doubtful = replace(base, trees=BoostedTrees.constant(-5.0), decisive_copy_score=0.0)
    listing = _small_copy_on_a_page("DA-004.jpg")

    doubted = Matcher(catalog, doubtful).check([listing])[0]
    ruled = Matcher(catalog, replace(doubtful, decisive_copy_score=0.97)).check([listing])[0]

    assert doubted.verdict == "none" and doubted.matches[0].sku == "DA-004"
    assert ruled.verdict == "copy" and ruled.score == pytest.approx(0.97)
    best = ruled.matches[0]
    assert best.sku == "DA-004" and best.kind == "copy"
    assert best.evidence["decided_by"] == DECIDED_BY_COPY_RULE
    assert best.evidence["inliers"] >= DECISIVE_INLIERS and best.evidence["agreement"] >= DECISIVE_AGREEMENT
    assert best.evidence["agreement_low"] >= DECISIVE_LOW_AGREEMENT
    # The other candidates keep the trees' doubt.
    assert all(match.score < 0.01 for match in ruled.matches[1:])


def test_two_photos_of_one_carpet_overlapping_in_a_corner_are_not_zoomed_into_as_a_small_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import index.matcher as matcher_module

    side = 600
    noise = np.random.default_rng(4).integers(0, 255, (2 * side, 2 * side, 3), dtype=np.uint8)
    carpet = cv2.GaussianBlur(noise, (0, 0), 4)
    shift = int(side * 0.6)
    # The reference's corner is the listing's opposite corner: pixel for pixel the same, as a
    # seller's carpet is under every garment, but only a corner of the reference is in the listing.
    reference = extract_features(np.ascontiguousarray(carpet[:side, :side]))
    pixels = np.ascontiguousarray(carpet[shift : shift + side, shift : shift + side])
    listing = matcher_module._Listing(pixels, extract_features(pixels, colour=False))
    found = verify(listing.features, reference)
    assert found.homography is not None and found.inliers >= matcher_module.ZOOM_MIN_INLIERS

    kept, features = matcher_module._zoomed_listing(listing, reference, found, copy_agreement=0.7)
    assert kept is found and features is listing.features
    # Only the spread rule keeps it out: the part alone aligns with more inliers, all in a corner.
    monkeypatch.setattr(matcher_module, "ZOOM_MIN_SPREAD", 0.0)
    zoomed, part = matcher_module._zoomed_listing(listing, reference, found, copy_agreement=0.7)
    assert part is not listing.features
    assert zoomed.inliers > found.inliers and zoomed.spread < 0.2


def test_a_packshot_seen_from_far_above_is_verified_with_its_foreshortened_views(matcher: Matcher) -> None:
    packshot = read_image(DEMO / "catalog" / "images" / "Arla-Natural-Yoghurt.jpg").pixels
    height, width = packshot.shape[:2]
    corners = [[0, 0], [width, 0], [width, height], [0, height]]
    # Half as tall, the far edge narrower, filling most of the listing (so no part is zoomed into).
    seen_from_above = [
        [0.05 * width, 0.1 * height],
        [1.05 * width, 0.1 * height],
        [0.97 * width, 0.6 * height],
        [0.13 * width, 0.6 * height],
    ]
    transform = cv2.getPerspectiveTransform(np.float32(corners), np.float32(seen_from_above))
    shot = cv2.warpPerspective(
        packshot, transform, (int(1.1 * width), int(0.7 * height)), borderValue=(90, 100, 110)
    )
    listing = _encoded(shot)
    without_views = verify(extract_features(listing.pixels, colour=False), extract_features(packshot))

    best = _check(matcher, listing).matches[0]

    assert best.sku == "Arla-Natural-Yoghurt"
    assert best.evidence["inliers"] > 2 * without_views.inliers


def test_the_demo_reused_photos_are_copies(matcher: Matcher) -> None:
    for name, sku in (("reused-photo-cropped.jpg", "DA-001"), ("reused-photo-mirrored.jpg", "DA-002")):
        result = _check(matcher, _listing(name))
        assert (result.verdict, result.matches[0].sku) == ("copy", sku)
    assert _check(matcher, _listing("reused-photo-mirrored.jpg")).matches[0].evidence["mirrored"]


def test_unrelated_photos_are_not_flagged(matcher: Matcher) -> None:
    for name in ("unrelated-clothes.jpg", "unrelated-produce.jpg"):
        assert _check(matcher, _listing(name)).verdict == "none"


def test_a_shop_photo_of_a_catalog_product_ranks_it_first_as_a_product(matcher: Matcher) -> None:
    result = _check(matcher, _listing("phone-photo-tropicana-apple-juice.jpg"))
    assert result.matches[0].sku == "Tropicana-Apple-Juice"
    assert result.matches[0].kind == "product"


def test_scores_are_sorted_probabilities_and_the_verdict_follows_the_threshold(matcher: Matcher) -> None:
    images = [_listing(path.name) for path in sorted((DEMO / "listings").glob("*.jpg"))]
    for result in matcher.check(images, top_k=5):
        scores = [match.score for match in result.matches]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= score <= 1.0 for score in scores)
        assert result.score == scores[0]
        assert (result.verdict != "none") == (result.score >= matcher.threshold)


def test_every_match_carries_its_evidence_in_the_json_contract(matcher: Matcher) -> None:
    payload = result_to_json("listing.jpg", _check(matcher, _listing("reused-photo-cropped.jpg")))
    assert set(payload) == {"image", "verdict", "score", "matches"}
    for match in payload["matches"]:
        assert {"sku", "name", "score", "kind", "reference_image", "evidence"} <= set(match)
        assert set(match["evidence"]) >= EVIDENCE_FIELDS
    assert payload["matches"][0]["evidence"]["decided_by"] == "geometry and pixels"


def test_top_k_limits_the_matches(matcher: Matcher) -> None:
    assert len(matcher.check([_listing("unrelated-clothes.jpg")], top_k=2)[0].matches) == 2


def test_checking_nothing_returns_nothing(matcher: Matcher) -> None:
    assert matcher.check([]) == []


def test_weakly_matched_photos_have_deeper_candidates_verified(catalog: Catalog) -> None:
    # Gates wide open: one candidate normally, three when it has fewer inliers than a (huge) bar.
    base = replace(default_score_model(), verify_similarity=-1.0, verify_margin=2.0, verify_limit=1)
    shallow = Matcher(catalog, replace(base, weak_inliers=0, verify_limit_weak=3))
    deep = Matcher(catalog, replace(base, weak_inliers=10_000, verify_limit_weak=3))
    image = _listing("unrelated-produce.jpg")
    verified_shallow = [m.evidence["verified"] for m in shallow.check([image], top_k=1)[0].matches]
    verified_deep = [m.evidence["verified"] for m in deep.check([image], top_k=5)[0].matches]
    assert sum(verified_shallow) <= 1
    assert sum(verified_deep) == min(3, len(verified_deep))


def test_a_heavily_blurred_copy_still_finds_its_source_first(matcher: Matcher) -> None:
    # Blurred this much, the copy's regions are far from its sharp source (a best cosine of about
    # 0.43); the source's blurred vector in the index is what finds it (about 0.62).
    reference = read_image(DEMO / "catalog" / "images" / "DA-006.jpg").pixels
    blurred = cv2.GaussianBlur(reference, (0, 0), 5.0 * max(reference.shape[:2]) / 224)
    best = _check(matcher, _encoded(blurred)).matches[0]
    assert best.sku == "DA-006"
    assert best.evidence["region_similarity"] > 0.55


def test_a_batch_verified_on_several_threads_gives_each_photo_its_own_result(catalog: Catalog) -> None:
    images = [_listing(path.name) for path in sorted((DEMO / "listings").glob("*.jpg"))]
    parallel = Matcher(catalog, workers=2).check(images, top_k=5)
    one_by_one = [Matcher(catalog, workers=1).check([image], top_k=5)[0] for image in images]
    assert [result_to_json("x", result) for result in parallel] == [
        result_to_json("x", result) for result in one_by_one
    ]


def test_embedding_and_matching_apart_give_what_check_gives(matcher: Matcher) -> None:
    images = [_listing("reused-photo-cropped.jpg"), _listing("unrelated-clothes.jpg")]
    embedded = matcher.embed(images)
    assert embedded.regions.shape[:2] == (2, len(REGIONS))
    apart = matcher.match(embedded, top_k=3)
    assert [result_to_json("x", result) for result in apart] == [
        result_to_json("x", result) for result in matcher.check(images, top_k=3)
    ]


def test_a_confirmed_listing_photo_adds_its_similarity_beside_the_brand_photos_evidence(
    tmp_path: Path, model_cache: Path, matcher: Matcher
) -> None:
    catalog = open_catalog(Settings(home=tmp_path, model_cache=model_cache))
    catalog.import_csv(DEMO / "catalog" / "catalog.csv")
    oatly = ProductFields(sku="Oatly-Oat-Milk", name="Oatly Oat Milk", brand="Oatly")
    shop_photo = (DEMO / "listings" / "phone-photo-oatly-oat-milk.jpg").read_bytes()
    catalog.add_reference(oatly, shop_photo, "confirmed shop photo", origin="confirmed")
    learned = Matcher(catalog)

    (oatly_result,) = learned.check([_listing("phone-photo-oatly-oat-milk.jpg")])
    best = oatly_result.matches[0]
    # Shortlisted through the confirmed photo (the same photo here, described at the listing's input
    # size and at the catalog's), verified against the packshot.
    assert best.sku == "Oatly-Oat-Milk" and best.reference.source_path.endswith("Oatly-Oat-Milk.jpg")
    assert best.evidence["confirmed_similarity"] > 0.9 and best.evidence["confirmed_reference"] is False
    assert best.evidence["verified"] and best.evidence["confirmed_gap"] == 0.0

    # Products with no confirmed photo keep exactly the evidence the index's hits gave them.
    image = _listing("phone-photo-tropicana-apple-juice.jpg")
    with_confirmed = {m.sku: m.evidence for m in learned.check([image], top_k=5)[0].matches}
    without = {m.sku: m.evidence for m in _check(matcher, image).matches}
    tropicana = with_confirmed["Tropicana-Apple-Juice"]
    assert tropicana["confirmed_similarity"] == 0.0
    for field in ("similarity", "region_similarity", "region", "inliers"):
        assert tropicana[field] == pytest.approx(without["Tropicana-Apple-Juice"][field], abs=2e-4)


@pytest.fixture(scope="module")
def sibling_catalog(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Catalog:
    """The demo catalog with a vanilla sibling of its Alpro blueberry package (same print, its
    flavour's picture yellow)."""
    home = tmp_path_factory.mktemp("siblings")
    catalog = open_catalog(Settings(home=home / "data", model_cache=model_cache))
    catalog.import_csv(DEMO / "catalog" / "catalog.csv")
    vanilla = decoded(vanilla_sibling(blueberry_packshot()), quality=95)
    sibling = ProductFields(sku="Alpro-Vanilla-Soyghurt", name="Alpro Vanilla Soyghurt", brand="Alpro")
    catalog.add_reference(sibling, jpeg(vanilla.pixels), "vanilla packshot")
    return catalog


def _vanilla_in_a_shop() -> DecodedImage:
    return decoded(shop_photo(vanilla_sibling(blueberry_packshot())))


def _judged_as_a_product(**contest: float | None) -> ScoreModel:
    """The shipped model with the given contest and no copy rule: the synthetic shop photo is made
    from the packshot itself, so its pixels agree as a reused photo's do, and a copy is never
    contested (pixel agreement decides copies)."""
    return replace(default_score_model(), copy_agreement=1.01, decisive_copy_score=0.0, **contest)  # type: ignore[arg-type]


def test_a_shop_photo_of_one_sibling_package_sides_with_it_in_their_colour_contest(
    sibling_catalog: Catalog,
) -> None:
    contesting = _judged_as_a_product(contest_margin=4.0, contest_ratio=0.0)
    result = Matcher(sibling_catalog, contesting).check([_vanilla_in_a_shop()])[0]
    first, second = result.matches[:2]
    assert {first.sku, second.sku} == {"Alpro-Vanilla-Soyghurt", "Alpro-Blueberry-Soyghurt"}
    assert first.sku == "Alpro-Vanilla-Soyghurt"
    (contest,) = first.evidence["colour_contests"]
    assert contest["rival"] == "Alpro-Blueberry-Soyghurt"
    assert contest["distance"] + 10 < contest["rival_distance"]
    assert second.evidence["colour_contests"][0]["rival"] == "Alpro-Vanilla-Soyghurt"
    assert all("colour_contests" not in match.evidence for match in result.matches[2:])


def test_a_won_colour_contest_trades_the_two_scores_and_says_so(sibling_catalog: Catalog) -> None:
    image = _vanilla_in_a_shop()
    plain = Matcher(sibling_catalog, _judged_as_a_product(contest_margin=None)).check([image])[0]
    # A margin no contest can miss: whatever the colours, the runner-up takes first place.
    forced = _judged_as_a_product(contest_margin=-1000.0, contest_ratio=0.0)
    overturned = Matcher(sibling_catalog, forced).check([image])[0]
    assert "colour_contests" not in plain.matches[0].evidence
    assert [match.sku for match in overturned.matches[:2]] == [match.sku for match in plain.matches[1::-1]]
    assert [match.score for match in overturned.matches[:2]] == [match.score for match in plain.matches[:2]]
    promoted, demoted = overturned.matches[:2]
    assert promoted.evidence["colour_contests"][0]["overturned"] is True
    assert promoted.evidence["decided_by"] == DECIDED_BY_CONTEST
    assert demoted.evidence["decided_by"] != DECIDED_BY_CONTEST


def test_calibration_can_have_every_aligned_pair_contested_without_reordering(
    sibling_catalog: Catalog,
) -> None:
    image = _vanilla_in_a_shop()
    model = _judged_as_a_product(contest_margin=None)
    plain = Matcher(sibling_catalog, model).check([image])[0]
    reported = Matcher(sibling_catalog, model, report_contests=True).check([image])[0]
    assert [(m.sku, m.score) for m in reported.matches] == [(m.sku, m.score) for m in plain.matches]
    contested = {
        m.sku: m.evidence["colour_contests"] for m in reported.matches if "colour_contests" in m.evidence
    }
    assert set(contested) >= {"Alpro-Vanilla-Soyghurt", "Alpro-Blueberry-Soyghurt"}
    assert all(not contest["overturned"] for contests in contested.values() for contest in contests)


def test_verification_takes_the_closest_products_of_each_kind_of_photo_in_turn() -> None:
    brand = [0.60, 0.55, 0.50, 0.45]
    confirmed = [None, 0.70, None, 0.90]
    # Brand ranks 0, 1, 2, 3; confirmed ranks: the last is first, the second is second.
    assert verification_order(brand, confirmed) == [0, 3, 1, 2]
    assert verification_order(brand, [None] * 4) == [0, 1, 2, 3]


def test_each_kind_of_photo_is_gated_against_its_own_kind() -> None:
    model = replace(default_score_model(), verify_similarity=0.4, verify_margin=0.1)
    gate = VerificationGate.of(model, [0.60, 0.45], [0.90])
    assert gate.admits(0.55, None) and not gate.admits(0.45, None)
    # A shop photo 0.85 close admits its product whatever its packshot's similarity; 0.75 does not.
    assert gate.admits(0.30, 0.85) and not gate.admits(0.45, 0.75)
    brand_only = VerificationGate.of(model, [0.45], [])
    assert brand_only.admits(0.40, None) and not brand_only.admits(0.39, 0.99)


def test_the_whole_frame_is_compared_with_untilted_views_and_the_regions_with_every_view() -> None:
    photo, blurred, tilted = 7, 7 + VIEW_ID_OFFSET, 7 + 2 * VIEW_ID_OFFSET
    other_tilted = 9 + 3 * VIEW_ID_OFFSET
    similarities = np.array([[0.9, 0.8, 0.7], [0.95, 0.6, 0.5]], dtype=np.float32)
    ids = np.array([[tilted, photo, other_tilted], [tilted, blurred, photo]], dtype=np.int64)

    kept_similarities, kept_ids = _whole_frame_untilted(similarities, ids)

    assert kept_ids[0].tolist() == [-1, photo, -1]
    assert kept_similarities[0].tolist()[1] == pytest.approx(0.8)
    assert np.isneginf(kept_similarities[0, [0, 2]]).all()
    assert kept_ids[1].tolist() == ids[1].tolist()  # a region keeps its tilted hits
    assert ids[0, 0] == tilted  # the search's own arrays are left as they were


@pytest.fixture(scope="module")
def distant_sibling_catalog(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Catalog:
    """The demo catalog with the vanilla sibling photographed from farther (small on a white
    backdrop): a shop photo of it is closer to the blueberry packshot by descriptor, while local
    features align it with both."""
    home = tmp_path_factory.mktemp("distant-sibling")
    catalog = open_catalog(Settings(home=home / "data", model_cache=model_cache))
    catalog.import_csv(DEMO / "catalog" / "catalog.csv")
    vanilla = vanilla_sibling(blueberry_packshot())
    height, width = vanilla.shape[:2]
    small = cv2.resize(vanilla, (width * 3 // 5, height * 3 // 5), interpolation=cv2.INTER_AREA)
    backdrop = np.full_like(vanilla, 255)
    top, left = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    backdrop[top : top + small.shape[0], left : left + small.shape[1]] = small
    sibling = ProductFields(sku="Alpro-Vanilla-Soyghurt", name="Alpro Vanilla Soyghurt", brand="Alpro")
    catalog.add_reference(sibling, jpeg(backdrop), "vanilla packshot, from farther")
    return catalog


def _closest_only(threshold: float) -> ScoreModel:
    """A product-judging model that verifies only the closest product by descriptor, never deeper,
    flagging from ``threshold``."""
    contesting = _judged_as_a_product(contest_margin=4.0, contest_ratio=0.0)
    return replace(contesting, verify_limit=1, verify_limit_weak=0, threshold=threshold)


def test_an_uncertain_photo_has_the_sibling_packages_of_its_best_candidates_verified(
    distant_sibling_catalog: Catalog,
) -> None:
    image = _vanilla_in_a_shop()
    # Every score at or above 0 flags: no photo is uncertain, and only the closest is verified.
    certain = Matcher(distant_sibling_catalog, _closest_only(0.0)).check([image], top_k=1)[0]
    assert certain.matches[0].sku == "Alpro-Blueberry-Soyghurt"
    assert certain.matches[0].evidence["inliers"] >= 20
    assert "sibling_of" not in certain.matches[0].evidence
    # Below the threshold, the blueberry packshot's sibling is verified and wins their colour contest.
    uncertain = Matcher(distant_sibling_catalog, _closest_only(1.0)).check([image], top_k=1)[0]
    (first,) = uncertain.matches
    assert first.sku == "Alpro-Vanilla-Soyghurt"
    assert first.evidence["sibling_of"] == "Alpro-Blueberry-Soyghurt"
    assert first.evidence["inliers"] >= 20
    assert first.evidence["colour_contests"][0]["rival"] == "Alpro-Blueberry-Soyghurt"


def test_a_sibling_kept_but_not_verified_is_verified_where_it_stands(
    distant_sibling_catalog: Catalog,
) -> None:
    # Asking for five matches keeps five candidates, of which the model verifies only the closest;
    # the vanilla sibling is among the other four, and is verified as it would be if added.
    result = Matcher(distant_sibling_catalog, _closest_only(1.0)).check([_vanilla_in_a_shop()], top_k=5)[0]
    first = result.matches[0]
    assert (first.sku, first.evidence["sibling_of"]) == ("Alpro-Vanilla-Soyghurt", "Alpro-Blueberry-Soyghurt")
    assert first.evidence["verified"] and first.evidence["inliers"] >= 20
    assert len({match.sku for match in result.matches}) == 5


def test_an_operators_threshold_does_not_change_which_candidates_are_verified(
    distant_sibling_catalog: Catalog,
) -> None:
    image = _vanilla_in_a_shop()
    shipped = Matcher(distant_sibling_catalog, _closest_only(0.0)).check([image], top_k=1)[0]
    strict = Matcher(distant_sibling_catalog, _closest_only(0.0), threshold=1.0).check([image], top_k=1)[0]
    assert [(m.sku, m.score) for m in strict.matches] == [(m.sku, m.score) for m in shipped.matches]
    assert (shipped.verdict, strict.verdict) == ("product", "none")


def test_calibration_has_every_sibling_of_every_aligned_candidate_verified_and_kept(
    distant_sibling_catalog: Catalog,
) -> None:
    image = _vanilla_in_a_shop()
    matcher = Matcher(distant_sibling_catalog, _closest_only(0.0), report_siblings=True)
    result = matcher.check([image], top_k=1)[0]
    assert sorted(match.sku for match in result.matches) == [
        "Alpro-Blueberry-Soyghurt",
        "Alpro-Vanilla-Soyghurt",
    ]
    (sibling,) = [match for match in result.matches if "sibling_of" in match.evidence]
    assert (sibling.sku, sibling.evidence["sibling_of"]) == (
        "Alpro-Vanilla-Soyghurt",
        "Alpro-Blueberry-Soyghurt",
    )
    blueberry = next(match.reference for match in result.matches if match.sku == "Alpro-Blueberry-Soyghurt")
    assert [reference.sku for reference in matcher.siblings_of(blueberry)] == ["Alpro-Vanilla-Soyghurt"]
