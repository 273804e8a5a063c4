"""Raw transcripts (ASR output): long lines, little or no punctuation, mixed Chinese and English.

Two shapes arrive:

* untimed text: passages are cut by length at the best available boundary — sentence
  punctuation, line breaks, ASR pause spaces, discourse markers — so splitting works with
  no punctuation at all; lines that start with ``[00:12:34]`` give chunks a time range;
* Whisper segment lines, ``[00:12.000 --> 00:22.720] text``: the body is the segments'
  text, one per line, and every chunk carries the time range of its segments.

How timed segments are grouped into chunks is a switch (``CHUNKING``, or the environment
variable ``LINGXI_TRANSCRIPT_CHUNKING``): ``length`` packs segments up to a size;
``pause`` (the default) cuts, within the size bounds, where the silence between segments
is longest and where the recogniser ended a sentence; ``topic`` also weighs how much the
words before and after a cut differ. ``LINGXI_TRANSCRIPT_CHARS`` sets the target size
(characters). ``bench/transcript_chunking.py`` measures how often each puts its cuts at
sentence ends.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
import re
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass

from lingxi.errors import BadInput
from lingxi.ingest.base import make_note, require_content, stem
from lingxi.ingest.text import SENTENCE_END, line_spans, pack_spans
from lingxi.types import Chunk, Locator, Note

LINE_TIME = re.compile(r"^\s*[\[(（]?((?:\d{1,2}:)?\d{1,2}:\d{2})(?:[.,]\d{1,3})?[\])）]?(?=\s|$)", re.M)
# a line opened by who speaks, then the time in brackets: "[Speaker 1] [00:09] …", "**Ann** (1:02:03) …",
# "Bryan Cantrill (00:09): …"
SPEAKER_TIME = re.compile(r"^\s*(?:\[[^\]\n]{1,40}\]|\*\*[^*\n]{1,40}\*\*|[^\W\d][\w .'’-]{0,38}?)[ \t]*"
                          r"[\[(（]((?:\d{1,2}:)?\d{1,2}:\d{2})(?:[.,]\d{1,3})?[\])）][:：]?(?=\s|$)", re.M)
_STAMP = r"((?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)"
SEGMENT_LINE = re.compile(rf"^\s*\[{_STAMP}\s*-->\s*{_STAMP}\]\s?(.*)$")
TARGET, MAX, MIN = 300, 450, 120
MODES = ("length", "pause", "topic")


@dataclass(frozen=True)
class Policy:
    """How timed segments become chunks: ``mode`` is one of MODES; sizes in characters."""

    mode: str = "pause"
    target: int = TARGET

    @property
    def max_chars(self) -> int:
        return self.target * 3 // 2

    @property
    def min_chars(self) -> int:
        return self.target * 2 // 5


def policy_from_env() -> Policy:
    mode = os.environ.get("LINGXI_TRANSCRIPT_CHUNKING", "pause")
    if mode not in MODES:
        raise BadInput(f"LINGXI_TRANSCRIPT_CHUNKING={mode!r}; choose one of: {', '.join(MODES)}")
    raw = os.environ.get("LINGXI_TRANSCRIPT_CHARS", str(TARGET))
    if not raw.isdigit() or not 50 <= int(raw) <= 5000:
        raise BadInput(f"LINGXI_TRANSCRIPT_CHARS={raw!r}; expected a whole number of characters from 50 to 5000")
    return Policy(mode, int(raw))


CHUNKING: ContextVar[Policy | None] = ContextVar("lingxi_transcript_chunking", default=None)


def _seconds(stamp: str) -> float:
    head, _, frac = stamp.replace(",", ".").partition(".")
    parts = [int(p) for p in head.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return parts[0] * 3600 + parts[1] * 60 + parts[2] + (float("0." + frac) if frac else 0.0)


def line_times(body: str) -> list[tuple[int, float]]:
    """(position, seconds) of each line that opens with its time, alone or after who speaks."""
    found = {m.start(): _seconds(m.group(1)) for r in (LINE_TIME, SPEAKER_TIME) for m in r.finditer(body)}
    return sorted(found.items())


def looks_like_timed_lines(text: str) -> bool:
    """Most lines open with a time (after who speaks, or alone): a transcript an app or a person exported."""
    lines = [ln for ln in text.split("\n")[:300] if ln.strip()]
    hits = len(line_times("\n".join(lines)))
    return hits >= 5 and hits * 2 >= len(lines)


def looks_like_segments(text: str) -> bool:
    """Whisper's ``[mm:ss.mmm --> mm:ss.mmm] text`` lines make up most of the file."""
    lines = [ln for ln in text.split("\n")[:200] if ln.strip()]
    hits = sum(1 for ln in lines if SEGMENT_LINE.match(ln))
    return hits >= 3 and hits * 2 >= len(lines)


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    char_start: int
    char_end: int


