"""vision.decode: every image passes here, so every hostile input must end in one of our errors."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import resource
import struct
import time
import tracemalloc
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hostile_images import OVERSIZED_BYTES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, ImageOps

from hallmark.errors import (
    HallmarkError,
    ImageError,
    ImageTooLargeError,
    NotFoundError,
    UnsupportedImageFormatError,
)
from hallmark.settings import get_settings
from vision.decode import ALLOWED_FORMATS, DecodedImage, _to_rgb, decode_image, read_image

# Any warning that escapes the decoder fails the test that provoked it.
pytestmark = pytest.mark.filterwarnings("error")

DATA = Path(__file__).parents[2].parent / "shared" / "data"
PHOTO = DATA / "distractors" / "00000.jpg"  # 300 x 400, no EXIF orientation
needs_photo = pytest.mark.skipif(not PHOTO.exists(), reason="shared benchmark photos are not here")

EXPECTED = "expected JPEG, PNG or WebP"
CORRUPT = "image data is truncated or corrupt"


@pytest.fixture(autouse=True)
def default_caps(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The messages below quote the default caps; an operator's environment must not change them."""
    for name in ("MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "MAX_IMAGE_SIDE"):
        monkeypatch.delenv(f"HALLMARK_{name}", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def set_caps(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set caps the way an operator does, through HALLMARK_* variables."""

    def apply(**caps: int) -> None:
        for name, value in caps.items():
            monkeypatch.setenv(f"HALLMARK_{name.upper()}", str(value))
        get_settings.cache_clear()

    return apply


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def two_colour_image(width: int = 40, height: int = 20, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: enough to tell every rotation and flip apart."""
    image = Image.new("RGB", (width, height), (220, 20, 20))
    image.paste((20, 20, 220), (width // 2, 0, width, height))
    image.paste((20, 220, 20), (0, 0, width // 4, height // 4))  # green top-left corner
    return image.convert(mode)


def png_by_hand(width: int, height: int, bit_depth: int, colour_type: int, rows: list[bytes]) -> bytes:
    """A PNG with the given raw rows (each gets filter byte 0), for sample formats Pillow cannot write."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\x00" + row for row in rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def with_exif(jpeg: bytes, exif_payload: bytes) -> bytes:
    """Insert an APP1 EXIF segment holding exactly exif_payload (after the Exif header) into a JPEG."""
    segment = b"Exif\x00\x00" + exif_payload
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + jpeg[2:]


def orientation_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize in /proc/self/status")


@contextmanager
def address_space_limited_to(extra_bytes: int) -> Iterator[None]:
    """Let this process map at most extra_bytes more memory: any pixel buffer of a bomb would fail."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm_size() + extra_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# --- hostile files --------------------------------------------------------------------------------

HOSTILE_EXPECTATIONS: dict[str, tuple[type[HallmarkError], str]] = {
    "empty": (UnsupportedImageFormatError, f"not a supported image: the data is empty; {EXPECTED}"),
    "one_byte": (UnsupportedImageFormatError, f"not a supported image: {EXPECTED}"),
    "random_bytes": (UnsupportedImageFormatError, f"not a supported image: {EXPECTED}"),
    "text": (UnsupportedImageFormatError, f"not a supported image: {EXPECTED}"),
    "html": (UnsupportedImageFormatError, f"not a supported image: {EXPECTED}"),
    "svg": (UnsupportedImageFormatError, f"SVG images are not accepted; {EXPECTED}"),
    "gif_300_frames": (UnsupportedImageFormatError, f"GIF images are not accepted; {EXPECTED}"),
    "bmp": (UnsupportedImageFormatError, f"BMP images are not accepted; {EXPECTED}"),
    "tiff": (UnsupportedImageFormatError, f"TIFF images are not accepted; {EXPECTED}"),
    "pdf": (UnsupportedImageFormatError, f"PDF images are not accepted; {EXPECTED}"),
    "truncated_jpeg": (ImageError, CORRUPT),
    "truncated_png": (ImageError, CORRUPT),
    "png_bomb_40000": (ImageTooLargeError, "image is 40000x40000 pixels; the limit is 40000000 pixels"),
    "png_header_65000": (ImageTooLargeError, "image is 65000x65000 pixels; the limit is 40000000 pixels"),
    "jpeg_header_65000": (ImageTooLargeError, "image is 65000x65000 pixels; the limit is 40000000 pixels"),
    "webp_canvas_bomb": (ImageTooLargeError, "image is 9000x9000 pixels; the limit is 40000000 pixels"),
    "jpeg_many_segments": (ImageError, CORRUPT),
    "huge_side": (ImageTooLargeError, "image is 30000x10 pixels; the longest side allowed is 20000 pixels"),
    "oversized_jpeg": (ImageTooLargeError, f"image is {OVERSIZED_BYTES} bytes; the limit is 26214400 bytes"),
}
BOMBS = ["png_bomb_40000", "png_header_65000", "jpeg_header_65000", "webp_canvas_bomb", "huge_side"]


class TestHostileFiles:
    def test_every_hostile_file_has_an_expected_error(self, hostile_images: dict[str, Path]) -> None:
        assert set(hostile_images) == set(HOSTILE_EXPECTATIONS)

    @pytest.mark.parametrize("name", HOSTILE_EXPECTATIONS)
    def test_hostile_bytes_are_refused_with_the_exact_error_type_and_message(
        self, hostile_images: dict[str, Path], name: str
    ) -> None:
        error_type, message = HOSTILE_EXPECTATIONS[name]
        with pytest.raises(HallmarkError) as raised:
            decode_image(hostile_images[name].read_bytes())
        assert type(raised.value) is error_type
        assert str(raised.value) == message

    @pytest.mark.parametrize("name", HOSTILE_EXPECTATIONS)
    def test_hostile_files_are_refused_by_read_image_alike(
        self, hostile_images: dict[str, Path], name: str
    ) -> None:
        error_type, message = HOSTILE_EXPECTATIONS[name]
        with pytest.raises(HallmarkError) as raised:
            read_image(hostile_images[name])
        assert type(raised.value) is error_type
        assert str(raised.value) == message

    @pytest.mark.parametrize("name", [*BOMBS, "gif_300_frames", "jpeg_many_segments"])
    def test_bombs_are_refused_quickly_in_a_few_megabytes(
        self, hostile_images: dict[str, Path], name: str
    ) -> None:
        data = hostile_images[name].read_bytes()
        tracemalloc.start()
        started = time.perf_counter()
        try:
            with pytest.raises(ImageError):
                decode_image(data)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert elapsed < 2.0
        assert peak < 4 * 1024 * 1024

    @pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
    @pytest.mark.parametrize("name", BOMBS)
    def test_bombs_are_refused_before_any_pixel_buffer_is_allocated(
        self, hostile_images: dict[str, Path], name: str
    ) -> None:
        # tracemalloc does not see Pillow's or libwebp's C buffers; an address-space limit does.
        # Were a bomb opened by libwebp or decoded, the allocation would fail and the error would
        # not be ImageTooLargeError. (libwebp allocates a WebP canvas at open, before any decode.)
        data = hostile_images[name].read_bytes()
        error_type, message = HOSTILE_EXPECTATIONS[name]
        with address_space_limited_to(64 * 1024 * 1024), pytest.raises(HallmarkError) as raised:
            decode_image(data)
        assert type(raised.value) is error_type
        assert str(raised.value) == message


# --- caps -----------------------------------------------------------------------------------------


class TestCaps:
    def test_bytes_over_the_cap_are_refused(self) -> None:
        data = encode(two_colour_image(), "PNG")
        with pytest.raises(
            ImageTooLargeError, match=rf"^image is {len(data)} bytes; the limit is {len(data) - 1} bytes$"
        ):
            decode_image(data, max_bytes=len(data) - 1)

    def test_bytes_exactly_at_the_cap_are_accepted(self) -> None:
        data = encode(two_colour_image(), "PNG")
        assert decode_image(data, max_bytes=len(data)).width == 40

    def test_pixels_over_the_cap_are_refused_from_the_header(self) -> None:
        data = encode(two_colour_image(40, 20), "PNG")
        with pytest.raises(ImageTooLargeError, match=r"^image is 40x20 pixels; the limit is 799 pixels$"):
            decode_image(data, max_pixels=799)

    def test_pixels_exactly_at_the_cap_are_accepted(self) -> None:
        assert decode_image(encode(two_colour_image(40, 20), "PNG"), max_pixels=800).height == 20

    @pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
    def test_the_pixel_cap_applies_to_every_format(self, image_format: str) -> None:
        data = encode(two_colour_image(40, 20), image_format)
        with pytest.raises(ImageTooLargeError, match=r"^image is 40x20 pixels"):
            decode_image(data, max_pixels=100)

    def test_caps_default_to_the_settings(self, set_caps: Callable[..., None]) -> None:
        set_caps(max_image_side=30)
        with pytest.raises(
            ImageTooLargeError, match=r"^image is 40x20 pixels; the longest side allowed is 30"
        ):
            decode_image(encode(two_colour_image(40, 20), "PNG"))
        set_caps(max_image_side=1000, max_image_pixels=500)
        with pytest.raises(ImageTooLargeError, match=r"the limit is 500 pixels$"):
            decode_image(encode(two_colour_image(40, 20), "PNG"))
        set_caps(max_image_pixels=10_000, max_image_bytes=50)
        with pytest.raises(ImageTooLargeError, match=r"the limit is 50 bytes$"):
            decode_image(encode(two_colour_image(40, 20), "PNG"))

    def test_pillows_own_bomb_error_becomes_ours(self, set_caps: Callable[..., None]) -> None:
        # Only reachable when the caps are raised above Pillow's own limit (179 M pixels).
        set_caps(max_image_side=70_000)
        data = png_by_hand(65_000, 65_000, 8, 2, [])
        with pytest.raises(ImageTooLargeError, match=r"^image is too large to decode safely"):
            decode_image(data, max_pixels=5_000_000_000)

    def test_pillows_bomb_warning_becomes_our_error_and_is_never_printed(
        self, set_caps: Callable[..., None]
    ) -> None:
        # 100 M pixels: over Pillow's warning threshold (89 M), under its error threshold.
        set_caps(max_image_side=70_000)
        data = png_by_hand(10_000, 10_000, 8, 2, [])
        with pytest.raises(ImageTooLargeError, match=r"^image is too large to decode safely"):
            decode_image(data, max_pixels=200_000_000)

    @pytest.mark.parametrize("argument", ["min_side", "max_bytes", "max_pixels"])
    def test_a_cap_or_min_side_below_one_is_a_programming_error(self, argument: str) -> None:
        with pytest.raises(ValueError, match=argument):
            decode_image(encode(two_colour_image(), "PNG"), **{argument: 0})


# --- formats and frames ---------------------------------------------------------------------------


class TestFormats:
    def test_allowed_formats_are_jpeg_png_webp_and_phone_mpo(self) -> None:
        assert frozenset({"JPEG", "PNG", "WEBP", "MPO"}) == ALLOWED_FORMATS

    @pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
    def test_each_allowed_format_decodes_and_reports_its_name(self, image_format: str) -> None:
        decoded = decode_image(encode(two_colour_image(), image_format, quality=95))
        assert decoded.format == image_format
        assert (decoded.width, decoded.height) == (40, 20)
        assert decoded.pixels.shape == (20, 40, 3)

    def test_mpo_from_a_phone_decodes_its_first_frame(self) -> None:
        first, second = Image.new("RGB", (32, 24), (230, 10, 10)), Image.new("RGB", (32, 24), (10, 10, 230))
        decoded = decode_image(encode(first, "MPO", save_all=True, append_images=[second], quality=95))
        assert decoded.format == "MPO"
        assert np.abs(decoded.pixels.astype(int) - (230, 10, 10)).max() <= 8

    @pytest.mark.parametrize("image_format", ["WEBP", "PNG"])  # animated WebP and APNG
    def test_animations_decode_their_first_frame_only(self, image_format: str) -> None:
        frames = [Image.new("RGB", (16, 16), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
        data = encode(frames[0], image_format, save_all=True, append_images=frames[1:], lossless=True)
        with Image.open(io.BytesIO(data)) as check:
            assert getattr(check, "n_frames", 1) == 3
        decoded = decode_image(data)
        assert (decoded.pixels == (255, 0, 0)).all()

    def test_the_format_is_read_from_the_bytes_not_the_file_name(self, tmp_path: Path) -> None:
        path = tmp_path / "photo.jpg"
        path.write_bytes(encode(two_colour_image(), "PNG"))
        assert read_image(path).format == "PNG"

    @pytest.mark.parametrize(
        ("data", "name"),
        [
            (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
            (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "AVIF"),
            (b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
            (b"\x00\x00\x01\x00\x01\x00\x10\x10", "ICO"),
        ],
    )
    def test_other_common_formats_are_named_in_the_refusal(self, data: bytes, name: str) -> None:
        with pytest.raises(UnsupportedImageFormatError, match=rf"^{name} images are not accepted"):
            decode_image(data)

    def test_text_starting_like_a_bitmap_is_not_called_one(self) -> None:
        with pytest.raises(UnsupportedImageFormatError, match=rf"^not a supported image: {EXPECTED}$"):
            decode_image(b"BMW 320d, 2012, 180000 km")


# --- truncated and corrupt data -------------------------------------------------------------------


class TestCorruptData:
    @pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
    @pytest.mark.parametrize("keep", [0.02, 0.3, 0.6, 0.95])
    def test_truncated_images_are_refused_as_corrupt(self, image_format: str, keep: float) -> None:
        data = encode(two_colour_image(200, 150), image_format)
        cut = data[: max(4, int(len(data) * keep))]
        with pytest.raises(ImageError) as raised:
            decode_image(cut)
        assert type(raised.value) in (ImageError, UnsupportedImageFormatError)
        if len(cut) >= 16:  # long enough to carry the format's signature
            assert type(raised.value) is ImageError
            assert str(raised.value) == CORRUPT

    def test_a_jpeg_header_padded_with_fill_bytes_is_refused_without_walking_them(self) -> None:
        data = encode(two_colour_image(), "JPEG")
        padded = data[:2] + b"\xff" * 2_000_000 + data[2:]
        started = time.perf_counter()
        with pytest.raises(ImageError, match=f"^{CORRUPT}$"):
            decode_image(padded)
        assert time.perf_counter() - started < 2.0

    def test_a_jpeg_with_megabytes_of_metadata_segments_still_decodes(self) -> None:
        # Like a phone's portrait photo, which carries its depth map in extended-XMP segments.
        data = encode(two_colour_image(), "JPEG")
        segment = b"\xff\xe1" + struct.pack(">H", 65_000) + b"http://ns.adobe.com/xmp/extension/\x00"
        segment += bytes(65_002 - len(segment))
        decoded = decode_image(data[:2] + segment * 100 + data[2:])
        assert (decoded.width, decoded.height) == (40, 20)

    def test_a_png_with_a_bad_checksum_is_refused_as_corrupt(self) -> None:
        data = bytearray(encode(two_colour_image(), "PNG"))
        idat = data.index(b"IDAT")
        data[idat + 6] ^= 0xFF  # inside the compressed pixels; the chunk's CRC no longer matches
        with pytest.raises(ImageError, match=f"^{CORRUPT}$"):
            decode_image(bytes(data))

    def test_the_pillow_error_is_kept_as_the_cause_for_the_logs(
        self, hostile_images: dict[str, Path]
    ) -> None:
        with pytest.raises(ImageError) as raised:
            decode_image(hostile_images["truncated_jpeg"].read_bytes())
        assert isinstance(raised.value.__cause__, OSError)

    def test_truncated_images_stay_refused_pillow_is_never_told_to_load_them(
        self, hostile_images: dict[str, Path]
    ) -> None:
        with pytest.raises(ImageError):
            decode_image(hostile_images["truncated_png"].read_bytes())
        assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def _seed_images() -> list[bytes]:
    """Small valid images of every kind the decoder accepts, for the mutation fuzzer."""
    base = two_colour_image(24, 16)
    frames = [base, base.rotate(180)]
    return [
        encode(base, "JPEG", exif=orientation_exif(6)),
        encode(base, "JPEG", progressive=True),
        encode(base.convert("CMYK"), "JPEG"),
        encode(base.convert("L"), "JPEG"),
        encode(base, "MPO", save_all=True, append_images=[base.rotate(180)]),
        encode(base, "PNG", exif=orientation_exif(8)),
        encode(base.convert("P"), "PNG", transparency=0),
        encode(base.convert("LA"), "PNG"),
        encode(base.convert("1"), "PNG"),
        encode(Image.fromarray(np.arange(384, dtype=np.uint16).reshape(16, 24) * 170), "PNG"),
        encode(base, "PNG", save_all=True, append_images=frames[1:]),
        encode(base, "WEBP"),
        encode(base.convert("RGBA"), "WEBP", lossless=True),
        encode(base, "WEBP", save_all=True, append_images=frames[1:], exif=orientation_exif(3)),
    ]


SEEDS = _seed_images()


def fix_png_checksums(data: bytes) -> bytes:
    """Recompute every chunk CRC, so that a mutation reaches the PNG decoder, not just the CRC check."""
    out, position = bytearray(data[:8]), 8
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        body = data[position + 4 : position + 8 + length]
        if len(body) != length + 4:
            break
        out += data[position : position + 4] + body + struct.pack(">I", zlib.crc32(body))
        position += 12 + length
    return bytes(out + data[position:])


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        # Headers hold the fields parsers trust (sizes, offsets, counts): mutate there more often.
        end = draw(st.sampled_from([min(len(data), 256), len(data)]))
        position = draw(st.integers(0, max(0, end - 1)))
        action = draw(st.sampled_from(["set", "xor", "insert", "delete", "truncate", "big"]))
        if action == "set" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "xor" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif action == "truncate":
            del data[position:]
        elif action == "big" and position + 4 <= len(data):
            data[position : position + 4] = draw(
                st.sampled_from([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", bytes(4)])
            )
    if data.startswith(b"\x89PNG") and draw(st.booleans()):
        return fix_png_checksums(bytes(data))
    return bytes(data)


SIGNATURES = [b"\xff\xd8\xff", b"\xff\xd8\xff\xe1", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBPVP8X"]
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def decode_or_refuse(data: bytes) -> None:
    """Decode under a small pixel cap; only our errors may come out, and no warning at all."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            decoded = decode_image(data, max_pixels=1_000_000)
        except HallmarkError:
            pass
        else:
            assert decoded.pixels.dtype == np.uint8
            assert decoded.pixels.ndim == 3 and decoded.pixels.shape[2] == 3
            assert decoded.pixels.flags.c_contiguous
            assert decoded.format in ALLOWED_FORMATS
    assert [str(warning.message) for warning in caught] == []


class TestFuzz:
    @FUZZ
    @given(st.binary(max_size=512))
    def test_random_bytes_end_in_our_errors(self, data: bytes) -> None:
        decode_or_refuse(data)

    @FUZZ
    @given(st.sampled_from(SIGNATURES), st.binary(max_size=512))
    def test_random_bytes_behind_a_real_signature_end_in_our_errors(
        self, signature: bytes, body: bytes
    ) -> None:
        decode_or_refuse(signature + body)

    @settings(FUZZ, max_examples=600)
    @given(mutated_images())
    def test_mutated_real_images_decode_or_end_in_our_errors(self, data: bytes) -> None:
        decode_or_refuse(data)


# --- orientation ----------------------------------------------------------------------------------


class TestOrientation:
    @needs_photo
    def test_orientation_6_turns_a_real_photo_clockwise_and_swaps_width_and_height(self) -> None:
        with Image.open(PHOTO) as photo:
            upright = encode(photo, "JPEG", quality=90, exif=orientation_exif(1))
            turned = encode(photo, "JPEG", quality=90, exif=orientation_exif(6))
        reference = decode_image(upright)
        decoded = decode_image(turned)
        assert (reference.width, reference.height) == (300, 400)
        assert (decoded.width, decoded.height) == (400, 300)
        assert np.array_equal(decoded.pixels, np.rot90(reference.pixels, k=-1))

    @pytest.mark.parametrize("orientation", range(1, 9))
    def test_every_orientation_matches_pillows_exif_transpose(self, orientation: int) -> None:
        data = encode(two_colour_image(), "PNG", exif=orientation_exif(orientation))
        with Image.open(io.BytesIO(data)) as image:
            expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
        decoded = decode_image(data)
        assert np.array_equal(decoded.pixels, expected)
        assert (decoded.height, decoded.width) == expected.shape[:2]

    @pytest.mark.parametrize(
        "exif_payload",
        [
            pytest.param(b"\xde\xad\xbe\xef" * 8, id="garbage"),
            pytest.param(b"MM\x00*", id="header-only"),
            pytest.param(b"II*\x00\xff\xff\xff\x7f", id="ifd-offset-past-the-end"),
            pytest.param(
                b"II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x02\x00\x04\x00\x00\x00six\x00\x00\x00\x00\x00",
                id="orientation-as-text",
            ),
            pytest.param(orientation_exif(9).tobytes(), id="orientation-9"),
            pytest.param(b"II*\x00\x08\x00\x00\x00\xff\xff\x12\x01", id="65535-entries-claimed-none-there"),
        ],
    )
    def test_a_bad_exif_block_leaves_the_image_unrotated(self, exif_payload: bytes) -> None:
        plain = encode(two_colour_image(), "JPEG", quality=95)
        decoded = decode_image(with_exif(plain, exif_payload))
        assert (decoded.width, decoded.height) == (40, 20)
        assert np.array_equal(decoded.pixels, decode_image(plain).pixels)


# --- colour modes ---------------------------------------------------------------------------------


def single_colour(decoded: DecodedImage) -> tuple[int, ...]:
    colours = np.unique(decoded.pixels.reshape(-1, 3), axis=0)
    assert len(colours) == 1, f"expected one colour, got {colours[:5]}"
    return tuple(int(channel) for channel in colours[0])


class TestColourModes:
    def test_one_bit_png_becomes_black_and_white_rgb(self) -> None:
        image = Image.new("1", (4, 2), 0)
        image.putpixel((1, 0), 1)
        pixels = decode_image(encode(image, "PNG")).pixels
        assert pixels[0, 1].tolist() == [255, 255, 255]
        assert pixels[0, 0].tolist() == [0, 0, 0]

    @pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
    def test_greyscale_becomes_three_equal_channels(self, image_format: str) -> None:
        decoded = decode_image(encode(Image.new("L", (8, 8), 77), image_format, quality=100))
        assert single_colour(decoded) == (77, 77, 77)

    def test_palette_png_becomes_its_palette_colours(self) -> None:
        image = Image.new("P", (8, 8), 3)
        image.putpalette([0, 0, 0] * 3 + [10, 120, 230])
        assert single_colour(decode_image(encode(image, "PNG"))) == (10, 120, 230)

    def test_the_transparent_palette_entry_becomes_white(self) -> None:
        image = Image.new("P", (8, 8), 3)
        image.putpalette([0, 0, 0] * 3 + [10, 120, 230] + [200, 0, 0])
        image.paste(4, (0, 0, 4, 8))
        pixels = decode_image(encode(image, "PNG", transparency=3)).pixels
        assert pixels[0, 0].tolist() == [200, 0, 0]
        assert pixels[0, 7].tolist() == [255, 255, 255]

    @pytest.mark.parametrize(
        ("mode", "colour", "expected"),
        [
            ("RGBA", (200, 0, 0, 0), (255, 255, 255)),  # fully transparent: white, not the hidden red
            ("RGBA", (200, 0, 0, 255), (200, 0, 0)),
            ("RGBA", (0, 0, 0, 128), (127, 127, 127)),
            ("LA", (0, 0), (255, 255, 255)),
            ("LA", (0, 128), (127, 127, 127)),
        ],
    )
    def test_alpha_is_composited_onto_white(
        self, mode: str, colour: tuple[int, ...], expected: tuple[int, int, int]
    ) -> None:
        assert single_colour(decode_image(encode(Image.new(mode, (8, 8), colour), "PNG"))) == expected

    def test_transparent_lossless_webp_becomes_white(self) -> None:
        data = encode(Image.new("RGBA", (8, 8), (0, 200, 0, 0)), "WEBP", lossless=True, exact=True)
        assert single_colour(decode_image(data)) == (255, 255, 255)

    def test_sixteen_bit_grey_is_scaled_to_eight_bits_not_clipped(self) -> None:
        samples = np.array([[0, 257, 1000, 32896, 40000, 65535]], dtype=np.uint16)
        decoded = decode_image(encode(Image.fromarray(samples), "PNG"))
        assert decoded.pixels[0, :, 0].tolist() == [0, 1, 4, 128, 156, 255]
        assert (decoded.pixels[..., 0] == decoded.pixels[..., 2]).all()

    def test_sixteen_bit_rgb_is_scaled_to_eight_bits(self) -> None:
        row = struct.pack(">6H", 65535, 32896, 1000, 0, 257, 40000)
        pixels = decode_image(png_by_hand(2, 1, 16, 2, [row])).pixels
        expected = np.array([[[255, 128, 4], [0, 1, 156]]])
        # Pillow keeps the high byte of each sample, at most 1 away from exact rounding.
        assert np.abs(pixels.astype(int) - expected).max() <= 1

    @pytest.mark.parametrize(
        ("colour_type", "sample", "expected"),
        [
            (6, struct.pack(">4H", 65535, 0, 0, 0), (255, 255, 255)),  # RGBA 64-bit, transparent
            (6, struct.pack(">4H", 65535, 0, 0, 65535), (255, 0, 0)),
            (4, struct.pack(">2H", 0, 0), (255, 255, 255)),  # LA 32-bit, transparent
            (4, struct.pack(">2H", 12850, 65535), (50, 50, 50)),
        ],
    )
    def test_sixteen_bit_alpha_is_composited_onto_white(
        self, colour_type: int, sample: bytes, expected: tuple[int, int, int]
    ) -> None:
        decoded = decode_image(png_by_hand(1, 1, 16, colour_type, [sample]))
        assert single_colour(decoded) == expected

    def test_adobe_cmyk_jpeg_becomes_the_right_rgb(self) -> None:
        cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
        data = encode(cmyk, "JPEG", quality=100)
        assert b"Adobe" in data  # libjpeg's inverted-CMYK convention, which must be undone
        decoded = decode_image(data)
        assert np.abs(decoded.pixels.astype(int) - (255, 0, 0)).max() <= 3

    @pytest.mark.parametrize(
        "convert",
        [
            pytest.param(lambda image: image.convert("YCbCr"), id="YCbCr"),
            pytest.param(lambda image: image.convert("LAB"), id="LAB"),
            pytest.param(lambda image: image.convert("RGBA").convert("RGBa"), id="RGBa"),
            pytest.param(lambda image: image.convert("P").convert("PA"), id="PA"),
        ],
    )
    def test_modes_no_accepted_file_produces_still_convert_to_rgb(
        self, convert: Callable[[Image.Image], Image.Image]
    ) -> None:
        # Pillow's JPEG, PNG and WebP plugins never hand these out, so they are tested directly.
        image = Image.new("RGB", (4, 4), (200, 100, 50))
        pixels = _to_rgb(convert(image))
        assert pixels.shape == (4, 4, 3) and pixels.dtype == np.uint8
        assert np.abs(pixels.astype(int) - (200, 100, 50)).max() <= 6

    @pytest.mark.parametrize(("mode", "dtype"), [("I;16", "<u2"), ("I;16B", ">u2"), ("I", "=i4")])
    def test_every_wide_grey_mode_is_scaled(self, mode: str, dtype: str) -> None:
        # frombytes, not convert: Pillow's conversions between these modes clip at 255 themselves.
        samples = np.array([[0, 32896, 65535]], dtype=dtype)
        image = Image.frombytes(mode, (3, 1), samples.tobytes())
        assert _to_rgb(image)[0, :, 1].tolist() == [0, 128, 255]


# --- reduced-scale JPEG decoding ------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_jpeg() -> bytes:
    """A 4000 x 3000 photo-like JPEG (a real photo scaled up when the shared data is here)."""
    source = Image.open(PHOTO).convert("RGB") if PHOTO.exists() else two_colour_image()
    return encode(source.resize((4000, 3000), Image.Resampling.BILINEAR), "JPEG", quality=85)


class TestReducedScale:
    @pytest.mark.parametrize(
        ("min_side", "decoded_size"),
        [
            (None, (4000, 3000)),
            (375, (500, 375)),  # 1/8
            (376, (1000, 750)),  # 1/8 would give 375 < 376, so 1/4
            (500, (1000, 750)),
            (1000, (2000, 1500)),
            (1501, (4000, 3000)),
            (5000, (4000, 3000)),  # the original cannot give more than itself
        ],
    )
    def test_a_large_jpeg_decodes_at_the_smallest_scale_that_keeps_min_side(
        self, large_jpeg: bytes, min_side: int | None, decoded_size: tuple[int, int]
    ) -> None:
        decoded = decode_image(large_jpeg, min_side=min_side)
        assert decoded.pixels.shape == (decoded_size[1], decoded_size[0], 3)
        assert (decoded.width, decoded.height) == (4000, 3000)

    @pytest.mark.parametrize("min_side", [1, 2, 7, 99, 100, 101, 149, 150, 151, 299, 300, 600])
    def test_the_shorter_side_never_drops_below_min_side(self, min_side: int) -> None:
        data = encode(two_colour_image(401, 301), "JPEG")
        decoded = decode_image(data, min_side=min_side)
        assert min(decoded.pixels.shape[:2]) >= min(min_side, 301)
        assert min(decoded.pixels.shape[:2]) >= 301 / 8

    def test_reduced_scale_still_applies_the_exif_orientation(self) -> None:
        data = encode(two_colour_image(1600, 1200), "JPEG", exif=orientation_exif(6))
        decoded = decode_image(data, min_side=300)
        assert (decoded.width, decoded.height) == (1200, 1600)
        assert decoded.pixels.shape == (400, 300, 3)
        assert decoded.pixels[5, 150].tolist()[0] > 150  # the red left half is now on top

    def test_other_formats_ignore_min_side_and_decode_at_full_size(self) -> None:
        decoded = decode_image(encode(two_colour_image(1600, 1200), "PNG"), min_side=100)
        assert decoded.pixels.shape == (1200, 1600, 3)


# --- the result -----------------------------------------------------------------------------------


class TestDecodedImage:
    def test_sha256_is_of_the_bytes_as_given(self) -> None:
        data = encode(two_colour_image(), "JPEG")
        assert decode_image(data).sha256 == hashlib.sha256(data).hexdigest()

    def test_pixels_are_rgb_uint8_c_contiguous_and_writable(self) -> None:
        pixels = decode_image(encode(two_colour_image(), "WEBP")).pixels
        assert pixels.dtype == np.uint8 and pixels.shape == (20, 40, 3)
        assert pixels.flags.c_contiguous and pixels.flags.writeable

    @needs_photo
    def test_a_real_photo_decodes_to_what_pillow_decodes(self) -> None:
        decoded = read_image(PHOTO)
        with Image.open(PHOTO) as photo:
            assert np.array_equal(decoded.pixels, np.asarray(photo.convert("RGB")))
        assert (decoded.format, decoded.width, decoded.height) == ("JPEG", 300, 400)

    def test_the_result_is_frozen(self) -> None:
        decoded = decode_image(encode(two_colour_image(), "PNG"))
        with pytest.raises(dataclasses.FrozenInstanceError):
            decoded.width = 1  # type: ignore[misc]


# --- files ----------------------------------------------------------------------------------------


class TestReadImage:
    def test_a_missing_file_is_not_found_and_named(self, tmp_path: Path) -> None:
        path = tmp_path / "missing.jpg"
        with pytest.raises(NotFoundError, match=f"^image file not found: {path}$"):
            read_image(path)

    def test_a_path_through_a_file_is_not_found(self, tmp_path: Path) -> None:
        (tmp_path / "photo.jpg").write_bytes(b"x")
        with pytest.raises(NotFoundError):
            read_image(tmp_path / "photo.jpg" / "inner.jpg")

    def test_a_directory_is_refused_by_name(self, tmp_path: Path) -> None:
        with pytest.raises(ImageError, match=f"^{tmp_path} is a directory, not an image file$"):
            read_image(tmp_path)

    def test_a_fifo_is_refused_without_blocking_on_it(self, tmp_path: Path) -> None:
        fifo = tmp_path / "photo.jpg"
        os.mkfifo(fifo)
        with pytest.raises(ImageError, match="is not a regular file$"):
            read_image(fifo)

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
    def test_an_unreadable_file_is_refused_by_name(self, tmp_path: Path) -> None:
        path = tmp_path / "photo.png"
        path.write_bytes(encode(two_colour_image(), "PNG"))
        path.chmod(0)
        with pytest.raises(ImageError, match=f"^permission denied reading {path}$"):
            read_image(path)

    def test_a_huge_file_is_refused_from_its_size_before_reading(self, tmp_path: Path) -> None:
        path = tmp_path / "huge.jpg"
        with path.open("wb") as handle:
            handle.truncate(10 * 1024**3)  # sparse: 10 GiB on paper, nothing on disk
        tracemalloc.start()
        try:
            with pytest.raises(ImageTooLargeError, match=f"^image is {10 * 1024**3} bytes; the limit is"):
                read_image(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 1024 * 1024

    @pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
    def test_a_file_that_reports_no_size_is_read_only_up_to_the_cap(self) -> None:
        # /proc files stat as 0 bytes however much they hold, like a file that grows after stat.
        with pytest.raises(
            ImageTooLargeError, match="^image is more than 100 bytes; the limit is 100 bytes$"
        ):
            read_image("/proc/self/maps", max_bytes=100)

    def test_caps_and_min_side_are_passed_on(self, tmp_path: Path) -> None:
        path = tmp_path / "photo.jpg"
        path.write_bytes(encode(two_colour_image(800, 600), "JPEG"))
        assert read_image(str(path), min_side=75).pixels.shape == (75, 100, 3)
        with pytest.raises(ImageTooLargeError, match="the limit is 1000 pixels$"):
            read_image(path, max_pixels=1000)
