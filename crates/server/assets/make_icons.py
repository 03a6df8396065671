#!/usr/bin/env python3
"""Draws Mitai's icons: icon.svg and the PNGs the web app manifest names (192 and 512 px).

Run once when the design changes; the files are committed and embedded in the binary.
Pure Python (no imaging library): each pixel is the share of 4x4 samples inside the shapes.
"""
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
GREEN = (0x1F, 0x6F, 0x4A)
WHITE = (0xFF, 0xFF, 0xFF)
# On a 100-unit square: the background's corner radius, the trend line and its dots.
RADIUS = 22
LINE = [(20, 66), (38, 52), (54, 58), (80, 32)]
WIDTH = 9
DOT = 8.5

SVG = f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
<rect width="100" height="100" rx="{RADIUS}" fill="#1f6f4a"/>
<polyline points="{' '.join(f'{x},{y}' for x, y in LINE)}" fill="none" stroke="#fff" stroke-width="{WIDTH}" stroke-linecap="round" stroke-linejoin="round"/>
<circle cx="{LINE[-1][0]}" cy="{LINE[-1][1]}" r="{DOT}" fill="#fff"/>
</svg>
"""


def in_background(x, y):
    r = RADIUS
    cx = min(max(x, r), 100 - r)
    cy = min(max(y, r), 100 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def near_line(x, y):
    half = WIDTH / 2
    for (x1, y1), (x2, y2) in zip(LINE, LINE[1:]):
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
        px, py = x1 + t * dx, y1 + t * dy
        if (x - px) ** 2 + (y - py) ** 2 <= half * half:
            return True
    ex, ey = LINE[-1]
    return (x - ex) ** 2 + (y - ey) ** 2 <= DOT * DOT


def png(size):
    rows = []
    n = 4
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            bg = fg = 0
            for sj in range(n):
                for si in range(n):
                    x = (i + (si + 0.5) / n) * 100 / size
                    y = (j + (sj + 0.5) / n) * 100 / size
                    if in_background(x, y):
                        if near_line(x, y):
                            fg += 1
                        else:
                            bg += 1
            total = n * n
            alpha = (bg + fg) / total
            if alpha == 0:
                row += bytes(4)
                continue
            share = fg / (bg + fg)
            rgb = [round(g + (w - g) * share) for g, w in zip(GREEN, WHITE)]
            row += bytes(rgb + [round(alpha * 255)])
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    (HERE / "icon.svg").write_text(SVG)
    for size in (192, 512):
        (HERE / f"icon-{size}.png").write_bytes(png(size))