def _profile(text: str) -> Counter[str]:
    chars = [c for c in text if c.isalnum()]
    return Counter(a + b for a, b in zip(chars, chars[1:]))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    return dot / math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))


def group_segments(body: str, segs: list[Segment], pol: Policy) -> list[tuple[int, int]]:
    """Index ranges [i, j) of segments, one per chunk."""
    out: list[tuple[int, int]] = []
    i = 0
    n = len(segs)
    while i < n:
        size = 0
        j = i
        cands: list[int] = []  # cut before segment k
        while j < n and (size < pol.max_chars or j == i):
            size = segs[j].char_end - segs[i].char_start
            j += 1
            if size >= pol.min_chars and j < n:
                cands.append(j)
            if pol.mode == "length" and size >= pol.target:
                break
        if j >= n and size <= pol.max_chars:
            out.append((i, n))
            break
        if pol.mode == "length" or not cands:
            cut = j if pol.mode == "length" or not cands else cands[-1]
        else:

            def score(k: int) -> float:
                gap = max(0.0, segs[k].start - segs[k - 1].end)
                s = min(gap, 3.0) / 3.0  # a pause of 3 s or more is as strong a boundary as it gets
                if body[segs[k - 1].char_end - 1] in SENTENCE_END + ".":
                    s += 1.0  # the recogniser punctuated a sentence end here
                if pol.mode == "topic":
                    before = _profile(body[segs[max(i, k - 4)].char_start : segs[k - 1].char_end])
                    after = _profile(body[segs[k].char_start : segs[min(n - 1, k + 3)].char_end])
                    s += 1.0 - _cosine(before, after)
                # mild preference for sizes near the target
                size_k = segs[k - 1].char_end - segs[i].char_start
                return s - 0.3 * abs(size_k - pol.target) / pol.target

            cut = max(cands, key=score)
        out.append((i, cut))
        i = cut
    return out


_LOOKS_TIMED = re.compile(r"^\s*\[[^\]]*-->")


def parse_segments(text: str, name: str, pol: Policy) -> list[Note]:
    """The segment lines; one that looks like a segment's but whose times do not read, or end before they start,
    is left out and named in the note's ``skipped``."""
    pieces, skipped = [], []
    for n, ln in enumerate(text.split("\n"), 1):
        m = SEGMENT_LINE.match(ln)
        bad = "" if m or not _LOOKS_TIMED.match(ln) else f"times do not read ({ln.strip()[:60]})"
        if m and m.group(3).strip():
            start, end = _seconds(m.group(1)), _seconds(m.group(2))
            if end < start:
                bad = f"segment ends before it starts ({ln.strip()[:60]})"
            else:
                pieces.append((start, end, m.group(3).strip()))
        if bad:
            skipped.append(f"{name}: line {n}: {bad}; segment left out")
    note = timed_note(pieces, name, pol)
    return [dataclasses.replace(note, meta={**note.meta, "skipped": skipped}) if skipped else note]


