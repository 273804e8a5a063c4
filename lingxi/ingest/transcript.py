"""Raw transcripts (ASR output): long lines, little or no punctuation, mixed Chinese and English.

Passages are cut by length at the best available boundary — sentence punctuation,
line breaks, ASR pause spaces, discourse markers — so splitting works with no
punctuation at all. Chunks keep exact character offsets into the file's text; if
lines carry ``[00:12:34]`` style times, chunks get a time range too.
"""

from __future__ import annotations

import bisect
import re

from lingxi.ingest.base import make_note, require_content, stem
from lingxi.ingest.text import line_spans, pack_spans
from lingxi.types import Chunk, Locator, Note

LINE_TIME = re.compile(r"^\s*[\[(（]?((?:\d{1,2}:)?\d{1,2}:\d{2})(?:[.,]\d{1,3})?[\])）]?(?=\s|$)", re.M)
TARGET, MAX, MIN = 300, 450, 120


def _seconds(stamp: str) -> float:
    parts = [int(p) for p in stamp.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return float(parts[0] * 3600 + parts[1] * 60 + parts[2])


def parse(text: str, name: str) -> list[Note]:
    body = text.strip("\n")
    stamps = [(m.start(), _seconds(m.group(1))) for m in LINE_TIME.finditer(body)]
    positions = [p for p, _ in stamps]
    spans = pack_spans(body, line_spans(body), target=TARGET, max_chars=MAX, min_chars=MIN)
    chunks = []
    for s, e in spans:
        start_s = end_s = None
        if stamps:
            k = bisect.bisect_right(positions, s) - 1
            start_s = stamps[k][1] if k >= 0 else 0.0
            j = bisect.bisect_left(positions, e)
            end_s = stamps[j][1] if j < len(stamps) else None
        chunks.append(Chunk(text=body[s:e], locator=Locator(start_s=start_s, end_s=end_s, char_start=s, char_end=e)))
    meta = {"timed": bool(stamps)}
    return require_content([make_note("", stem(name), "transcript", body, chunks, meta)], name)
