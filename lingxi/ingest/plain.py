"""Plain text: paragraphs packed into chunks; a short first line is the title."""

from __future__ import annotations

from lingxi.ingest.base import make_note, prose_chunks, require_content, stem
from lingxi.ingest.text import SENTENCE_END
from lingxi.ingest.webtext import visual_len
from lingxi.types import Note


def parse(text: str, name: str) -> list[Note]:
    body = text.strip()
    first = body.split("\n", 1)[0].strip()
    rest = body[len(first) :]
    # A heading is short and either stands apart (a blank line follows) or does not end like a sentence; the first
    # line of a one-sentence-per-line transcript is neither.
    heading = rest.startswith("\n\n") or (first[-1:] not in SENTENCE_END + ".,，、" if first else False)
    title = first if first and visual_len(first) <= 80 and "\n" in body and heading else stem(name)
    return require_content([make_note("", title, "text", body, prose_chunks(body), {})], name)
