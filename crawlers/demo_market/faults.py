"""Hostile responses the demo marketplace serves, made on the fly so nothing large is committed."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

HUGE_SIDE = 30_000


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def pixel_bomb_png(side: int = HUGE_SIDE) -> bytes:
    """A small, well-formed PNG whose header claims ``side`` x ``side`` pixels.

    Decoding it would need gigabytes; a safe decoder reads the header and refuses it first. The pixel
    data holds only the first row, as a decompression bomb's first bytes would.
    """
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    first_row = zlib.compress(b"\x00" + b"\x80" * (3 * side))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", first_row) + _chunk(b"IEND", b"")


def truncated(data: bytes, keep: float = 0.4) -> bytes:
    """The first part of an image file only, as a dropped connection or a broken upload leaves it."""
    return data[: max(16, int(len(data) * keep))]


def oversized_body(megabytes: int, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """A JPEG-looking body of ``megabytes`` MiB, streamed, for byte-cap tests."""
    yield b"\xff\xd8\xff\xe0" + b"\x00" * (chunk_size - 4)
    for _ in range(megabytes - 1):
        yield b"\x00" * chunk_size
