"""What every parser returns, and small helpers to build it.

A parser is a function ``parse(text, name) -> list[Note]``. The notes it returns
carry a *local key* in ``id`` (``""`` for single-note files, an episode number or a
JSONL id otherwise); the ingest layer turns it into a store-wide id and fills ``source``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from lingxi.errors import BadInput
from lingxi.ingest.text import pack_spans, paragraph_spans
from lingxi.types import Chunk, Locator, Note


def span_chunks(body: str, spans: list[tuple[int, int]], meta: dict[str, Any] | None = None) -> list[Chunk]:
    return [
        Chunk(text=body[s:e], locator=Locator(char_start=s, char_end=e), meta=dict(meta or {}), ord=i)
        for i, (s, e) in enumerate(spans)
    ]


def prose_chunks(body: str) -> list[Chunk]:
    """Paragraph-packed chunks of a prose body."""
    return span_chunks(body, pack_spans(body, paragraph_spans(body)))


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,}).*?(?:^[ \t]{0,3}\1[ \t]*$|\Z)", re.S | re.M)


def headings(body: str) -> Iterator[re.Match[str]]:
    """Markdown headings of ``body``, not counting lines inside fenced code (a shell or Python comment)."""
    fences = [m.span() for m in FENCE.finditer(body)]
    return (m for m in HEADING.finditer(body) if not any(a <= m.start() < b for a, b in fences))


def section_chunks(body: str) -> list[Chunk]:
    """Chunks that follow markdown sections: a heading starts a new chunk and is recorded on it."""
    headings_ = [(m.start(), m.group(2)) for m in headings(body)]
    bounds = [0] + [s for s, _ in headings_ if s > 0] + [len(body)]
    paras = paragraph_spans(body)
    chunks: list[Chunk] = []
    for a, b in zip(bounds, bounds[1:]):
        section = ""
        for s, h in headings_:
            if s <= a:
                section = h
        spans = [(s, e) for s, e in paras if a <= s < b]
        chunks.extend(span_chunks(body, pack_spans(body, spans), {"section": section} if section else None))
    return chunks


def stem(name: str) -> str:
    return PurePath(name).stem or name


def make_note(key: str, title: str, kind: str, body: str, chunks: list[Chunk], meta: dict[str, Any]) -> Note:
    chunks = [Chunk(text=c.text, locator=c.locator, meta=c.meta, ord=i) for i, c in enumerate(chunks)]
    return Note(id=key, title=title.strip(), kind=kind, source="", body=body, chunks=tuple(chunks), meta=meta)


def require_content(notes: list[Note], name: str) -> list[Note]:
    notes = [n for n in notes if n.chunks]
    if not notes:
        raise BadInput(f"{name}: no text content found")
    return notes


def jsonable(value: Any) -> Any:
    """Front matter and JSON metadata → plain JSON types (YAML gives dates)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def as_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace("，", ",").replace("#", " ").split(",")]
        if len(parts) == 1:
            parts = value.split()
        return [p.strip() for p in parts if p.strip()]
    if isinstance(value, (list, tuple)):  # nested lists (Hexo's category paths) are flattened
        return list(dict.fromkeys(t for v in value for t in ([str(v).strip()] if not isinstance(v, (list, tuple))
                                                             else as_tags(v)) if t))
    return [str(value)]
