"""Files that Hallmark must refuse, written on demand for tests and benchmarks.

Every file here must be refused by ``vision.decode`` with one of our ``ImageError`` types; none may
be decoded, and the bombs must be refused from their headers, without allocating their pixels.
Plain module (no pytest) so that scripts can import it: ``from hostile_images import
write_hostile_images``. The pytest fixture ``hostile_images`` in ``tests/conftest.py`` wraps it.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

#: Bigger than the default byte cap (25 MiB), so that it is refused by size alone.
OVERSIZED_BYTES = 26 * 1024 * 1024


def write_hostile_images(folder: Path) -> dict[str, Path]:
    """Write every hostile file into ``folder``.

    Args:
        folder: Where to write; created if missing.

    Returns:
        File name stem -> path, for example ``"png_bomb_40000"`` -> ``folder/png_bomb_40000.png``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, (suffix, make) in _HOSTILE.items():
        path = folder / f"{name}{suffix}"
        path.write_bytes(make())
        paths[name] = path
    return paths


def _empty() -> bytes:
    return b""


def _one_byte() -> bytes:
    return b"\xff"


def _random_bytes() -> bytes:
    return random.Random(20240601).randbytes(4096)


def _text() -> bytes:
    return b"This is a listing description, not a photo.\n" * 20


def _html() -> bytes:
    return (
        b"<!DOCTYPE html>\n<html><head><title>Sneakers</title></head>"
        b'<body><img src="/photo.jpg" alt="photo"><p>EUR 99,95</p></body></html>\n'
    )


def _svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="40000" height="40000">'
        b'<rect width="100%" height="100%" fill="red"/></svg>\n'
    )


def _gif_300_frames() -> bytes:
    # A square that moves: each frame differs from the last, or Pillow would merge them into one.
    frames = []
    for index in range(300):
        frame = Image.new("RGB", (64, 64), (255, 255, 255))
        frame.paste((200, 30, 30), (index % 56, index // 56 * 8, index % 56 + 8, index // 56 * 8 + 8))
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)
    return buffer.getvalue()


def _pillow_file(image_format: str) -> Callable[[], bytes]:
    def make() -> bytes:
        return _encode(_photo_like(64, 48), image_format)

    return make


def _truncated_jpeg() -> bytes:
    data = _encode(_photo_like(256, 192), "JPEG")
    return data[: len(data) // 2]


def _truncated_png() -> bytes:
    data = _encode(_photo_like(256, 192), "PNG")
    return data[: len(data) * 3 // 5]


def _png_bomb_40000() -> bytes:
    """A real, valid 40000 x 40000 black-and-white PNG: 1.6 G pixels in about 200 kB."""
    width = height = 40_000
    row = bytes(1 + width // 8)  # filter byte "none", then 5000 bytes of 8 pixels each
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return _png(width, height, bit_depth=1, colour_type=0, idat=b"".join(parts))


def _png_header_65000() -> bytes:
    """A PNG whose header claims 65000 x 65000 RGB; the pixel data behind it is a few bytes."""
    return _png(65_000, 65_000, bit_depth=8, colour_type=2, idat=zlib.compress(bytes(100)))


def _jpeg_header_65000() -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to claim 65000 x 65000."""
    data = bytearray(_encode(_photo_like(64, 48), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65_000, 65_000)
    return bytes(data)


def _webp_canvas_bomb() -> bytes:
    """An animated WebP with a 9000 x 9000 canvas and a single 1 x 1 frame.

    libwebp allocates the whole canvas as soon as the file is opened, before a pixel is decoded,
    and 81 M pixels is under Pillow's own bomb limit: only a header check stops it.
    """
    vp8l = _webp_chunks(_encode(Image.new("RGBA", (1, 1), (255, 0, 0, 255)), "WEBP", lossless=True))[b"VP8L"]
    canvas = 9000
    vp8x = bytes([0x02 | 0x10, 0, 0, 0]) + _u24(canvas - 1) + _u24(canvas - 1)  # animation, alpha
    anim = bytes(4) + struct.pack("<H", 0)  # background colour, loop forever
    frame = _u24(0) + _u24(0) + _u24(0) + _u24(0) + _u24(100) + b"\x00" + _riff_chunk(b"VP8L", vp8l)
    body = b"WEBP" + _riff_chunk(b"VP8X", vp8x) + _riff_chunk(b"ANIM", anim) + _riff_chunk(b"ANMF", frame)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _jpeg_many_segments() -> bytes:
    """A small real JPEG padded with a million empty comment segments before its frame header.

    Pillow walks JPEG headers in Python, a segment at a time: this costs it about a second.
    """
    data = _encode(_photo_like(64, 48), "JPEG")
    return data[:2] + b"\xff\xfe\x00\x02" * 1_000_000 + data[2:]


def _huge_side() -> bytes:
    """30000 x 10: only 300 k pixels, far under the pixel cap, but over the 20000 side cap."""
    return _encode(Image.new("RGB", (30_000, 10), (200, 30, 30)), "PNG")


def _oversized_jpeg() -> bytes:
    """A valid small JPEG padded past the byte cap (decoders ignore what follows the image)."""
    data = _encode(_photo_like(64, 48), "JPEG")
    return data + bytes(OVERSIZED_BYTES - len(data))


_HOSTILE: dict[str, tuple[str, Callable[[], bytes]]] = {
    "empty": (".jpg", _empty),
    "one_byte": (".jpg", _one_byte),
    "random_bytes": (".jpg", _random_bytes),
    "text": (".txt", _text),
    "html": (".html", _html),
    "svg": (".svg", _svg),
    "gif_300_frames": (".gif", _gif_300_frames),
    "bmp": (".bmp", _pillow_file("BMP")),
    "tiff": (".tif", _pillow_file("TIFF")),
    "pdf": (".pdf", _pillow_file("PDF")),
    "truncated_jpeg": (".jpg", _truncated_jpeg),
    "truncated_png": (".png", _truncated_png),
    "png_bomb_40000": (".png", _png_bomb_40000),
    "png_header_65000": (".png", _png_header_65000),
    "jpeg_header_65000": (".jpg", _jpeg_header_65000),
    "webp_canvas_bomb": (".webp", _webp_canvas_bomb),
    "jpeg_many_segments": (".jpg", _jpeg_many_segments),
    "huge_side": (".png", _huge_side),
    "oversized_jpeg": (".jpg", _oversized_jpeg),
}


def _photo_like(width: int, height: int) -> Image.Image:
    """A smooth colour gradient: compresses like a photo, unlike noise."""
    vertical = Image.linear_gradient("L")
    horizontal = vertical.transpose(Image.Transpose.ROTATE_90)
    diagonal = Image.blend(vertical, horizontal, 0.5)
    return Image.merge("RGB", (vertical, horizontal, diagonal)).resize((width, height))


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _png(width: int, height: int, *, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    padding = b"\x00" if len(payload) % 2 else b""
    return kind + struct.pack("<I", len(payload)) + payload + padding


def _webp_chunks(data: bytes) -> dict[bytes, bytes]:
    chunks: dict[bytes, bytes] = {}
    position = 12
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        chunks[kind] = data[position + 8 : position + 8 + size]
        position += 8 + size + size % 2
    return chunks


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "little")
