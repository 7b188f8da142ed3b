"""``hallmark check``: the contract other tools rely on, and clear errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hallmark_cli import REPO
from hallmark_cli import HallmarkRunner as RunHallmark

LISTINGS = REPO / "demo" / "listings"
CONTRACT_FIELDS = {"image", "verdict", "score", "matches"}
MATCH_FIELDS = {"sku", "name", "score", "kind", "reference_image"}

pytestmark = pytest.mark.usefixtures("demo_catalog_imported")


def _json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_every_image_gets_one_json_line_with_the_contract_fields(run_hallmark: RunHallmark) -> None:
    done = run_hallmark("check", "--json", str(LISTINGS))
    assert done.returncode == 0, done.stderr
    lines = _json_lines(done.stdout)
    assert [line["image"] for line in lines] == [
        str(LISTINGS / name) for name in sorted(p.name for p in LISTINGS.iterdir())
    ]
    for line in lines:
        assert set(line) >= CONTRACT_FIELDS
        assert line["verdict"] in {"copy", "product", "none"}
        assert 0.0 <= line["score"] <= 1.0  # type: ignore[operator]
        matches = line["matches"]
        assert isinstance(matches, list) and len(matches) == 5
        scores = [match["score"] for match in matches]
        assert scores == sorted(scores, reverse=True)
        for match in matches:
            assert set(match) >= MATCH_FIELDS
            assert match["kind"] in {"copy", "product"}
            assert Path(match["reference_image"]).is_absolute()
            assert Path(match["reference_image"]).is_file()
        if line["verdict"] != "none":
            assert line["verdict"] == matches[0]["kind"] and line["score"] == matches[0]["score"]


def test_a_reused_catalog_photo_is_matched_to_its_product(run_hallmark: RunHallmark) -> None:
    done = run_hallmark("check", "--json", str(LISTINGS / "reused-photo-mirrored.jpg"))
    (line,) = _json_lines(done.stdout)
    assert line["verdict"] == "copy"
    assert line["matches"][0]["sku"] == "DA-002"  # type: ignore[index]
    assert line["matches"][0]["reference_image"] == str(REPO / "demo" / "catalog" / "images" / "DA-002.jpg")  # type: ignore[index]


def test_an_unrelated_photo_is_not_flagged(run_hallmark: RunHallmark) -> None:
    done = run_hallmark("check", "--json", str(LISTINGS / "unrelated-produce.jpg"))
    (line,) = _json_lines(done.stdout)
    assert line["verdict"] == "none"


def test_top_k_limits_the_candidates(run_hallmark: RunHallmark) -> None:
    done = run_hallmark("check", "--json", "--top-k", "2", str(LISTINGS / "unrelated-clothes.jpg"))
    (line,) = _json_lines(done.stdout)
    assert len(line["matches"]) == 2  # type: ignore[arg-type]


def test_files_keep_the_order_they_were_given_in(run_hallmark: RunHallmark) -> None:
    names = ["unrelated-produce.jpg", "reused-photo-cropped.jpg", "phone-photo-oatly-oat-milk.jpg"]
    done = run_hallmark("check", "--json", *(f"demo/listings/{name}" for name in names))
    assert [line["image"] for line in _json_lines(done.stdout)] == [f"demo/listings/{name}" for name in names]


def test_a_folder_is_searched_recursively_and_in_path_order(
    tmp_path: Path, run_hallmark: RunHallmark
) -> None:
    photos = tmp_path / "photos"
    (photos / "b" / "deeper").mkdir(parents=True)
    shutil.copy(LISTINGS / "unrelated-produce.jpg", photos / "b" / "deeper" / "z.jpg")
    shutil.copy(LISTINGS / "unrelated-clothes.jpg", photos / "b" / "a.JPG")
    shutil.copy(LISTINGS / "reused-photo-cropped.jpg", photos / "a.jpg")
    (photos / "notes.txt").write_text("not an image, not picked up from a folder")
    done = run_hallmark("check", "--json", str(photos))
    assert done.returncode == 0, done.stderr
    assert [line["image"] for line in _json_lines(done.stdout)] == [
        str(photos / "a.jpg"),
        str(photos / "b" / "a.JPG"),
        str(photos / "b" / "deeper" / "z.jpg"),
    ]


def test_plain_output_has_one_line_per_image_with_the_verdict(run_hallmark: RunHallmark) -> None:
    done = run_hallmark("check", str(LISTINGS / "reused-photo-mirrored.jpg"))
    (line,) = done.stdout.splitlines()
    assert line.split("\t")[:2] == [str(LISTINGS / "reused-photo-mirrored.jpg"), "copy"]


def test_hostile_files_each_get_a_one_line_error_and_exit_code_1(
    run_hallmark: RunHallmark, hostile_images: dict[str, Path]
) -> None:
    files = [str(path) for path in hostile_images.values()]
    done = run_hallmark("check", "--json", str(LISTINGS / "unrelated-clothes.jpg"), *files)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = _json_lines(done.stdout)
    assert len(lines) == len(files) + 1
    assert lines[0]["verdict"] == "none"
    for line, name in zip(lines[1:], files, strict=True):
        assert line["image"] == name
        message = line["error"]
        assert isinstance(message, str) and message and "\n" not in message


def test_a_missing_file_is_reported_and_the_others_still_checked(run_hallmark: RunHallmark) -> None:
    done = run_hallmark("check", "--json", "nowhere.jpg", str(LISTINGS / "unrelated-clothes.jpg"))
    assert done.returncode == 1
    first, second = _json_lines(done.stdout)
    assert first["image"] == "nowhere.jpg" and "error" in first
    assert second["verdict"] in {"copy", "product", "none"}


@pytest.mark.parametrize("arguments", [[], ["--top-k", "0", "x.jpg"], ["--bogus", "x.jpg"]])
def test_usage_errors_exit_with_code_2(run_hallmark: RunHallmark, arguments: list[str]) -> None:
    done = run_hallmark("check", *arguments)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
