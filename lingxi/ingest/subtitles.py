"""SRT and WebVTT subtitles: short cues merged into readable passages with start–end times."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lingxi.errors import BadInput
from lingxi.ingest.base import make_note, require_content, stem
from lingxi.ingest.text import SENTENCE_END
from lingxi.text import is_cjk
from lingxi.types import Chunk, Locator, Note

_TIME = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
_TAG = re.compile(r"<[^>]*>")
_ASS = re.compile(r"\{\\[^}]*\}")

# A passage closes at PASSAGE_CHARS characters, or at a pause of PAUSE_S seconds or a
# sentence end once it holds MIN_CHARS; it never grows past MAX_CHARS, and never past a silence of LONG_PAUSE_S or
# MAX_SPAN_S seconds of video (sparse dialogue, a chapter track's long cues: a citation names a moment, not minutes).
PASSAGE_CHARS = 200
MIN_CHARS = 80
MAX_CHARS = 320
PAUSE_S = 2.0
LONG_PAUSE_S = 8.0
MAX_SPAN_S = 90.0
# a cue on screen LONG_CUE_S or more that says under one character a second is no line of dialogue (a chapter's
# title, a scene description): alone
LONG_CUE_S = 10.0
_WIDE_END = "。！？…；，、"  # full-width marks: no space after them in any script


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _seconds(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def parse_cues(text: str, name: str, vtt: bool, skipped: list[str] | None = None) -> list[Cue]:
    """The cues in file order. A cue whose timing line is malformed, or ends before it starts, is left out and
    named in ``skipped`` (``NAME: line N: reason``)."""
    lines = text.split("\n")
    skipped = [] if skipped is None else skipped
    if vtt:
        if not lines or not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
            raise BadInput(f"{name}: WebVTT file must start with 'WEBVTT'")
    cues: list[Cue] = []
    i = 0
    while i < len(lines):
        m = TIMING.match(lines[i])
        bad = "" if m or "-->" not in lines[i] else f"not a cue timing ({lines[i].strip()[:60]})"
        if m:
            g = m.groups()
            start, end = _seconds(*g[:4]), _seconds(*g[4:])
            bad = f"cue ends ({lines[i].strip()}) before it starts" if end < start else ""
        if bad:  # the cue's text goes with it
            skipped.append(f"{name}: line {i + 1}: {bad}; cue left out")
            i += 1
            while i < len(lines) and lines[i].strip() and not TIMING.match(lines[i]):
                i += 1
            continue
        if not m:
            if vtt and lines[i].startswith(("NOTE", "STYLE", "REGION")):
                while i < len(lines) and lines[i].strip():
                    i += 1
            i += 1
            continue
        i += 1
        texts = []
        # a cue's text ends at an empty line; in WebVTT a line of spaces is text (YouTube's captions open each cue
        # with one)
        if i + 2 < len(lines) and not lines[i].strip() and lines[i + 1].strip() and \
                not TIMING.match(lines[i + 1]) and not TIMING.match(lines[i + 2]):
            i += 1  # that line of spaces lost on the way: the cue's text after it is not a next cue's identifier
        while i < len(lines) and (lines[i].strip() or (vtt and lines[i])) and not TIMING.match(lines[i]):
            # an SRT cue number directly before the next timing line is not text
            if i + 1 < len(lines) and TIMING.match(lines[i + 1]) and lines[i].strip().isdigit():
                break
            texts.append(_ASS.sub("", _TAG.sub("", lines[i])).strip())
            i += 1
        cue_text = " ".join(t for t in texts if t)
        cue_text = cue_text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ")
        if cue_text:
            cues.append(Cue(start, end, cue_text))
    return cues


def _joiner(prev: str, nxt: str) -> str:
    if not prev:
        return ""
    if prev[-1] in _WIDE_END or (prev[-1] in SENTENCE_END + ",;" and is_cjk(nxt[0])):
        return ""
    return " "


def _new_words(text: str, said: str, last: str) -> str:
    """What cue ``text`` adds to what was said before it (``said``; ``last``: the cue before): rolling captions
    (YouTube's) repeat the line before, whole or as the start of the cue. A cue that is the one before, or a run of
    8 characters or more that ``said`` ends with, adds nothing; else the longest start of ``text`` ending a word
    that ``said`` ends with (8 characters or more, so that a cue opening with a common word is not cut) is dropped."""
    if text == last or (len(text) >= 8 and said.endswith(" " + text)):
        return ""
    for k in range(min(len(text), len(said)) - 1, 7, -1):
        if text[k] == " " and said.endswith(text[:k]):
            return text[k + 1:]
    return text


def _sparse(cue: Cue) -> bool:
    return cue.end - cue.start >= LONG_CUE_S and len(cue.text) < cue.end - cue.start


def merge_cues(cues: list[Cue]) -> list[tuple[float, float, str]]:
    passages: list[tuple[float, float, str]] = []
    cur: list[Cue] = []
    cur_text = ""

    def close() -> None:
        nonlocal cur, cur_text
        if cur:
            passages.append((cur[0].start, max(c.end for c in cur), cur_text))  # overlapping cues: the latest end
        cur, cur_text = [], ""

    said, last = "", ""  # the end of the text so far, across passages; the cue before
    for cue in cues:
        text, last = _new_words(cue.text, said, last), cue.text
        if not text:
            continue
        said = (said + " " + text)[-400:]
        if cur:
            gap = cue.start - cur[-1].end
            n = len(cur_text)
            if (
                n >= PASSAGE_CHARS
                or n + len(text) > MAX_CHARS
                or (n >= MIN_CHARS and (gap >= PAUSE_S or cur_text[-1] in SENTENCE_END + "."))
                or gap >= LONG_PAUSE_S
                or cue.end - cur[0].start > MAX_SPAN_S
                or _sparse(cue) or _sparse(cur[-1])
            ):
                close()
        cur_text += _joiner(cur_text, text) + text
        cur.append(cue)
    close()
    return passages


def parse(text: str, name: str, vtt: bool | None = None) -> list[Note]:
    if vtt is None:
        vtt = text.lstrip("\ufeff").startswith("WEBVTT")
    skipped: list[str] = []
    cues = parse_cues(text, name, vtt, skipped)
    if not cues:
        raise BadInput(skipped[0] if skipped else
                       f"{name}: no subtitle cues found (expected lines like '00:00:01,000 --> 00:00:02,500')")
    cues.sort(key=lambda c: c.start)  # cues out of order are played in time order
    parts: list[str] = []
    chunks: list[Chunk] = []
    pos = 0
    for start, end, passage in merge_cues(cues):
        chunks.append(
            Chunk(text=passage, locator=Locator(start_s=start, end_s=end, char_start=pos, char_end=pos + len(passage)))
        )
        parts.append(passage)
        pos += len(passage) + 2
    body = "\n\n".join(parts)
    kind = "vtt" if vtt else "srt"
    meta: dict[str, object] = {"cues": len(cues), "duration_s": max(c.end for c in cues)}
    if skipped:
        meta["skipped"] = skipped
    return require_content([make_note("", stem(name), kind, body, chunks, meta)], name)