def timed_note(pieces: list[tuple[float, float, str]], name: str, pol: Policy | None = None) -> Note:
    """A transcript note from timed segments (start s, end s, text): one segment per body line, chunks grouped by
    the chunking policy, each with the time range of its segments."""
    pol = pol or CHUNKING.get() or policy_from_env()
    lines: list[str] = []
    segs: list[Segment] = []
    pos = 0
    for start, end, t in pieces:
        segs.append(Segment(start, end, pos, pos + len(t)))
        lines.append(t)
        pos += len(t) + 1
    body = "\n".join(lines)
    chunks = []
    for a, b in group_segments(body, segs, pol):
        s, e = segs[a].char_start, segs[b - 1].char_end
        chunks.append(Chunk(text=body[s:e], locator=Locator(start_s=segs[a].start, end_s=segs[b - 1].end,
                                                             char_start=s, char_end=e)))
    meta = {"timed": True, "segments": len(segs), "duration_s": max((g.end for g in segs), default=0.0),
            "chunking": f"{pol.mode}:{pol.target}"}
    return require_content([make_note("", stem(name), "transcript", body, chunks, meta)], name)[0]


def parse(text: str, name: str) -> list[Note]:
    if looks_like_segments(text):
        return parse_segments(text, name, CHUNKING.get() or policy_from_env())
    body = text.strip("\n")
    stamps = line_times(body)
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


_LRC_TIME = re.compile(r"\[(\d{1,3}):(\d{2})(?:[.:](\d{1,3}))?\]")
_LRC_TAG = re.compile(r"^\s*\[([a-z]{2,6}):([^\]]*)\]\s*$", re.I)


def parse_lrc(text: str, name: str) -> list[Note]:
    """Lyrics with line times (``[01:02.30]words``; a line may carry several times, ``[ti:]``/``[ar:]`` tags name
    the song): each line a segment, ending where the next begins."""
    tags: dict[str, str] = {}
    timed: list[tuple[float, str]] = []
    for line in text.split("\n"):
        if m := _LRC_TAG.match(line):
            tags[m.group(1).lower()] = m.group(2).strip()
            continue
        stamps = list(_LRC_TIME.finditer(line))
        words = _LRC_TIME.sub("", line).strip()
        for st in stamps:
            if words:
                timed.append((int(st.group(1)) * 60 + int(st.group(2)) + float("0." + (st.group(3) or "0")), words))
    if not timed:
        raise BadInput(f"{name}: no timed lyric lines found (expected lines like '[01:02.30]words')")
    timed.sort(key=lambda t: t[0])
    pieces = [(a, timed[i + 1][0] if i + 1 < len(timed) else a + 5.0, w) for i, (a, w) in enumerate(timed)]
    note = timed_note(pieces, name)
    title = " — ".join(t for t in (tags.get("ti", ""), tags.get("ar", "")) if t)
    return [dataclasses.replace(note, title=title or note.title)]


def parse_tsv(text: str, name: str) -> list[Note]:
    """Whisper's TSV output: a ``start<TAB>end<TAB>text`` header, then times in milliseconds."""
    rows = [ln.split("\t", 2) for ln in text.split("\n") if ln.strip()]
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["start", "end"]:
        raise BadInput(f"{name}: expected Whisper TSV: a 'start<TAB>end<TAB>text' header, then times in milliseconds")
    pieces, skipped = [], []
    for n, row in enumerate(rows[1:], 2):
        try:
            a, b, words = int(row[0]) / 1000, int(row[1]) / 1000, row[2].strip()
        except (ValueError, IndexError):
            skipped.append(f"{name}: line {n}: not 'start<TAB>end<TAB>text' in milliseconds; segment left out")
            continue
        if b < a:
            skipped.append(f"{name}: line {n}: segment ends before it starts; segment left out")
        elif words:
            pieces.append((a, b, words))
    note = timed_note(pieces, name)
    return [dataclasses.replace(note, meta={**note.meta, "skipped": skipped}) if skipped else note]

