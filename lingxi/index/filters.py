"""Metadata filters for search: source kind, tags, date range, author."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lingxi.errors import BadInput

FIELDS = {
    "kind": "source kind of the note (markdown, html, webtext, shownotes, srt, vtt, transcript, text, jsonl)",
    "tag": "a tag the note carries (repeat for any-of)",
    "author": "the note's author (repeat for any-of)",
    "after": "created on or after this date (YYYY-MM-DD)",
    "before": "created on or before this date (YYYY-MM-DD)",
}
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class Filters:
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    after: str | None = None
    before: str | None = None

    def __bool__(self) -> bool:
        return bool(self.kinds or self.tags or self.authors or self.after or self.before)

    @classmethod
    def parse(cls, items: list[str] | None) -> Filters:
        """``["kind=srt", "tag=成都", "after=2025-01-01"]`` → Filters. Unknown fields raise BadInput."""
        kinds: list[str] = []
        tags: list[str] = []
        authors: list[str] = []
        after = before = None
        for item in items or []:
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise BadInput(f"filter {item!r} must look like FIELD=VALUE; fields: {', '.join(FIELDS)}")
            if key == "kind":
                kinds.append(value)
            elif key == "tag":
                tags.append(value)
            elif key == "author":
                authors.append(value)
            elif key in ("after", "before"):
                if not _DATE.match(value):
                    raise BadInput(f"filter {key}={value!r}: expected a date like 2025-03-01")
                if key == "after":
                    after = value
                else:
                    before = value
            else:
                raise BadInput(f"unknown filter field {key!r}; valid fields: {', '.join(FIELDS)}")
        return cls(tuple(kinds), tuple(tags), tuple(authors), after, before)

    def sql(self, alias: str = "n") -> tuple[str, list[Any]]:
        """A WHERE fragment over the notes table (empty string when there is no filter)."""
        parts: list[str] = []
        args: list[Any] = []
        if self.kinds:
            parts.append(f"{alias}.kind IN ({','.join('?' * len(self.kinds))})")
            args += self.kinds
        if self.authors:
            parts.append(f"json_extract({alias}.meta, '$.author') IN ({','.join('?' * len(self.authors))})")
            args += self.authors
        if self.tags:
            parts.append(
                f"EXISTS (SELECT 1 FROM json_each({alias}.meta, '$.tags') t WHERE t.value IN ({','.join('?' * len(self.tags))}))"
            )
            args += self.tags
        if self.after:
            parts.append(f"substr({alias}.created_at, 1, {len(self.after)}) >= ?")
            args.append(self.after)
        if self.before:
            parts.append(f"substr({alias}.created_at, 1, {len(self.before)}) <= ?")
            args.append(self.before)
        return " AND ".join(parts), args
