"""Search results grouped by note for display: the passages keep their fused order; a note is shown once, with its
best passages, and what the per-note limit folded away is counted, never silently dropped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from lingxi.types import Hit


@dataclass(frozen=True)
class NoteGroup:
    """One note as shown: its passages in fused order (the first is its best) and how many more of its passages
    ranked among the shown ones but were folded under it by the per-note limit."""

    note_id: str
    title: str
    source: str
    kind: str
    hits: tuple[Hit, ...]
    grouped: int = 0

    @property
    def score(self) -> float:
        return self.hits[0].score

    def to_dict(self) -> dict[str, Any]:
        return {"note_id": self.note_id, "title": self.title, "source": self.source, "kind": self.kind,
                "score": self.score, "chunk_ids": [h.chunk.id for h in self.hits], "grouped": self.grouped}


@dataclass(frozen=True)
class Results:
    """The passages of one search in fused order, with what grouping did to them.

    ``grouped``: passages that ranked above the last shown passage but were folded under their note because it
    already showed ``per_note`` passages. ``candidates``: passages the fusion ranked."""

    hits: tuple[Hit, ...]
    k: int
    per_note: int
    grouped_by_note: dict[str, int] = field(default_factory=dict)
    candidates: int = 0

    @property
    def grouped(self) -> int:
        return sum(self.grouped_by_note.values())

    @property
    def groups(self) -> list[NoteGroup]:
        """Notes in the order of their best passage, each with its shown passages."""
        order: dict[str, list[Hit]] = {}
        for h in self.hits:
            order.setdefault(h.chunk.note_id, []).append(h)
        return [NoteGroup(nid, hs[0].title, hs[0].source, hs[0].kind, tuple(hs), self.grouped_by_note.get(nid, 0))
                for nid, hs in order.items()]

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def summary(self) -> str:
        """One line saying what is shown and what grouping folded away, e.g. '6 passages from 6 notes; 14 more
        passages of these notes grouped under them (at most 1 per note; --per-note to show more)'."""
        n, notes = len(self.hits), len(self.groups)
        line = f"{n} passage{'s' if n != 1 else ''} from {notes} note{'s' if notes != 1 else ''}"
        if self.grouped:
            line += (f"; {self.grouped} more passage{'s' if self.grouped != 1 else ''} of these notes grouped under"
                     f" them (at most {self.per_note} per note; --per-note to show more)")
        if n < self.k:
            line += f"; fewer than k={self.k}: " + (
                "the other matching passages belong to the notes shown" if self.grouped else "nothing else matched")
        return line

    def to_dict(self) -> dict[str, Any]:
        return {"hits": [h.to_dict() for h in self.hits], "notes": [g.to_dict() for g in self.groups],
                "grouping": {"k": self.k, "per_note": self.per_note, "passages_shown": len(self.hits),
                             "notes_shown": len(self.groups), "passages_grouped": self.grouped,
                             "candidates": self.candidates, "summary": self.summary()}}


def select(order: list[str], score_of: dict[str, float], resolve: Callable[[list[str]], list[Hit]], k: int,
           per_note: int, window: int, decorate: Callable[[Hit], Hit] | None = None) -> Results:
    """Walk the fused ``order`` (chunk ids, best first), resolving ``window`` ids at a time, and keep passages until
    ``k`` are shown; a note's passages beyond ``per_note`` (0: no limit) are counted as grouped under it."""
    shown: list[Hit] = []
    per: dict[str, int] = {}
    grouped: dict[str, int] = {}
    for start in range(0, len(order), window):
        for h in resolve(order[start : start + window]):
            note = h.chunk.note_id
            n = per.get(note, 0)
            if per_note and n >= per_note:
                grouped[note] = grouped.get(note, 0) + 1
                continue
            per[note] = n + 1
            hit = replace(h, score=round(score_of[h.chunk.id], 6))
            shown.append(decorate(hit) if decorate else hit)
            if len(shown) >= k:
                return Results(tuple(shown), k, per_note, grouped, len(order))
    return Results(tuple(shown), k, per_note, grouped, len(order))
