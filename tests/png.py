"""A small PNG reader and writer in pure Python (zlib only), for the browser tests and
scripts/screenshots.py: size, pixels, and crops of a screenshot, without Pillow.

Handles what Chromium writes: 8-bit RGB or RGBA, not interlaced, every filter type.
"""
from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Png:
    def __init__(self, width: int, height: int, channels: int, rows: list[bytes]):
        self.width, self.height, self.channels, self.rows = width, height, channels, rows

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        c = self.channels
        r = self.rows[y]
        return tuple(r[x * c: x * c + c])

    def colours(self, step: int = 4) -> dict[tuple[int, int, int], int]:
        """How many sampled pixels (every `step`-th in both directions) have each RGB colour."""
        out: dict = {}
        c = self.channels
        for y in range(0, self.height, step):
            r = self.rows[y]
            for x in range(0, self.width, step):
                k = (r[x * c], r[x * c + 1], r[x * c + 2])
                out[k] = out.get(k, 0) + 1
        return out

    def crop(self, top: int, height: int) -> "Png":
        return Png(self.width, min(height, self.height - top), self.channels, self.rows[top: top + height])

    def encode(self) -> bytes:
        colour_type = 6 if self.channels == 4 else 2
        raw = b"".join(b"\x00" + r for r in self.rows)

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        ihdr = struct.pack(">IIBBBBB", self.width, self.height, 8, colour_type, 0, 0, 0)
        return SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header alone."""
    if data[:8] != SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def decode(data: bytes) -> Png:
    if data[:8] != SIGNATURE:
        raise ValueError("not a PNG file")
    pos, idat = 8, []
    width = height = channels = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos: pos + 4])
        kind = data[pos + 4: pos + 8]
        body = data[pos + 8: pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _comp, _filt, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {ctype}, interlace {interlace}")
            channels = 4 if ctype == 6 else 3
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    c = channels
    for y in range(height):
        base = y * (stride + 1)
        f = raw[base]
        line = bytearray(raw[base + 1: base + 1 + stride])
        if f == 1:
            for i in range(c, stride):
                line[i] = (line[i] + line[i - c]) & 0xFF
        elif f == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - c] if i >= c else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - c] if i >= c else 0
                b = prev[i]
                cc = prev[i - c] if i >= c else 0
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else cc)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return Png(width, height, channels, rows)
