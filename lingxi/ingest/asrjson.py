"""Speech-recogniser JSON: Whisper's ``{"segments": [{"start", "end", "text"}, ...]}`` output, or word-level
timings ``[[" word", start, end], ...]`` (lists or ``{"word", "start", "end"}`` objects).

Words are grouped into segments at sentence ends and pauses, then chunked like any timed
transcript (``lingxi.ingest.transcript``), so chunks carry time ranges.
"""

from __future__ import annotations

import json
from typing import Any

from lingxi.errors import BadInput
from lingxi.ingest.text import SENTENCE_END
from lingxi.ingest.transcript import timed_note
from lingxi.text import is_cjk
from lingxi.types import Note

PAUSE_S = 0.6  # a silence this long between two words ends a segment
MAX_WORDS = 40

_EXPECTED = 'expected Whisper JSON ({"segments": [{"start", "end", "text"}]}) or word timings ([[word, start, end], ...])'


def _num(v: Any, name: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadInput(f"{name}: {where}: time must be a number of seconds, got {v!r}")
    return float(v)


def _words(items: list[Any], name: str) -> list[tuple[float, float, str]]:
    out = []
    for i, it in enumerate(items):
        if isinstance(it, (list, tuple)) and len(it) >= 3 and isinstance(it[0], str):
            w, a, b = it[0], it[1], it[2]
        elif isinstance(it, dict) and isinstance(it.get("word", it.get("text")), str):
            w, a, b = str(it.get("word", it.get("text"))), it.get("start"), it.get("end")
        else:
            raise BadInput(f"{name}: item {i}: not a word timing; {_EXPECTED}")
        out.append((_num(a, name, f"item {i}"), _num(b, name, f"item {i}"), w))
    return out


def _join(words: list[str]) -> str:
    text = ""
    for w in words:
        if text and not w.startswith(" ") and not (is_cjk(w.strip()[:1] or " ") or is_cjk(text[-1])):
            text += " "
        text += w
    return text.strip()


def segments_from_words(words: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    segs: list[tuple[float, float, str]] = []
    cur: list[tuple[float, float, str]] = []
    for k, (a, b, w) in enumerate(words):
        cur.append((a, b, w))
        nxt = words[k + 1][0] if k + 1 < len(words) else None
        ends = w.rstrip()[-1:] in SENTENCE_END + "."
        if nxt is None or ends or nxt - b >= PAUSE_S or len(cur) >= MAX_WORDS:
            text = _join([x[2] for x in cur])
            if text:
                segs.append((cur[0][0], cur[-1][1], text))
            cur = []
    return segs


def parse(text: str, name: str) -> list[Note]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"{name}: not valid JSON (line {e.lineno}: {e.msg})") from e
    if isinstance(data, dict) and isinstance(data.get("segments"), list):
        pieces = []
        for i, seg in enumerate(data["segments"]):
            if not isinstance(seg, dict) or not isinstance(seg.get("text"), str):
                raise BadInput(f"{name}: segments[{i}]: expected an object with 'start', 'end' and 'text'")
            t = seg["text"].strip()
            if t:
                pieces.append((_num(seg.get("start"), name, f"segments[{i}]"),
                               _num(seg.get("end"), name, f"segments[{i}]"), t))
    elif isinstance(data, list):
        pieces = segments_from_words(_words(data, name))
    else:
        raise BadInput(f"{name}: {_EXPECTED}")
    if not pieces:
        raise BadInput(f"{name}: no transcript text found")
    for k, (a, b, _) in enumerate(pieces):
        if b < a:
            raise BadInput(f"{name}: segment {k} ends ({b}) before it starts ({a})")
    return [timed_note(pieces, name)]
