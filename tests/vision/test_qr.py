"""Reading QR codes from photos of tags, made with segno as a phone would see them."""

from __future__ import annotations

import io

import pytest
import segno
from PIL import Image, ImageFilter

from vision.decode import decode_image
from vision.qr import read_qr_codes


def _photo(
    codes: list[tuple[str, tuple[int, int]]], *, angle: float = 0, blur: float = 0, size: int = 6
) -> bytes:
    photo = Image.linear_gradient("L").resize((1200, 900)).convert("RGB")
    for text, position in codes:
        buffer = io.BytesIO()
        segno.make_qr(text, error="m").save(buffer, kind="png", scale=size, border=4)
        code = Image.open(buffer).convert("RGB").rotate(angle, expand=True, fillcolor=(255, 255, 255))
        photo.paste(code, position)
    if blur:
        photo = photo.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.mark.parametrize("angle", [0, 7, -15, 30])
def test_a_turned_code_on_a_shaded_photo_is_read(angle: float) -> None:
    assert read_qr_codes(decode_image(_photo([("SN-0001", (400, 250))], angle=angle))) == ["SN-0001"]


def test_a_slightly_blurred_small_code_is_read() -> None:
    assert read_qr_codes(decode_image(_photo([("SN-0042", (100, 100))], blur=1.0, size=4))) == ["SN-0042"]


def test_two_codes_in_one_photo_are_both_read() -> None:
    found = read_qr_codes(decode_image(_photo([("SN-A", (80, 80)), ("SN-B", (700, 450))])))
    assert sorted(found) == ["SN-A", "SN-B"]


def test_a_photo_without_a_code_gives_nothing() -> None:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((640, 480)).convert("RGB").save(out, "PNG")
    assert read_qr_codes(decode_image(out.getvalue())) == []
