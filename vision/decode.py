"""The one safe way into Hallmark for an image: every upload, crawled photo and catalog file comes here.

Untrusted bytes are refused as early and as cheaply as possible:

1. the byte cap, before anything is parsed;
2. the format, from the file signature, so that only Pillow's JPEG, PNG and WebP parsers ever see
   the bytes (a 300-frame GIF or an SVG is refused without being parsed at all);
3. the pixel and side caps, from the header, before Pillow opens it (``Image.open`` is lazy, but
   its WebP plugin allocates the whole canvas at open, and its JPEG plugin walks the header in
   Python, a segment at a time, so a header padded with a million segments is refused here too);
4. the decode itself, first frame only, with every Pillow error translated into ours.

What comes out is always the same shape: an H x W x 3 ``uint8`` RGB array with the EXIF orientation
applied, transparency composited onto white and 16-bit samples scaled to 8 bits.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hallmark.errors import ImageError, ImageTooLargeError, NotFoundError, UnsupportedImageFormatError
from hallmark.settings import get_settings

__all__ = ["ALLOWED_FORMATS", "DecodedImage", "decode_image", "read_image"]

#: Pillow format names we accept. MPO is what Pillow calls the JPEGs many phones write (a JPEG
#: followed by more JPEGs); only its first frame is used.
ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "MPO"})

_EXPECTED = "expected JPEG, PNG or WebP"
_CORRUPT = "image data is truncated or corrupt"

# What Pillow's parsers and decoders raise on malformed input: OSError covers "image file is
# truncated" and UnidentifiedImageError, SyntaxError "broken PNG file", the rest come from header
# fields that index, unpack or divide by what the file claims.
_PILLOW_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    struct.error,
    ZeroDivisionError,
    OverflowError,
)

# Formats we refuse, named so that the message can say what the file is. Only signatures that
# cannot be mistaken for text are listed; anything else unknown gets the generic message.
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF-", "PDF"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
)
_ISO_BRANDS = {b"avif": "AVIF", b"avis": "AVIF", b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIC"}

# JPEG start-of-frame markers (they carry the size); C4, C8 and CC share the range but are not frames.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Pillow walks a JPEG header in Python, one segment or one stray byte at a time, so 25 MB of empty
# segments or fill bytes cost seconds of CPU per file. Real headers hold at most a few hundred
# segments (a phone's portrait photo: about a hundred 64 kB extended-XMP ones) and few stray bytes.
_JPEG_MAX_HEADER_STEPS = 10_000

# EXIF orientation -> the transposition that undoes it (the table ImageOps.exif_transpose uses).
_ORIENTATION_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG = 0x0112

# Single-channel modes whose samples go up to 65535 (a 16-bit greyscale PNG opens as "I;16").
_WIDE_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


@dataclass(frozen=True, eq=False)  # eq=False: comparing or hashing arrays field by field is meaningless
class DecodedImage:
    """An image that passed every check, decoded to RGB.

    Attributes:
        pixels: H x W x 3 ``uint8`` RGB array, C-contiguous, EXIF orientation applied. Smaller than
            ``width`` x ``height`` when a JPEG was decoded at reduced scale (see ``min_side``).
        format: Pillow format name: ``"JPEG"``, ``"PNG"``, ``"WEBP"`` or ``"MPO"``.
        width: Full width of the image after EXIF orientation.
        height: Full height of the image after EXIF orientation.
        sha256: Hex SHA-256 of the encoded bytes exactly as given.
    """

    pixels: np.ndarray
    format: str
    width: int
    height: int
    sha256: str


def decode_image(
    data: bytes,
    *,
    min_side: int | None = None,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
) -> DecodedImage:
    """Check and decode untrusted image bytes.

    Args:
        data: The encoded image, exactly as received.
        min_side: The shortest side the caller needs. A JPEG is then decoded at 1/2, 1/4 or 1/8
            scale where its shorter side stays at least this long, which is several times faster
            for large photos. Other formats, and ``None``, decode at full size.
        max_bytes: Byte cap; ``settings.max_image_bytes`` when ``None``.
        max_pixels: Cap on width x height, read from the header; ``settings.max_image_pixels`` when
            ``None``. The longest side is also capped, at ``settings.max_image_side``.

    Returns:
        The decoded image.

    Raises:
        ImageTooLargeError: Over the byte, pixel or side cap.
        UnsupportedImageFormatError: Empty, not an image, or not JPEG, PNG or WebP.
        ImageError: Truncated or corrupt data.
    """
    settings = get_settings()
    byte_cap = _cap("max_bytes", max_bytes, settings.max_image_bytes)
    pixel_cap = _cap("max_pixels", max_pixels, settings.max_image_pixels)
    side_cap = settings.max_image_side
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be at least 1, not {min_side}")

    if len(data) > byte_cap:
        raise ImageTooLargeError(_too_many_bytes(len(data), byte_cap))
    image_format = _sniff_format(data)
    header_size = _header_size(data, image_format)
    if header_size is not None:
        _check_size(header_size, pixel_cap, side_cap)

    with warnings.catch_warnings():
        # Pillow warns about every malformed EXIF tag or MPO index it skips ("Corrupt EXIF data",
        # "Skipping tag 274"): from hostile files that only floods the logs, since the result is
        # either a good image or our error. A decompression-bomb warning must become our error.
        # catch_warnings swaps process-wide state and is not thread-safe before Python 3.14:
        # overlapping decodes in threads may leave these two filters installed for the process or
        # let one Pillow warning through. Both filters are harmless anywhere, and the caps are
        # checked from the header before and from Pillow's reading after, whatever the filters.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            pixels, pillow_format, width, height = _decode(data, image_format, min_side, pixel_cap, side_cap)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # Only reachable when a caller raises max_pixels above Pillow's own process-wide limit.
            raise ImageTooLargeError(
                f"image is too large to decode safely; the decoder's limit is {Image.MAX_IMAGE_PIXELS} pixels"
            ) from exc
        except _PILLOW_ERRORS as exc:
            raise ImageError(_CORRUPT) from exc

    return DecodedImage(
        pixels=pixels,
        format=pillow_format,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def read_image(
    path: str | os.PathLike[str],
    *,
    min_side: int | None = None,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
) -> DecodedImage:
    """Read an image file and decode it with :func:`decode_image`.

    The file size is checked before anything is read, and at most one byte over the cap is read,
    so a file that grows meanwhile (or lies about its size) still cannot exhaust memory.

    Args:
        path: The image file.
        min_side: As for :func:`decode_image`.
        max_bytes: As for :func:`decode_image`.
        max_pixels: As for :func:`decode_image`.

    Returns:
        The decoded image.

    Raises:
        NotFoundError: The file does not exist.
        ImageError: The path is a directory or not a regular file, cannot be read, or the image
            is refused (see :func:`decode_image` for its subclasses).
    """
    byte_cap = _cap("max_bytes", max_bytes, get_settings().max_image_bytes)
    file = Path(path)
    try:
        info = file.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"{file} is a directory, not an image file")
        # A FIFO or a device would block or never end; only plain files hold images.
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{file} is not a regular file")
        if info.st_size > byte_cap:
            raise ImageTooLargeError(_too_many_bytes(info.st_size, byte_cap))
        with file.open("rb") as handle:
            data = handle.read(byte_cap + 1)
    except OSError as exc:
        raise _file_error(file, exc) from exc
    if len(data) > byte_cap:
        # It grew after the stat, or it is one of the files (in /proc, say) that report no size.
        raise ImageTooLargeError(f"image is more than {byte_cap} bytes; the limit is {byte_cap} bytes")
    return decode_image(data, min_side=min_side, max_bytes=byte_cap, max_pixels=max_pixels)


def _decode(
    data: bytes, image_format: str, min_side: int | None, pixel_cap: int, side_cap: int
) -> tuple[np.ndarray, str, int, int]:
    """Decode the first frame of data already known to be JPEG, PNG or WebP by its signature."""
    # Naming the one format keeps every other Pillow plugin away from the bytes; Pillow's JPEG
    # plugin still returns MPO files as such.
    with Image.open(io.BytesIO(data), formats=[image_format]) as image:
        if image.format not in ALLOWED_FORMATS:
            raise UnsupportedImageFormatError(f"{image.format} images are not accepted; {_EXPECTED}")
        # The header may not say what Pillow found (an MPO, a PNG whose IHDR is not first): this
        # check on Pillow's own reading is the one that counts.
        _check_size(image.size, pixel_cap, side_cap)
        full_width, full_height = image.size
        if min(full_width, full_height) < 1:
            raise ImageError(_CORRUPT)
        if min_side is not None and image.format in ("JPEG", "MPO"):
            # Must come before load(). libjpeg then decodes at the smallest of 1/8, 1/4 and 1/2 that
            # still gives at least min_side x min_side (or at full size), so the shorter side keeps
            # min_side; the EXIF orientation below is applied to the reduced image all the same.
            image.draft("RGB", (min_side, min_side))
        # Loading first makes truncation fail here, loudly: reading the EXIF of a PNG whose eXIf
        # chunk follows the pixels would otherwise load it inside our "bad EXIF" fallback.
        image.load()
        orientation = _exif_orientation(image)
        upright: Image.Image = image
        if orientation in _ORIENTATION_TRANSPOSES:
            # Not ImageOps.exif_transpose: it also rewrites the copy's EXIF and XMP, which we drop
            # anyway and which can fail on a malformed block after the rotation is done.
            upright = image.transpose(_ORIENTATION_TRANSPOSES[orientation])
        if orientation in (5, 6, 7, 8):
            full_width, full_height = full_height, full_width
        pixels = _to_rgb(upright)
        return pixels, image.format, full_width, full_height


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to an H x W x 3 ``uint8`` RGB array."""
    if image.mode in _WIDE_GREY_MODES:
        # Pillow's own conversion to L clips 16-bit samples at 255 (nearly everything turns white);
        # scale the full 0..65535 range down, rounding to nearest.
        wide = np.clip(np.asarray(image), 0, 65535).astype(np.uint32)
        grey = ((wide * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(grey[:, :, np.newaxis], 3, axis=2)
    if "A" in image.mode or "a" in image.mode or "transparency" in image.info:
        # Composite onto white, as a listing page shows a transparent packshot; converting alpha
        # away would reveal whatever colour the transparent pixels happen to hold (often black).
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    if image.mode != "RGB":
        # CMYK (Pillow's JPEG plugin already undoes Adobe's inverted CMYK), 1, L, P, YCbCr, LAB.
        image = image.convert("RGB")
    return np.array(image)  # a copy, so the result is writable, unlike np.asarray's


def _exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 to 8), or 1 when there is none or the EXIF block is unreadable."""
    try:
        value = image.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except _PILLOW_ERRORS:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _sniff_format(data: bytes) -> str:
    """The Pillow format name for data with a JPEG, PNG or WebP signature; raises otherwise."""
    if not data:
        raise UnsupportedImageFormatError(f"not a supported image: the data is empty; {_EXPECTED}")
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    refused = _refused_format_name(data)
    if refused is not None:
        raise UnsupportedImageFormatError(f"{refused} images are not accepted; {_EXPECTED}")
    raise UnsupportedImageFormatError(f"not a supported image: {_EXPECTED}")


def _refused_format_name(data: bytes) -> str | None:
    """Name a common image format we refuse, so that the message can say what the file is."""
    for signature, name in _REFUSED_SIGNATURES:
        if data.startswith(signature):
            return name
    # "BM" alone starts plenty of text; a BMP header also has four reserved zero bytes.
    if data[:2] == b"BM" and data[6:10] == b"\x00\x00\x00\x00":
        return "BMP"
    if data[4:8] == b"ftyp" and data[8:12] in _ISO_BRANDS:
        return _ISO_BRANDS[data[8:12]]
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    xml_prolog = head.startswith((b"<?xml", b"<!--", b"<!doctype svg"))
    if head.startswith(b"<svg") or (xml_prolog and b"<svg" in head):
        return "SVG"
    return None


def _header_size(data: bytes, image_format: str) -> tuple[int, int] | None:
    """Width and height as the header claims them, or None when they cannot be found cheaply."""
    if image_format == "PNG":
        # The first chunk of a well-formed PNG is IHDR, with the size right after its type.
        if data[12:16] == b"IHDR" and len(data) >= 24:
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        return None
    if image_format == "WEBP":
        return _webp_size(data)
    return _jpeg_size(data)


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size from the first WebP chunk (VP8X extended, VP8 lossy or VP8L lossless)."""
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The size in the last frame header before the first scan, walking markers as Pillow does.

    Raises:
        ImageError: The header is padded with more segments or stray bytes than any real JPEG.
    """
    size = None
    position, steps = 2, 0
    while position + 1 < len(data):
        if steps > _JPEG_MAX_HEADER_STEPS:
            raise ImageError(_CORRUPT)
        if data[position] != 0xFF:
            # Pillow skips junk between segments; so must we, or a padded file would hide its size.
            marker_start = data.find(b"\xff", position)
            if marker_start < 0:
                break
            steps += marker_start - position
            position = marker_start
            continue
        steps += 1
        marker = data[position + 1]
        if marker in (0x00, 0xFF):  # fill byte or escaped 0xFF
            position += 1
        elif marker == 0xDA:  # start of scan: the frame header is behind us
            break
        elif marker == 0x01 or 0xD0 <= marker <= 0xD9:  # markers without a length
            position += 2
        elif position + 4 > len(data):
            break
        else:
            if marker in _JPEG_SOF_MARKERS and position + 9 <= len(data):
                height, width = struct.unpack(">HH", data[position + 5 : position + 9])
                size = (width, height)
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return size


def _check_size(size: tuple[int, int], pixel_cap: int, side_cap: int) -> None:
    width, height = size
    if width * height > pixel_cap:
        raise ImageTooLargeError(f"image is {width}x{height} pixels; the limit is {pixel_cap} pixels")
    if max(width, height) > side_cap:
        raise ImageTooLargeError(
            f"image is {width}x{height} pixels; the longest side allowed is {side_cap} pixels"
        )


def _cap(name: str, value: int | None, default: int) -> int:
    if value is None:
        return default
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


def _too_many_bytes(size: int, cap: int) -> str:
    return f"image is {size} bytes; the limit is {cap} bytes"


def _file_error(file: Path, exc: OSError) -> ImageError | NotFoundError:
    """Our error for a failure to stat, open or read an image file."""
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return NotFoundError(f"image file not found: {file}")
    if isinstance(exc, IsADirectoryError):
        return ImageError(f"{file} is a directory, not an image file")
    if isinstance(exc, PermissionError):
        return ImageError(f"permission denied reading {file}")
    return ImageError(f"cannot read {file}: {exc.strerror or exc}")
