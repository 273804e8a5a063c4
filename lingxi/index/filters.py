"""Metadata filters for search: source kind, tags, date range, author, and who is looking (visibility)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from lingxi.errors import BadInput

FIELDS = {
    "kind": "source kind of the note (markdown, html, webtext, shownotes, srt, vtt, transcript, text, jsonl)",
    "tag": "a tag the note carries (repeat for any-of)",
    "author": "the note's author (repeat for any-of)",
    "after": "created on or after this date (YYYY-MM-DD)",
    "before": "created on or before this date (YYYY-MM-DD)",
    "viewer": "only notes this user may see: public notes and the user's own private ones",
}
VISIBILITIES = ("private", "public")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class Filters:
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    after: str | None = None
    before: str | None = None
    # Who is asking. None: no restriction (the operator's CLI over the whole store); a user name: public notes
    # and that user's own private notes only. Every read on a user's behalf (search, the agent's reads, similar
    # notes, recommendations) carries it, so another user's private note never reaches the caller.
    viewer: str | None = None
    # Note ids to leave out: how ``viewer`` reaches a backend that does not record owners (Milvus), computed from
    # the store by the library.
    hidden_notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.kinds or self.tags or self.authors or self.after or self.before or self.viewer is not None
                    or self.hidden_notes)

    def for_viewer(self, viewer: str | None) -> Filters:
        """These filters, seen by ``viewer``."""
        return replace(self, viewer=viewer)

    @classmethod
    def parse(cls, items: list[str] | None) -> Filters:
        """``["kind=srt", "tag=成都", "after=2025-01-01"]`` → Filters. Unknown fields raise BadInput."""
        kinds: list[str] = []
        tags: list[str] = []
        authors: list[str] = []
        after = before = viewer = None
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
            elif key == "viewer":
                viewer = value
            elif key in ("after", "before"):
                if not _DATE.match(value):
                    raise BadInput(f"filter {key}={value!r}: expected a date like 2025-03-01")
                if key == "after":
                    after = value
                else:
                    before = value
            else:
                raise BadInput(f"unknown filter field {key!r}; valid fields: {', '.join(FIELDS)}")
        return cls(tuple(kinds), tuple(tags), tuple(authors), after, before, viewer)

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
        if self.viewer is not None:
            parts.append(f"({alias}.visibility = 'public' OR {alias}.owner = ?)")
            args.append(self.viewer)
        if self.hidden_notes:
            parts.append(f"{alias}.id NOT IN ({','.join('?' * len(self.hidden_notes))})")
            args += self.hidden_notes
        return " AND ".join(parts), args
