"""Podcast show notes: several episodes on one page, each with a description and a chapter list.

Chapter lists come as ``05:46 开源是为了展示架构创新 08:20 ...`` (often all on one
line) or one chapter per line, with ``MM:SS`` or ``HH:MM:SS`` times. Each chapter becomes
a chunk whose locator is its start time (and the next chapter's start as its end).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePath
from typing import Any

from lingxi.errors import BadInput
from lingxi.ingest.base import make_note, require_content, span_chunks, stem
from lingxi.ingest.text import pack_spans, trim_span
from lingxi.types import Chunk, Locator, Note

# a time, or a range of two ("[00:00–00:46] Intro": the chapter starts at the first)
TIMESTAMP = re.compile(r"(?<![\d:.])[(\[（【]?((?:\d{1,2}:)?\d{1,2}:\d{2})(?:[ \t]*[-–—~～至][ \t]*((?:\d{1,2}:)?\d{1,2}:\d{2}))?"
                       r"[)\]）】]?(?![\d:])")
EPISODE_HEADER = re.compile(
    r"^\s*(?:#{1,3}\s+\S|(?:EP|Ep|ep|E|Vol\.?|VOL\.?|No\.?)\s*\.?\s*\d+\b|第\s*[0-9一二三四五六七八九十百零]+\s*[期集话回]|"
    r"Episode\s+\d+|#\d+\s)",
)
CHAPTER_HEADING = re.compile(
    r"^\s*(时间轴|时间线|章节|本期时间轴|本期章节|Chapters?|Timestamps?|Timeline|Show ?notes?)\s*[:：]?\s*$", re.I
)
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")
_LEAD = " \t-–—:：|｜·•*"


def clock_to_seconds(stamp: str) -> int:
    parts = [int(p) for p in stamp.split(":")]
    if len(parts) == 2:
        return parts[0] * 60 + parts[1]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def chapter_marks(line: str) -> list[re.Match[str]]:
    """Timestamps that start chapters: at line start, or after whitespace/punctuation, followed by text."""
    marks: list[re.Match[str]] = []
    for m in TIMESTAMP.finditer(line):
        before = line[: m.start()].rstrip()
        if before and not (line[m.start() - 1].isspace() or before[-1] in _LEAD + "，,。;；、"):
            continue
        if int(m.group(1).split(":")[-2 if m.group(1).count(":") == 1 else 1]) >= 60:
            continue
        marks.append(m)
    return marks


def is_chapter_line(line: str) -> bool:
    marks = chapter_marks(line)
    return len(marks) >= 2 or (len(marks) == 1 and (bool(marks[0].group(2)) or not line[: marks[0].start()].strip(_LEAD)))


_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
_MD_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.M)


def unquote_markdown(text: str) -> str:
    """Markdown show-notes pages: blockquote and heading markers off, code fences out, so chapter lines start lines."""
    return _MD_HEADING.sub("", _QUOTE.sub("", _FENCE.sub("", text)))


def looks_like_shownotes(text: str, markdown: bool = False) -> bool:
    if "-->" in text:
        return False
    if markdown:
        text = unquote_markdown(text)
    lines = text.split("\n")
    flags = [is_chapter_line(ln) for ln in lines]
    marks = [m for ln, f in zip(lines, flags) if f for m in chapter_marks(ln)]
    if not marks:
        return False
    # A timeline starts near the beginning of the episode and runs forward; times of day in a report (22:52,
    # 23:07, past midnight to 00:10) do not. The first timeline is a run of consecutive chapter lines.
    start = flags.index(True)
    end = next((i for i in range(start, len(lines)) if not flags[i]), len(lines))
    first = [clock_to_seconds(m.group(1)) for ln in lines[start:end] for m in chapter_marks(ln)]
    rising = len(first) >= 3 and all(a < b for a, b in zip(first, first[1:]))
    if first[0] > (1800 if rising else 600):
        return False
    # a Markdown post may quote a log or two; a timeline is a run of them
    return len(marks) >= (5 if markdown else 3)


def split_episodes(lines: list[str]) -> list[tuple[int, int]]:
    """Line ranges [a, b) of episodes."""
    headers = [i for i, ln in enumerate(lines) if EPISODE_HEADER.match(ln) and not is_chapter_line(ln)]
    chapter = [is_chapter_line(ln) for ln in lines]
    if headers:
        starts = headers
        if any(chapter[: headers[0]]):
            starts = [0] + headers
    else:
        # No headers: a text line after a chapter block starts the next episode, if more chapters follow.
        starts = [0]
        for i in range(1, len(lines)):
            if lines[i].strip() and not chapter[i] and not CHAPTER_HEADING.match(lines[i]):
                prev = next((j for j in range(i - 1, -1, -1) if lines[j].strip()), None)
                if prev is not None and chapter[prev] and any(chapter[i:]):
                    starts.append(i)
    return [(a, b) for a, b in zip(starts, starts[1:] + [len(lines)]) if any(ln.strip() for ln in lines[a:b])]


def parse_episode(lines: list[str], index: int, name: str) -> Note | None:
    body = "\n".join(lines).strip("\n")
    blines = body.split("\n")
    title = ""
    first_text = next((ln for ln in blines if ln.strip()), "")
    if not is_chapter_line(first_text):
        title = first_text.strip().lstrip("#").strip()
    # Character offset of each line in body.
    offsets, pos = [], 0
    for ln in blines:
        offsets.append(pos)
        pos += len(ln) + 1
    chapters: list[tuple[int, int, int, str]] = []  # (seconds, char_start, char_end, title)
    # Description lines in groups that chapter lines interrupt; a group packs into chunks on its own.
    groups: list[list[tuple[int, int]]] = [[]]
    ranges: dict[int, tuple[int, int]] = {}  # group index -> the clip time range it transcribes
    title_done = False
    for ln, off in zip(blines, offsets):
        if not ln.strip():
            continue
        if not title_done and title and ln.strip().lstrip("#").strip() == title:
            title_done = True
            continue
        if CHAPTER_HEADING.match(ln):
            continue
        if is_chapter_line(ln):
            marks = chapter_marks(ln)
            if not ln[marks[-1].end() :].strip(_LEAD + "，,;；、()（）"):
                # a time range ("Play clip (40:35 - 41:55)") is not a chapter: it times the text that follows it
                a, b = (marks[-1].group(1), marks[-1].group(2)) if marks[-1].group(2) else \
                    (marks[-2].group(1) if len(marks) >= 2 else "", marks[-1].group(1))
                if a:
                    groups.append([])
                    ranges[len(groups) - 1] = (clock_to_seconds(a), clock_to_seconds(b))
                continue
            lead = ln[: marks[0].start()].strip(_LEAD)
            if lead and not CHAPTER_HEADING.match(lead):
                groups[-1].append(trim_span(body, off, off + marks[0].start()))
            groups.append([])
            for k, m in enumerate(marks):
                end = marks[k + 1].start() if k + 1 < len(marks) else len(ln)
                seg = ln[m.end() : end]
                stripped = seg.strip(_LEAD + "，,;；、")
                if not stripped:
                    continue
                cs = off + m.end() + seg.index(stripped)
                chapters.append((clock_to_seconds(m.group(1)), cs, cs + len(stripped), stripped))
        else:
            groups[-1].append(trim_span(body, off, off + len(ln)))
    if not chapters and not any(groups):
        return None
    chunks: list[Chunk] = []
    for gi, group in enumerate(groups):
        for c in span_chunks(body, pack_spans(body, group), {"part": "description"}):
            if gi in ranges:
                a, b = ranges[gi]
                c = Chunk(c.text, Locator(float(a), float(b), c.locator.char_start, c.locator.char_end), c.meta)
            chunks.append(c)
    chapters.sort(key=lambda c: c[1])
    for k, (sec, cs, ce, ctitle) in enumerate(chapters):
        nxt = chapters[k + 1][0] if k + 1 < len(chapters) and chapters[k + 1][0] > sec else None
        chunks.append(
            Chunk(
                text=ctitle,
                locator=Locator(
                    start_s=float(sec), end_s=float(nxt) if nxt is not None else None, char_start=cs, char_end=ce
                ),
                meta={"part": "chapter"},
            )
        )
    meta: dict[str, Any] = {"episode": index + 1, "chapters": len(chapters)}
    d = _DATE.search(body)
    if d:
        meta["created_at"] = f"{int(d.group(1)):04d}-{int(d.group(2)):02d}-{int(d.group(3)):02d}"
    return make_note(f"ep{index + 1}", title or f"{stem(name)} #{index + 1}", "shownotes", body, chunks, meta)


def _drop_placeholder_chapters(note: Note) -> Note:
    """Exports list untitled clips as chapters (``[41:55] Untitled`` many times over): a chapter title the page
    repeats three or more times names nothing."""
    counts = Counter(c.text for c in note.chunks if c.meta.get("part") == "chapter")
    chunks = [c for c in note.chunks if not (c.meta.get("part") == "chapter" and counts[c.text] >= 3)]
    meta = {**note.meta, "chapters": sum(1 for c in chunks if c.meta.get("part") == "chapter")}
    return make_note(note.id, note.title, note.kind, note.body, chunks, meta)


def parse_markdown(text: str, name: str) -> list[Note]:
    """A Markdown show-notes page (a podcast app's export): one episode, titled by its front matter or first heading."""
    from lingxi.ingest.markdown import clean_markdown, split_front_matter

    fm, content = split_front_matter(text, name)
    heading = re.search(r"^#[ \t]+(.+?)[ \t#]*$", content, re.M)
    title = str(fm.get("title") or "").strip() or (heading.group(1).strip() if heading else "")
    body = unquote_markdown(clean_markdown(content))
    note = parse_episode(body.split("\n"), 0, name)
    if note is None or not note.meta.get("chapters"):
        raise BadInput(f"{name}: no chapter timestamps found (expected entries like '05:46 chapter title')")
    note = _drop_placeholder_chapters(note)
    meta = {**note.meta, **{k: v for k, v in fm.items() if k in ("author", "show", "source", "url")}}
    created = fm.get("published") or fm.get("date") or fm.get("created")
    if created:
        meta["created_at"] = str(created)
    return require_content([make_note("", title or note.title, "shownotes", note.body, list(note.chunks), meta)], name)


def parse(text: str, name: str) -> list[Note]:
    if PurePath(name).suffix.lower() in (".md", ".markdown", ".mdown") or text.startswith(("---\n", "+++\n")):
        return parse_markdown(text, name)
    lines = text.split("\n")
    episodes = [parse_episode(lines[a:b], i, name) for i, (a, b) in enumerate(split_episodes(lines))]
    notes = [n for n in episodes if n is not None]
    if not any(n.meta.get("chapters") for n in notes):
        raise BadInput(f"{name}: no chapter timestamps found (expected entries like '05:46 chapter title')")
    return require_content(notes, name)
