"""Co-engagement pairs: two notes engaged by the same user, close together in that user's history.

Each user's engaged notes are ordered by time (first engagement) and every note is paired with the
next ``window`` notes, which bounds the pairs a heavy user contributes to ``n * window`` instead of
``n²``. A pair from a user with ``n`` notes weighs ``1 / log2(2 + n)``, so a user who engaged
thousands of notes counts less per pair than one who engaged ten (the same idea as Adamic-Adar /
Swing-style down-weighting of heavy users)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from lingxi.rec.events import Event


def user_histories(events: Iterable[Event]) -> dict[str, list[tuple[str, float, float]]]:
    """user → [(note, first time, summed action weight)] ordered by first engagement."""
    first: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for e in events:
        slot = first[e.user].get(e.note)
        if slot is None:
            first[e.user][e.note] = [e.ts, e.weight]
        else:
            slot[0] = min(slot[0], e.ts)
            slot[1] += e.weight
    return {u: sorted(((n, v[0], v[1]) for n, v in items.items()), key=lambda x: (x[1], x[0]))
            for u, items in first.items()}


def mine_pairs(events: Iterable[Event], window: int = 10) -> dict[tuple[str, str], float]:
    """Canonical (a < b) note pairs with their summed weights."""
    if window < 1:
        raise ValueError("window must be >= 1")
    pairs: dict[tuple[str, str], float] = defaultdict(float)
    for hist in user_histories(events).values():
        notes = [h[0] for h in hist]
        if len(notes) < 2:
            continue
        w = 1.0 / math.log2(2 + len(notes))
        for i, a in enumerate(notes):
            for b in notes[i + 1 : i + 1 + window]:
                pairs[(a, b) if a < b else (b, a)] += w
    return dict(pairs)
