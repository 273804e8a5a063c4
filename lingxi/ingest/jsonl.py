"""JSONL notes, one per line: {"id", "title", "text", "author", "created_at", "tags"}; only "text" is required."""

from __future__ import annotations

import json
import re
from typing import Any

from lingxi.errors import BadInput, BadRows
from lingxi.ingest.base import as_tags, jsonable, make_note, prose_chunks, require_content
from lingxi.types import Note

ID_OK = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
KNOWN = ("id", "title", "text", "author", "created_at", "tags")


def parse(text: str, name: str) -> list[Note]:
    """All rows or nothing: the first bad row raises BadInput naming its line."""
    notes, bad = parse_rows(text, name)
    if bad:
        raise BadRows(bad[0] + (f" (and {len(bad) - 1} more bad rows)" if len(bad) > 1 else ""), bad)
    return notes


def parse_rows(text: str, name: str) -> tuple[list[Note], list[str]]:
    """The good rows as notes, and one message per bad row (``NAME: line N: reason``), in file order."""
    notes: list[Note] = []
    bad: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            note = _row(line, lineno, name, seen)
        except BadInput as e:
            bad.append(str(e))
            continue
        notes.append(note)
    if not notes and not bad:
        require_content(notes, name)
    return [n for n in notes if n.chunks], bad


def _row(line: str, lineno: int, name: str, seen: dict[str, int]) -> Note:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadInput(f"{name}: line {lineno}: not valid JSON ({e.msg})") from e
    except RecursionError as e:
        raise BadInput(f"{name}: line {lineno}: JSON nested too deeply") from e
    if not isinstance(row, dict):
        raise BadInput(f"{name}: line {lineno}: expected a JSON object, got {type(row).__name__}")
    body = row.get("text")
    if not isinstance(body, str) or not body.strip():
        raise BadInput(f"{name}: line {lineno}: field 'text' must be a non-empty string")
    raw_id = row.get("id")
    if raw_id is None:  # the store gives it an id of its file and line ("#" is never part of a given id)
        key = f"#L{lineno}"
    else:
        key = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else ""
        if not ID_OK.match(key):
            raise BadInput(f"{name}: line {lineno}: field 'id' must be 1-128 letters, digits or _.:- (got {raw_id!r})")
    if key in seen:
        raise BadInput(f"{name}: line {lineno}: duplicate id {key!r} (first on line {seen[key]})")
    seen[key] = lineno
    title = row.get("title")
    if title is not None and not isinstance(title, str):
        raise BadInput(f"{name}: line {lineno}: field 'title' must be a string")
    body = body.strip()
    meta: dict[str, Any] = {"line": lineno}
    if row.get("author") is not None:
        meta["author"] = str(row["author"])
    if row.get("created_at") is not None:
        meta["created_at"] = str(row["created_at"])
    tags = as_tags(row.get("tags"))
    if tags:
        meta["tags"] = tags
    extra = {k: jsonable(v) for k, v in row.items() if k not in KNOWN}
    if extra:
        meta["extra"] = extra
    return make_note(key, title or body.split("\n", 1)[0][:60], "jsonl", body, prose_chunks(body), meta)
