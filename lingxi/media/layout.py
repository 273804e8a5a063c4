"""Reading order for OCR lines: deskew, split columns (and cards) at gutters, merge lines into paragraphs.

Pure geometry over line boxes, no model: a column split needs a vertical gutter wider than
``GUTTER`` line heights (boxes trimmed of the detector's padding) between groups of lines at least ``COLUMN_LINE`` line heights wide, so
key–value rows (``面粉  200克``) stay rows while text columns are read one after the other. Lines
spanning the region (titles over two columns) cut it into bands that are read top to bottom."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from lingxi.media.ocr import OcrLine
from lingxi.text import is_cjk

GUTTER = 0.2  # a column gutter is at least this many line heights wide (between trimmed boxes)
TRIM = 0.4  # detection pads each box sideways by about this many line heights: trimmed before looking for gutters
COLUMN_LINE = 5.0  # lines of a text column are (median) at least this many line heights wide
SPAN = 0.6  # a line wider than this share of its region spans the columns
PARA_GAP = 0.75  # a vertical gap over this many line heights starts a new paragraph


@dataclass(frozen=True)
class Placed:
    """A line with its box in the deskewed frame (x0, y0, x1, y1)."""

    line: OcrLine
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def w(self) -> float:
        return self.x1 - self.x0


def skew(lines: list[OcrLine]) -> float:
    """The median angle (radians) of the lines' top edges, from lines at least twice as wide as tall."""
    angles = []
    for ln in lines:
        (ax, ay), (bx, by) = ln.quad[0], ln.quad[1]
        if math.hypot(bx - ax, by - ay) >= 2 * max(1.0, math.hypot(ln.quad[3][0] - ax, ln.quad[3][1] - ay)):
            angles.append(math.atan2(by - ay, bx - ax))
    return statistics.median(angles) if angles else 0.0


def place(lines: list[OcrLine]) -> list[Placed]:
    """Boxes in a frame rotated so that the median text line is horizontal."""
    a = -skew(lines)
    c, s = math.cos(a), math.sin(a)
    out = []
    for ln in lines:
        xs = [x * c - y * s for x, y in ln.quad]
        ys = [x * s + y * c for x, y in ln.quad]
        out.append(Placed(ln, min(xs), min(ys), max(xs), max(ys)))
    return out


def _gaps(spans: list[tuple[float, float]], min_gap: float) -> list[float]:
    """Cut positions between projected intervals that leave a gap of at least min_gap."""
    cuts = []
    spans = sorted(spans)
    end = spans[0][1]
    for a, b in spans[1:]:
        if a - end >= min_gap:
            cuts.append((a + end) / 2)
        end = max(end, b)
    return cuts


def _rows(items: list[Placed]) -> list[list[Placed]]:
    """Lines grouped into rows (vertical overlap of at least half a line), top to bottom, each left to right."""
    rows: list[list[Placed]] = []
    for p in sorted(items, key=lambda p: (p.y0 + p.y1) / 2):
        if rows:
            last = rows[-1]
            top, bottom = min(q.y0 for q in last), max(q.y1 for q in last)
            if min(bottom, p.y1) - max(top, p.y0) >= 0.5 * min(p.h, bottom - top):
                last.append(p)
                continue
        rows.append([p])
    return [sorted(r, key=lambda p: p.x0) for r in rows]


def _columns(items: list[Placed], lh: float) -> list[list[Placed]] | None:
    """Split into columns at vertical gutters, or None when these lines are not columns of text."""
    pad = TRIM * lh
    cuts = _gaps([(p.x0 + pad, max(p.x0 + pad, p.x1 - pad)) for p in items], GUTTER * lh)
    if not cuts:
        return None
    bounds = [-math.inf, *cuts, math.inf]
    cols = [[p for p in items if lo < (p.x0 + p.x1) / 2 < hi] for lo, hi in zip(bounds, bounds[1:])]
    cols = [c for c in cols if c]
    if len(cols) < 2 or any(statistics.median(p.w for p in c) < COLUMN_LINE * lh for c in cols):
        return None
    return cols


def order(items: list[Placed], lh: float | None = None) -> list[list[Placed]]:
    """Rows of lines in reading order."""
    if not items:
        return []
    lh = lh or statistics.median(p.h for p in items)
    if len(items) == 1:
        return [items]
    left, right = min(p.x0 for p in items), max(p.x1 for p in items)
    spanning = [p for p in items if p.w > SPAN * (right - left)]
    rest = [p for p in items if p.w <= SPAN * (right - left)]
    if rest and _columns(rest, lh) is not None:
        # Spanning lines cut the region into bands; each band is read column by column.
        out: list[list[Placed]] = []
        band: list[Placed] = []
        for p in sorted(items, key=lambda p: p.y0):
            if p in spanning:
                out += _band(band, lh)
                band = []
                out.append([p])
            else:
                band.append(p)
        return out + _band(band, lh)
    return _rows(items)


def _band(items: list[Placed], lh: float) -> list[list[Placed]]:
    if not items:
        return []
    cols = _columns(items, lh)
    if cols is None:
        return _rows(items)
    return [row for col in cols for row in order(col, lh)]


def join(a: str, b: str) -> str:
    """Join two pieces of recognised text: no space between CJK characters, a hyphenated word rejoined."""
    if not a:
        return b
    if not b:
        return a
    if is_cjk(a[-1]) or is_cjk(b[0]) or a[-1] in "，。、：；！？（）《》“”":
        return a + b
    if a.endswith("-") and a[-2:-1].isalpha() and b[0].islower():
        return a[:-1] + b
    return a + " " + b


@dataclass(frozen=True)
class Paragraph:
    text: str
    lines: tuple[OcrLine, ...]


def paragraphs(lines: list[OcrLine]) -> list[Paragraph]:
    """OCR lines → paragraphs in reading order."""
    if not lines:
        return []
    placed = place(lines)
    lh = statistics.median(p.h for p in placed)
    rows = order(placed, lh)
    out: list[Paragraph] = []
    cur: list[list[Placed]] = []

    def close() -> None:
        if cur:
            text = ""
            for row in cur:
                text = join(text, " ".join(p.line.text for p in row))
            out.append(Paragraph(text, tuple(p.line for row in cur for p in row)))
            cur.clear()

    for row in rows:
        if cur:
            prev = cur[-1]
            gap = min(p.y0 for p in row) - max(p.y1 for p in prev)
            x_jump = abs(min(p.x0 for p in row) - min(p.x0 for p in prev))
            # a new paragraph: a wide vertical gap, a jump sideways (next column), or the row going back up
            if gap > PARA_GAP * lh or gap < -lh or x_jump > 3 * lh:
                close()
        cur.append(row)
    close()
    return out
