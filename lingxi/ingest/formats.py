"""Format table and detection. The table is the single source of valid format names."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path, PurePath

from lingxi.errors import BadInput, BadRows
from lingxi.ingest import asrjson, audio, html, image, jsonl, markdown, plain, shownotes, subtitles, transcript, webtext
from lingxi.ingest.base import require_content
from lingxi.ingest.text import decode
from lingxi.media import Recognizers
from lingxi.types import Note

Parser = Callable[[str, str], list[Note]]

FORMATS: dict[str, Parser] = {
    "markdown": markdown.parse,
    "html": html.parse,
    "webtext": webtext.parse,
    "shownotes": shownotes.parse,
    "srt": lambda t, n: subtitles.parse(t, n, vtt=False),
    "vtt": lambda t, n: subtitles.parse(t, n, vtt=True),
    "transcript": transcript.parse,
    "lrc": transcript.parse_lrc,
    "tsv": transcript.parse_tsv,
    "text": plain.parse,
    "jsonl": jsonl.parse,
    "asrjson": asrjson.parse,
}

EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".srt": "srt",
    ".vtt": "vtt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "asrjson",
    ".lrc": "lrc",
    ".tsv": "tsv",
}
# Binary media, read from the file (streamed) by a recogniser instead of decoded as text.
MEDIA_FORMATS = ("image", "audio")
MEDIA_EXTENSIONS = {**{e: "image" for e in image.EXTENSIONS}, **{e: "audio" for e in audio.EXTENSIONS}}
# Extensions whose content decides between the text-like formats.
TEXT_EXTENSIONS = {".txt", ".text", ".asr", ""}

# Bump when a parser changes its output, so re-ingest replaces notes built by the old one.
PARSER_VERSION = "5"

_SRT = re.compile(r"^\s*\d+\s*\n\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->", re.M)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•·▪◦]|\d{1,3}[.)、])\s+\S")
_PUNCT = re.compile(r"[。！？，、；：,.!?;:]")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS and fmt not in MEDIA_FORMATS:
        raise BadInput(f"unknown format {fmt!r}; choose one of: {', '.join([*FORMATS, *MEDIA_FORMATS])}")
    return fmt


def sniff(text: str) -> str:
    """Decide among the text-like formats by content."""
    head = text.lstrip("\ufeff \n")
    if head.startswith("WEBVTT"):
        return "vtt"
    if _SRT.search(text[:2000]):
        return "srt"
    if transcript.looks_like_segments(text) or transcript.looks_like_timed_lines(text):
        return "transcript"
    if head.startswith(("---\n", "+++\n")) and markdown.FRONT_MATTER.match(head):
        return "markdown"
    if re.match(r"\s*<(!DOCTYPE html|html)\b", head, re.I):
        return "html"
    if shownotes.looks_like_shownotes(text):
        return "shownotes"
    if webtext.looks_like_webtext(text):
        return "webtext"
    words = len(text.strip())
    lines = [ln for ln in text.split("\n") if ln.strip()]
    listed = sum(1 for ln in lines if _LIST_ITEM.match(ln))
    if words >= 300 and listed * 2 < len(lines):  # a list of short items is written, not recognised
        punct = len(_PUNCT.findall(text))
        longest = max((len(ln) for ln in text.split("\n")), default=0)
        # ASR output: under one punctuation mark per 60 characters, or very long unbroken lines with few marks.
        if punct * 60 < words or (longest > 1500 and punct * 25 < words):
            return "transcript"
    return "text"


def detect_format(name: str, text: str) -> str:
    ext = PurePath(name).suffix.lower()
    if ext in EXTENSIONS:
        fmt = EXTENSIONS[ext]
        if fmt == "srt" and text.lstrip("\ufeff \n").startswith("WEBVTT"):
            return "vtt"
        if fmt == "markdown" and transcript.looks_like_timed_lines(text):
            return "transcript"
        if fmt == "markdown" and shownotes.looks_like_shownotes(text, markdown=True):
            return "shownotes"
        return fmt
    if ext in TEXT_EXTENSIONS:
        return sniff(text)
    raise BadInput(
        f"{name}: unknown format for extension {ext!r}; known extensions: "
        f"{', '.join(sorted(set(EXTENSIONS) | set(MEDIA_EXTENSIONS) | TEXT_EXTENSIONS - {''}))} (or pass --format)"
    )


def media_format(name: str, fmt: str | None = None) -> str | None:
    """'image' or 'audio' when the file is read by a recogniser (by --format, else by extension), else None."""
    if fmt is not None:
        return fmt if fmt in MEDIA_FORMATS else None
    return MEDIA_EXTENSIONS.get(PurePath(name).suffix.lower())


def parse_media(path: Path, name: str, fmt: str, media: Recognizers) -> list[Note]:
    """Recognise one image or recording. Raises BadInput for an unreadable file, NoContent when nothing is in it."""
    if fmt == "image":
        return image.parse(path, name, media.ocr)
    return audio.parse(path, name, media.asr, media.progress)


def parse_bytes(
    data: bytes, name: str, fmt: str | None = None, bad_rows: list[str] | None = None,
    media: Recognizers | None = None,
) -> tuple[str, list[Note]]:
    """Decode and parse one file's bytes. Raises BadInput for anything it cannot turn into notes.

    With ``bad_rows`` (a list to fill), a row-per-line file (JSONL) keeps its good rows and lists the bad
    ones there (``NAME: line N: reason``) instead of failing whole; it still fails when no row is good.
    With ``media``, the images a Markdown post or JSONL row references (relative to the file) are read too."""
    if fmt is not None:
        check_format(fmt)
    text = decode(data, name)
    if not text.strip():
        raise BadInput(f"{name}: file is empty")
    chosen = fmt or detect_format(name, text)
    try:
        if chosen == "jsonl" and bad_rows is not None:
            notes, bad = jsonl.parse_rows(text, name)
            if not notes:
                raise BadRows(f"{bad[0]} (and every other row: {len(bad)} bad, none good)" if len(bad) > 1 else bad[0],
                              bad)
            bad_rows.extend(bad)
        else:
            notes = FORMATS[chosen](text, name)
        # lines a parser left out (a subtitle cue or transcript segment whose times do not read) are reported as
        # the bad rows of a JSONL file are; with ``strict`` (no list to fill) the file fails on the first
        skipped = [m for n in notes for m in n.meta.get("skipped", ())]
        if skipped:
            if bad_rows is None:
                raise BadRows(skipped[0], skipped)
            bad_rows.extend(skipped)
            notes = [dataclasses.replace(n, meta={k: v for k, v in n.meta.items() if k != "skipped"}) for n in notes]
        if media is not None:
            notes = image.attach(notes, Path(name).parent, media.ocr)
        return chosen, require_content(notes, name)
    except BadInput:
        raise
    except (RecursionError, ValueError, IndexError, KeyError, TypeError) as e:
        # A parser bug on odd input must still name the file; the property tests keep this rare.
        raise BadInput(f"{name}: could not parse as {chosen} ({type(e).__name__}: {e})") from e
