"""Shared frozen dataclasses. No behaviour beyond formatting and conversion."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def format_clock(seconds: float) -> str:
    """Seconds → ``HH:MM:SS`` (always with hours, so citations read uniformly)."""
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


@dataclass(frozen=True)
class Locator:
    """Where a chunk sits in its source: a time range, a character span of the note body, or both;
    for text read from an image, also the image and the pixel box ``(x0, y0, x1, y1)`` of its lines."""

    start_s: float | None = None
    end_s: float | None = None
    char_start: int | None = None
    char_end: int | None = None
    image: str | None = None
    box: tuple[int, int, int, int] | None = None

    def label(self) -> str:
        if self.image is not None:
            where = f" ({self.box[0]},{self.box[1]})–({self.box[2]},{self.box[3]})" if self.box else ""
            return f"{self.image}{where}"
        if self.start_s is not None:
            if self.end_s is not None:
                return f"{format_clock(self.start_s)}–{format_clock(self.end_s)}"
            return format_clock(self.start_s)
        if self.char_start is not None:
            return f"chars {self.char_start}–{self.char_end}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: v for k, v in asdict(self).items() if v is not None}
        d["label"] = self.label()
        return d


@dataclass(frozen=True)
class Chunk:
    """A passage of a note with its provenance."""

    text: str
    locator: Locator
    meta: dict[str, Any] = field(default_factory=dict)
    ord: int = 0
    id: str = ""
    note_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "note_id": self.note_id,
            "ord": self.ord,
            "text": self.text,
            "locator": self.locator.to_dict(),
            "meta": self.meta,
        }


@dataclass(frozen=True)
class Note:
    """One note: a post, an article, an episode, a subtitle file, a transcript."""

    id: str
    title: str
    kind: str
    source: str
    body: str
    chunks: tuple[Chunk, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, with_chunks: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "source": self.source,
            "meta": self.meta,
            "chunk_count": len(self.chunks),
        }
        if with_chunks:
            d["body"] = self.body
            d["chunks"] = [c.to_dict() for c in self.chunks]
        return d


@dataclass(frozen=True)
class FileReport:
    """Outcome of ingesting one file: status is ingested | unchanged | failed | skipped | empty
    (empty: a readable image or recording with no text or speech in it)."""

    path: str
    status: str
    format: str = ""
    notes: int = 0
    chunks: int = 0
    reason: str = ""
    bad_rows: tuple[str, ...] = ()  # rows of a JSONL file left out, one message each (line number and reason)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """One search result: a chunk, its note's title/source/kind, the fused score and the per-retriever signals."""

    chunk: Chunk
    title: str
    source: str
    kind: str
    score: float
    signals: dict[str, Any] = field(default_factory=dict)
    snippet: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "note_id": self.chunk.note_id,
            "chunk_id": self.chunk.id,
            "title": self.title,
            "source": self.source,
            "kind": self.kind,
            "locator": self.chunk.locator.to_dict(),
            "score": self.score,
            "signals": self.signals,
            "snippet": self.snippet,
            "text": self.chunk.text,
        }


@dataclass(frozen=True)
class Citation:
    """A verified pointer into the store: ``quote`` is a verbatim substring of the chunk's text."""

    n: int
    note_id: str
    chunk_id: str
    title: str
    source: str
    locator: Locator
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "note_id": self.note_id,
            "chunk_id": self.chunk_id,
            "title": self.title,
            "source": self.source,
            "locator": self.locator.label(),
            "quote": self.quote,
        }


@dataclass(frozen=True)
class Step:
    """One step of the agent: what it did, what came back, how long it took, and any model error."""

    kind: str
    detail: dict[str, Any]
    seconds: float = 0.0
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "seconds": round(self.seconds, 3), **self.detail}
        if self.error:
            d["error"] = self.error
        return d


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    citations: tuple[Citation, ...]
    steps: tuple[Step, ...]
    timings: dict[str, float]
    found: bool = True
    short: str = ""  # the answer in as few words as possible (a name, a date, a number)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "short_answer": self.short,
            "found": self.found,
            "citations": [c.to_dict() for c in self.citations],
            "steps": [s.to_dict() for s in self.steps],
            "timings": self.timings,
        }
