"""Draws the app icon and writes it as PNG, ICO (Windows) and ICNS (macOS).

Standard library only (zlib + struct), so anyone can regenerate the committed files:

    python packaging/make_icons.py

The picture: a blue rounded square with a white speech bubble holding three dots.
Every shape is a signed distance field, so each size is drawn directly (no scaling)
and its edges are anti-aliased by coverage: a pixel is as opaque as the part of it
that lies inside the shape.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "online-chat-messenger"

PNG_SIZES = (48, 128, 256)  # installed into the hicolor theme by install-desktop-entry.sh
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS types that hold PNG data (macOS 10.7+).
ICNS_TYPES = ((b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256), (b"ic09", 512))

TOP = (0x3B, 0x8B, 0xEB)  # background gradient, top
BOTTOM = (0x1D, 0x5F, 0xBF)  # background gradient, bottom
WHITE = (0xFF, 0xFF, 0xFF)
DOT = (0x1D, 0x5F, 0xBF)


def _clamp(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


def _rounded_box(px: float, py: float, cx: float, cy: float, hw: float, hh: float, r: float) -> float:
    qx = abs(px - cx) - hw + r
    qy = abs(py - cy) - hh + r
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - r


def _triangle(px, py, a, b, c) -> float:
    """Signed distance to triangle abc (negative inside)."""
    (ax, ay), (bx, by), (cx, cy) = a, b, c
    best = math.inf
    inside_sign = []
    for (x0, y0), (x1, y1) in (((ax, ay), (bx, by)), ((bx, by), (cx, cy)), ((cx, cy), (ax, ay))):
        ex, ey = x1 - x0, y1 - y0
        vx, vy = px - x0, py - y0
        t = _clamp((vx * ex + vy * ey) / (ex * ex + ey * ey))
        dx, dy = vx - ex * t, vy - ey * t
        best = min(best, dx * dx + dy * dy)
        inside_sign.append(ex * vy - ey * vx)
    inside = all(s >= 0 for s in inside_sign) or all(s <= 0 for s in inside_sign)
    d = math.sqrt(best)
    return -d if inside else d


def _over(dst: list[float], rgb: tuple[int, int, int], alpha: float) -> None:
    """Composites a straight-alpha colour over dst = [r, g, b, a] (floats 0..1)."""
    if alpha <= 0.0:
        return
    da = dst[3]
    out_a = alpha + da * (1.0 - alpha)
    for i in range(3):
        dst[i] = (rgb[i] / 255.0 * alpha + dst[i] * da * (1.0 - alpha)) / out_a
    dst[3] = out_a


def render(size: int) -> bytes:
    """Returns size*size RGBA pixels, rows top to bottom."""
    px_size = 1.0 / size
    out = bytearray()
    tail = ((0.30, 0.62), (0.46, 0.62), (0.24, 0.80))
    dots = ((0.35, 0.455), (0.50, 0.455), (0.65, 0.455))
    dot_r = 0.055
    for j in range(size):
        y = (j + 0.5) / size
        for i in range(size):
            x = (i + 0.5) / size
            pix = [0.0, 0.0, 0.0, 0.0]
            # Background: a rounded square with a vertical gradient.
            d_bg = _rounded_box(x, y, 0.5, 0.5, 0.46, 0.46, 0.20)
            cov_bg = _clamp(0.5 - d_bg / px_size)
            if cov_bg > 0.0:
                t = _clamp((y - 0.04) / 0.92)
                grad = tuple(round(TOP[k] + (BOTTOM[k] - TOP[k]) * t) for k in range(3))
                _over(pix, grad, cov_bg)
                # Speech bubble: a rounded box joined with a tail.
                d_box = _rounded_box(x, y, 0.5, 0.455, 0.29, 0.20, 0.13)
                d_bubble = min(d_box, _triangle(x, y, *tail))
                cov_bubble = _clamp(0.5 - d_bubble / px_size) * cov_bg
                if cov_bubble > 0.0:
                    _over(pix, WHITE, cov_bubble)
                    d_dots = min(math.hypot(x - dx, y - dy) - dot_r for dx, dy in dots)
                    _over(pix, DOT, _clamp(0.5 - d_dots / px_size) * cov_bubble)
            out += bytes(round(_clamp(c) * 255) for c in pix)
    return bytes(out)


def png_bytes(size: int, rgba: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    stride = size * 4
    raw = b"".join(b"\x00" + rgba[r * stride : (r + 1) * stride] for r in range(size))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def dib_bytes(size: int, rgba: bytes) -> bytes:
    """A 32-bit BGRA bitmap as stored in an ICO entry: bottom-up rows plus an AND mask."""
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    rows = []
    for r in range(size - 1, -1, -1):
        row = rgba[r * size * 4 : (r + 1) * size * 4]
        rows.append(b"".join(bytes((row[k + 2], row[k + 1], row[k], row[k + 3])) for k in range(0, len(row), 4)))
    mask_stride = ((size + 31) // 32) * 4
    mask = bytes(mask_stride * size)  # all zero: the alpha channel decides
    return header + b"".join(rows) + mask


def ico_bytes(images: dict[int, bytes]) -> bytes:
    """ICO with BMP entries below 256 px (every Windows reads those) and PNG at 256."""
    entries = []
    for size in sorted(images):
        rgba = images[size]
        data = png_bytes(size, rgba) if size >= 256 else dib_bytes(size, rgba)
        entries.append((size, data))
    out = struct.pack("<HHH", 0, 1, len(entries))
    offset = 6 + 16 * len(entries)
    directory, blobs = b"", b""
    for size, data in entries:
        dim = 0 if size >= 256 else size
        directory += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return out + directory + blobs


def icns_bytes(images: dict[int, bytes]) -> bytes:
    body = b""
    for kind, size in ICNS_TYPES:
        data = png_bytes(size, images[size])
        body += kind + struct.pack(">I", 8 + len(data)) + data
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {s for _, s in ICNS_TYPES})
    images = {s: render(s) for s in sizes}
    for s in PNG_SIZES:
        (HERE / f"{NAME}-{s}.png").write_bytes(png_bytes(s, images[s]))
    (HERE / f"{NAME}.ico").write_bytes(ico_bytes({s: images[s] for s in ICO_SIZES}))
    (HERE / f"{NAME}.icns").write_bytes(icns_bytes(images))
    print(f"wrote {NAME}-{{{','.join(map(str, PNG_SIZES))}}}.png, {NAME}.ico, {NAME}.icns in {HERE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
