"""Long-term memory, per user and per persona (or shared by all of one user's personas), in the lingxi store.

A memory is a short statement a person can read, in the conversation's language, about one subject (the user,
or someone in the user's life: the user's cat 南瓜, a friend), with the time it refers to, an importance 1–10
and links to the turns (or, for reflections, the memories) it came from. Kinds: facts, preferences,
plans/events, relationships, emotional state, reflections — and observations, the conversation excerpts that
recall searches but ``memory list`` does not show. Every read and write is scoped by user: there is no query
that can return another user's rows. A memory's scope is its persona, or ``SHARED`` (every persona of the user).

Update without loss: a memory that contradicts an active one in the same slot supersedes it (the old
row stays, marked with when and why); adding the same memory twice bumps a mention count and never
deletes anything. Forgetting is real: the row, its BM25 entry and its vector are deleted, and so are the
excerpts and turns it came from and the reflections resting on it (what the companion could otherwise still
read back)."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lingxi.errors import BadInput, NotFound
from lingxi.index.tokenize import tokenize

KINDS = ("fact", "preference", "plan", "event", "relationship", "emotion", "observation", "reflection")
RELATIONS = ("self", "pet", "family", "partner", "friend", "colleague", "place", "thing", "other")
USER = "user"  # the subject of a memory about the user
SHARED = "*"  # the scope of a memory every persona of the user sees
EDITED = "edited by the user"  # the supersede reason of a memory's text before the user corrected it

SCHEMA = """
CREATE TABLE IF NOT EXISTS mem_turns (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL, persona TEXT NOT NULL, session TEXT NOT NULL,
    ref TEXT, speaker TEXT NOT NULL, text TEXT NOT NULL, ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS mem_turns_user ON mem_turns(user, persona, id);
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL, persona TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    importance INTEGER NOT NULL, ts REAL NOT NULL, event_date TEXT, slot TEXT,
    turns TEXT NOT NULL DEFAULT '[]', sources TEXT NOT NULL DEFAULT '[]',
    hash TEXT NOT NULL, mentions INTEGER NOT NULL DEFAULT 1,
    superseded_by INTEGER, superseded_at REAL, supersede_reason TEXT
);
CREATE INDEX IF NOT EXISTS memories_user ON memories(user, persona, superseded_by);
CREATE INDEX IF NOT EXISTS memories_hash ON memories(user, persona, hash);
CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(tokens);
CREATE TABLE IF NOT EXISTS mem_state (
    user TEXT NOT NULL, persona TEXT NOT NULL, extracted_through INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user, persona)
);
CREATE TABLE IF NOT EXISTS memory_vectors (memory_id INTEGER PRIMARY KEY, vec BLOB NOT NULL);
"""
# Columns added after the first release; ensure_schema adds them to an older store.
ADDED_COLUMNS = (("subject", "TEXT NOT NULL DEFAULT 'user'"), ("relation", "TEXT NOT NULL DEFAULT 'self'"),
                 ("lang", "TEXT NOT NULL DEFAULT ''"), ("when_text", "TEXT"))


@dataclass
class Memory:
    id: int
    user: str
    persona: str
    kind: str
    text: str
    importance: int
    ts: float
    event_date: str | None = None
    slot: str | None = None
    turns: list[str] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    mentions: int = 1
    superseded_by: int | None = None
    superseded_at: float | None = None
    supersede_reason: str | None = None
    subject: str = USER
    relation: str = "self"
    lang: str = ""
    when_text: str | None = None
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return "shared" if self.persona == SHARED else self.persona

    @property
    def about(self) -> str:
        """Who the memory is about, for a person reading it: "the user", "南瓜 (the user's pet)"."""
        if self.subject == USER:
            return "the user"
        if self.relation in ("self", "other", "place", "thing"):
            return self.subject
        return f"{self.subject} (the user's {self.relation})"

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("id", "kind", "text", "about", "subject", "relation", "importance",
                                            "event_date", "when_text", "lang", "scope", "slot", "turns",
                                            "sources", "mentions", "superseded_by", "superseded_at",
                                            "supersede_reason")}
        d["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.ts))
        if self.parts:
            d["score"] = round(self.score, 4)
            d["parts"] = {k: round(v, 4) for k, v in self.parts.items()}
        return d


@dataclass
class RecallWeights:
    """Generative Agents: relevance + recency + importance, each min-max scaled, weights 1/1/1, 0.99 per hour."""

    relevance: float = 1.0
    recency: float = 1.0
    importance: float = 1.0
    decay_per_hour: float = 0.99
    lexical: float = 0.5  # BM25's share of relevance (the rest is dense similarity), each min-max scaled
    # Recency (decay**hours) and importance (1-10, /10) enter as absolute values, so memories minutes apart are
    # about equally recent. With ``minmax_time`` they are min-max scaled over the candidates, as Generative Agents
    # does: then a preference told twenty minutes before some small talk scores the full recency weight below it.
    minmax_time: bool = False


COLUMNS = ("id, user, persona, kind, text, importance, ts, event_date, slot, turns, sources, mentions,"
           " superseded_by, superseded_at, supersede_reason, subject, relation, lang, when_text")


def _row(r: Sequence[Any]) -> Memory:
    return Memory(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), json.loads(r[10]), r[11],
                  r[12], r[13], r[14], r[15], r[16], r[17], r[18])


def _hash(kind: str, text: str, subject: str = USER) -> str:
    norm = " ".join(text.lower().split()).rstrip(".。!！")
    key = f"{kind}\0{norm}" if subject == USER else f"{kind}\0{subject}\0{norm}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _scale(x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    out: np.ndarray = (x - lo) / (hi - lo) if hi > lo else np.ones_like(x) * (1.0 if hi > 0 else 0.0)
    return out


class MemoryStore:
    """Memories one persona of one user can see: its own scope and the user's shared scope.

    ``shared`` makes new memories shared by default (a persona whose YAML says ``memory: shared``)."""

    def __init__(self, conn: sqlite3.Connection, user: str, persona: str,
                 embed: Callable[[list[str], str], np.ndarray] | None = None,
                 transaction: Callable[[], Any] | None = None, shared: bool = False) -> None:
        if not user or not user.strip():
            raise BadInput("a user id is required")
        if not persona or persona == SHARED:
            raise BadInput("a persona is required")
        self.conn = conn
        self.user = user
        self.persona = persona
        self.scope = SHARED if shared else persona
        self.embed = embed
        self._tx = transaction
        ensure_schema(conn)

    def _transaction(self) -> Any:
        if self._tx is not None:
            return self._tx()
        return _Tx(self.conn)

    # rows this store may read: the user's, in this persona's scope or the shared one
    _MINE = "user=? AND persona IN (?, '*')"

    def _mine(self) -> tuple[str, str]:
        return (self.user, self.persona)

    # --- turns ---------------------------------------------------------------------------------------
    def add_turns(self, session: str, turns: Sequence[tuple[str | None, str, str, float]]) -> list[int]:
        """(ref, speaker, text, ts) rows; returns their ids."""
        ids = []
        with self._transaction() as c:
            for ref, speaker, text, ts in turns:
                cur = c.execute("INSERT INTO mem_turns(user, persona, session, ref, speaker, text, ts)"
                                " VALUES (?,?,?,?,?,?,?)", (self.user, self.persona, session, ref, speaker, text, ts))
                ids.append(int(cur.lastrowid or 0))
        return ids

    def watermark(self) -> int:
        row = self.conn.execute("SELECT extracted_through FROM mem_state WHERE user=? AND persona=?",
                                (self.user, self.persona)).fetchone()
        return int(row[0]) if row else 0

    def unextracted_turns(self) -> list[tuple[int, str, str]]:
        """(id, speaker, text) of the turns after the extraction watermark, oldest first."""
        return [(r[0], r[2], r[3]) for r in self.pending_turns()]

    def pending_turns(self) -> list[tuple[int, str, str, str, float]]:
        """(id, session, speaker, text, ts) of the turns after the extraction watermark, oldest first."""
        rows = self.conn.execute("SELECT id, session, speaker, text, ts FROM mem_turns WHERE user=? AND persona=?"
                                 " AND id>? ORDER BY id", (self.user, self.persona, self.watermark())).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def turns_before(self, turn_id: int, n: int) -> list[tuple[int, str, str]]:
        rows = self.conn.execute("SELECT id, speaker, text FROM mem_turns WHERE user=? AND persona=? AND id<?"
                                 " ORDER BY id DESC LIMIT ?", (self.user, self.persona, turn_id, n)).fetchall()
        return [(r[0], r[1], r[2]) for r in reversed(rows)]

    def recent_turns(self, n: int) -> list[tuple[str, str, float]]:
        rows = self.conn.execute("SELECT speaker, text, ts FROM mem_turns WHERE user=? AND persona=?"
                                 " ORDER BY id DESC LIMIT ?", (self.user, self.persona, n)).fetchall()
        return [(r[0], r[1], r[2]) for r in reversed(rows)]

    def set_watermark(self, turn_id: int) -> None:
        with self._transaction() as c:
            self._set_watermark(c, turn_id)

    def _set_watermark(self, c: sqlite3.Connection, turn_id: int) -> None:
        c.execute("INSERT INTO mem_state(user, persona, extracted_through) VALUES (?,?,?)"
                  " ON CONFLICT(user, persona) DO UPDATE SET extracted_through=MAX(extracted_through,"
                  " excluded.extracted_through)", (self.user, self.persona, turn_id))

    def source_turns(self, refs: Sequence[str]) -> list[dict[str, Any]]:
        """The stored turns behind turn refs: "T12" (a chat turn's id) or a transcript's own ref ("D1:3")."""
        out = []
        for ref in refs:
            if ref.startswith("T") and ref[1:].isdigit():
                r = self.conn.execute("SELECT id, ref, speaker, text, ts FROM mem_turns WHERE id=? AND user=?"
                                      " AND persona=?", (int(ref[1:]), self.user, self.persona)).fetchone()
            else:
                r = self.conn.execute("SELECT id, ref, speaker, text, ts FROM mem_turns WHERE ref=? AND user=?"
                                      " AND persona=?", (ref, self.user, self.persona)).fetchone()
            if r is not None:
                out.append({"ref": ref, "speaker": r[2], "text": r[3],
                            "time": time.strftime("%Y-%m-%dT%H:%M", time.gmtime(r[4]))})
        return out

    # --- writes --------------------------------------------------------------------------------------
    def add(self, kind: str, text: str, importance: int, ts: float, *, slot: str | None = None,
            event_date: str | None = None, turns: Sequence[str] = (), sources: Sequence[int] = (),
            vector: np.ndarray | None = None, subject: str = USER, relation: str = "self",
            when_text: str | None = None, lang: str = "") -> tuple[Memory, str]:
        """Add one memory; returns (the memory, what happened: 'added' | 'duplicate' | 'superseded')."""
        return self.add_many([dict(kind=kind, text=text, importance=importance, ts=ts, slot=slot,
                                   event_date=event_date, turns=list(turns), sources=list(sources), subject=subject,
                                   relation=relation, when_text=when_text, lang=lang)],
                             None if vector is None else vector.reshape(1, -1))[0]

    def add_many(self, items: list[dict[str, Any]], vectors: np.ndarray | None = None,
                 extracted_through: int | None = None) -> list[tuple[Memory, str]]:
        """Add memories in one transaction (vectors computed first, outside it). ``extracted_through`` moves the
        extraction watermark to that turn id in the same transaction, so a window is read exactly once.

        An item may say what it is to the memories already stored: ``duplicate_of`` (an id: the same memory
        said again — its mention count goes up, nothing new is stored) or ``supersedes`` (ids it replaces,
        which stay, marked with when and why)."""
        clean = [self._clean(it) for it in items]
        if vectors is None and self.embed is not None and clean:
            # an item's "context" (e.g. the turn it answers) is embedded with it but not stored as its text:
            # "yes, three of them" is only findable together with "do you have pets?"
            vectors = self.embed([f"{c['context']}\n{c['text']}" if c.get("context") else c["text"] for c in clean],
                                 "passage")
        out: list[tuple[Memory, str]] = []
        with self._transaction() as c:
            for i, it in enumerate(clean):
                out.append(self._add_one(c, it, None if vectors is None else vectors[i]))
            if extracted_through is not None:
                self._set_watermark(c, extracted_through)
        return out

    def _clean(self, it: dict[str, Any]) -> dict[str, Any]:
        kind, text = str(it.get("kind", "")), " ".join(str(it.get("text", "")).split())
        if kind not in KINDS:
            raise BadInput(f"memory kind {kind!r} is not one of {', '.join(KINDS)}")
        if not text:
            raise BadInput("a memory needs text")
        if len(text) > 2000:
            raise BadInput(f"a memory's text is at most 2000 characters, got {len(text)}")
        relation = str(it.get("relation") or "self")
        if relation not in RELATIONS:
            raise BadInput(f"memory relation {relation!r} is not one of {', '.join(RELATIONS)}")
        subject = " ".join(str(it.get("subject") or USER).split()) or USER
        scope = it.get("scope") or self.scope
        if scope not in (self.persona, SHARED):
            raise BadInput(f"memory scope {scope!r} is neither this persona ({self.persona!r}) nor shared")
        imp = int(it.get("importance", 5))
        return {**it, "kind": kind, "text": text, "importance": max(1, min(10, imp)), "subject": subject,
                "relation": relation, "scope": scope}

    def _add_one(self, c: sqlite3.Connection, it: dict[str, Any], vec: np.ndarray | None) -> tuple[Memory, str]:
        h = _hash(it["kind"], it["text"], it["subject"])
        dup = c.execute(f"SELECT {COLUMNS} FROM memories WHERE {self._MINE} AND hash=? AND superseded_by IS NULL",
                        (*self._mine(), h)).fetchone()
        if dup is None and it.get("duplicate_of"):
            dup = c.execute(f"SELECT {COLUMNS} FROM memories WHERE {self._MINE} AND id=? AND superseded_by IS NULL",
                            (*self._mine(), int(it["duplicate_of"]))).fetchone()
        if dup is not None:
            m = _row(dup)
            turns = list(dict.fromkeys(m.turns + list(it.get("turns") or [])))
            c.execute("UPDATE memories SET mentions=mentions+1, importance=MAX(importance, ?), turns=? WHERE id=?",
                      (it["importance"], json.dumps(turns), m.id))
            m.mentions += 1
            m.importance = max(m.importance, it["importance"])
            m.turns = turns
            return m, "duplicate"
        slot = (str(it.get("slot") or "").strip().lower() or None)
        cur = c.execute(
            "INSERT INTO memories(user, persona, kind, text, importance, ts, event_date, slot, turns, sources, hash,"
            " subject, relation, lang, when_text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (self.user, it["scope"], it["kind"], it["text"], it["importance"], float(it["ts"]), it.get("event_date"),
             slot, json.dumps(list(it.get("turns") or [])), json.dumps(list(it.get("sources") or [])), h,
             it["subject"], it["relation"], str(it.get("lang") or ""), it.get("when_text")))
        mid = int(cur.lastrowid or 0)
        c.execute("INSERT INTO memory_fts(rowid, tokens) VALUES (?, ?)",
                  (mid, " ".join(tokenize(it["text"] if it["subject"] == USER else f"{it['subject']} {it['text']}"))))
        if vec is not None:
            c.execute("INSERT INTO memory_vectors(memory_id, vec) VALUES (?, ?)",
                      (mid, np.asarray(vec, np.float32).tobytes()))
        status = "added"
        olds = [(int(x), str(it.get("reason") or "")) for x in it.get("supersedes") or []]
        if slot:
            olds += [(r[0], "") for r in c.execute(
                f"SELECT id FROM memories WHERE {self._MINE} AND slot=? AND id<>? AND superseded_by IS NULL",
                (*self._mine(), slot, mid)).fetchall()]
        for oid, why in olds:
            done = c.execute(
                f"UPDATE memories SET superseded_by=?, superseded_at=?, supersede_reason=? WHERE id=? AND {self._MINE}"
                " AND superseded_by IS NULL",
                (mid, float(it["ts"]), (why or f"replaced by newer memory #{mid}") + f": {it['text']}"[:300], oid,
                 *self._mine()))
            if done.rowcount:
                status = "superseded"
        row = c.execute(f"SELECT {COLUMNS} FROM memories WHERE id=?", (mid,)).fetchone()
        return _row(row), status

    def edit(self, memory_id: int, ts: float, *, text: str | None = None, importance: int | None = None,
             scope: str | None = None, subject: str | None = None, relation: str | None = None,
             when_text: str | None = None) -> Memory:
        """The user corrects a memory. A new text (or subject) is a new memory that supersedes the old one, so
        the history keeps what was there; importance and scope change in place."""
        m = self.get(memory_id)
        if m.superseded_by is not None:
            raise BadInput(f"memory #{memory_id} was superseded by #{m.superseded_by}; edit that one")
        if importance is not None and not 1 <= importance <= 10:
            raise BadInput(f"importance must be 1-10, got {importance}")
        new_scope = {None: None, "shared": SHARED, SHARED: SHARED, "persona": self.persona,
                     self.persona: self.persona}.get(scope, "?")
        if new_scope == "?":
            raise BadInput(f"scope {scope!r} is not one of shared, persona")
        if text is not None or subject is not None or relation is not None or when_text is not None:
            (new, _), = self.add_many([{
                "kind": m.kind, "text": text if text is not None else m.text, "importance": importance or m.importance,
                "ts": ts, "event_date": m.event_date, "when_text": when_text if when_text is not None else m.when_text,
                "turns": m.turns, "sources": m.sources, "subject": subject or m.subject,
                "relation": relation or m.relation, "lang": m.lang, "scope": new_scope or m.persona,
                "supersedes": [m.id], "reason": EDITED}])
            return new
        with self._transaction() as c:
            if importance is not None:
                c.execute("UPDATE memories SET importance=? WHERE id=?", (importance, m.id))
            if new_scope is not None:
                c.execute("UPDATE memories SET persona=? WHERE id=?", (new_scope, m.id))
        return self.get(m.id)

    def forget(self, memory_id: int) -> Memory:
        """Delete a memory for real (row, BM25 entry, vector), with what would let the companion still read it
        back: the excerpts and turns it came from, the reflections resting on it, and its own earlier versions
        (the texts the user edited). Memories it superseded by a later conversation become active again."""
        m = self.get(memory_id)
        refs = set(m.turns)
        doomed = {m.id} | {h.id for h in self.history(m.id) if (h.supersede_reason or "").startswith(EDITED)}
        if m.kind != "reflection":
            for other in self.entries(include_superseded=True):
                if other.kind == "observation" and refs & set(other.turns):
                    doomed.add(other.id)
                    refs |= set(other.turns)
                elif other.kind == "reflection" and m.id in other.sources:
                    doomed.add(other.id)
        turn_ids = [int(r[1:]) for r in refs if r.startswith("T") and r[1:].isdigit()]
        with self._transaction() as c:
            for mid in doomed:
                self._delete(c, mid)
            for tid in turn_ids:
                c.execute("DELETE FROM mem_turns WHERE id=? AND user=? AND persona=?", (tid, self.user, self.persona))
            named = [r for r in refs if not (r.startswith("T") and r[1:].isdigit())]
            for r in named:
                c.execute("DELETE FROM mem_turns WHERE ref=? AND user=? AND persona=?", (r, self.user, self.persona))
        return m

    def remove(self, memory_ids: Sequence[int]) -> None:
        """Delete exactly these memories (no cascade), e.g. to rebuild the excerpts of a replayed transcript."""
        with self._transaction() as c:
            for mid in memory_ids:
                self._delete(c, mid)

    def _delete(self, c: sqlite3.Connection, memory_id: int) -> None:
        c.execute("DELETE FROM memory_fts WHERE rowid=?", (memory_id,))
        c.execute("DELETE FROM memory_vectors WHERE memory_id=?", (memory_id,))
        c.execute(f"UPDATE memories SET superseded_by=NULL, superseded_at=NULL, supersede_reason=NULL"
                  f" WHERE superseded_by=? AND {self._MINE}", (memory_id, *self._mine()))
        c.execute(f"DELETE FROM memories WHERE id=? AND {self._MINE}", (memory_id, *self._mine()))

    def forget_all(self) -> int:
        """Forget everything this persona knows of the user: its memories, the shared ones, and its turns."""
        ids = [r[0] for r in self.conn.execute(f"SELECT id FROM memories WHERE {self._MINE}", self._mine())]
        with self._transaction() as c:
            for i in ids:
                c.execute("DELETE FROM memory_fts WHERE rowid=?", (i,))
                c.execute("DELETE FROM memory_vectors WHERE memory_id=?", (i,))
            c.execute(f"DELETE FROM memories WHERE {self._MINE}", self._mine())
            c.execute("DELETE FROM mem_turns WHERE user=? AND persona=?", (self.user, self.persona))
            c.execute("DELETE FROM mem_state WHERE user=? AND persona=?", (self.user, self.persona))
        return len(ids)

    # --- reads ---------------------------------------------------------------------------------------
    def get(self, memory_id: int) -> Memory:
        r = self.conn.execute(f"SELECT {COLUMNS} FROM memories WHERE id=? AND {self._MINE}",
                              (memory_id, *self._mine())).fetchone()
        if r is None:  # another user's memory is indistinguishable from a missing one
            raise NotFound(f"no memory #{memory_id} for user {self.user!r}")
        return _row(r)

    def history(self, memory_id: int) -> list[Memory]:
        """The memories this one replaced, newest first, back to the first version (and what they replaced)."""
        out: list[Memory] = []
        frontier = [memory_id]
        while frontier:
            mid = frontier.pop()
            for r in self.conn.execute(f"SELECT {COLUMNS} FROM memories WHERE superseded_by=? AND {self._MINE}"
                                       " ORDER BY id DESC", (mid, *self._mine())):
                out.append(_row(r))
                frontier.append(r[0])
        return out

    def trace(self, m: Memory) -> list[str]:
        """The turns a memory comes from: its own links, or for a reflection those of the memories it sums up."""
        if m.turns or not m.sources:
            return list(m.turns)
        out: list[str] = []
        for sid in m.sources:
            try:
                out += self.trace(self.get(sid)) if sid != m.id else []
            except NotFound:  # a source forgotten since
                continue
        return list(dict.fromkeys(out))

    def entries(self, include_superseded: bool = False, kind: str | None = None, limit: int = -1,
                readable: bool = False) -> list[Memory]:
        """Memories oldest first; ``readable`` leaves out the observations (conversation excerpts)."""
        sql = f"SELECT {COLUMNS} FROM memories WHERE {self._MINE}"
        args: list[Any] = [*self._mine()]
        if not include_superseded:
            sql += " AND superseded_by IS NULL"
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        if readable:
            sql += " AND kind<>'observation'"
        return [_row(r) for r in self.conn.execute(sql + " ORDER BY ts, id LIMIT ?", [*args, limit])]

    def count(self) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM memories WHERE {self._MINE}", self._mine()).fetchone()[0])

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        ids = list(ids)
        for i in range(0, len(ids), 900):
            part = ids[i:i + 900]
            for mid, blob in self.conn.execute(
                    f"SELECT memory_id, vec FROM memory_vectors WHERE memory_id IN ({','.join('?' * len(part))})",
                    part):
                out[int(mid)] = np.frombuffer(blob, dtype=np.float32)
        return out

    def similar(self, vector: np.ndarray, k: int = 3, subject: str | None = None,
                min_similarity: float = 0.0) -> list[tuple[Memory, float]]:
        """Active readable memories (of ``subject``, if given) nearest to ``vector`` by cosine, best first."""
        mems = [m for m in self.entries(readable=True) if m.kind != "reflection"
                and (subject is None or m.subject.lower() == subject.lower())]
        vecs = self.vectors([m.id for m in mems])
        scored = [(m, float(vecs[m.id] @ vector)) for m in mems if m.id in vecs and vecs[m.id].shape == vector.shape]
        scored = [x for x in scored if x[1] >= min_similarity]
        return sorted(scored, key=lambda x: -x[1])[:k]

    def recall(self, query: str, now: float, k: int = 10, weights: RecallWeights | None = None,
               kinds: Sequence[str] | None = None, query_vector: np.ndarray | None = None,
               distinct: bool = True) -> list[Memory]:
        """Active memories ranked by relevance (dense + BM25) + recency + importance.

        With ``distinct``, a memory whose source turns are all covered by higher-ranked ones is left out."""
        w = weights or RecallWeights()
        mems = self.entries()
        if kinds:
            mems = [m for m in mems if m.kind in kinds]
        if not mems:
            return []
        ids = [m.id for m in mems]
        pos = {mid: i for i, mid in enumerate(ids)}
        lex = np.zeros(len(mems))
        toks = tokenize(query)
        if toks:
            q = " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(toks))
            for rowid, rank in self.conn.execute(
                "SELECT f.rowid, bm25(memory_fts) FROM memory_fts f JOIN memories m ON m.id=f.rowid"
                " WHERE memory_fts MATCH ? AND m.user=? AND m.persona IN (?, '*') AND m.superseded_by IS NULL",
                (q, *self._mine()),
            ):
                if rowid in pos:
                    lex[pos[rowid]] = -rank
        dense = np.zeros(len(mems))
        qv = query_vector
        if qv is None and self.embed is not None:
            qv = self.embed([query], "query")[0]
        if qv is not None:
            for mid, v in self.vectors(ids).items():
                if v.shape == qv.shape:
                    dense[pos[mid]] = float(v @ qv)
        if qv is not None and toks:
            relevance = (1.0 - w.lexical) * _scale(dense) + w.lexical * _scale(lex)
        else:
            relevance = _scale(dense) + _scale(lex)
        hours = np.array([max(0.0, (now - m.ts) / 3600.0) for m in mems])
        recency = np.power(w.decay_per_hour, hours)
        importance = np.array([m.importance / 10.0 for m in mems])
        if w.minmax_time:
            recency, importance = _scale(recency), _scale(importance)
        score = w.relevance * relevance + w.recency * recency + w.importance * importance
        out: list[Memory] = []
        covered: set[str] = set()
        # A memory that only restates turns already represented in the list (the observation of a turn after
        # the fact extracted from it, or the other way round) is skipped, so the k slots reach more of the past.
        for i in np.argsort(-score, kind="stable"):
            m = mems[int(i)]
            if distinct and m.turns and covered.issuperset(m.turns):
                continue
            covered.update(m.turns)
            m.score = float(score[i])
            m.parts = {"relevance": float(relevance[i]), "recency": float(recency[i]), "importance": m.importance / 10}
            out.append(m)
            if len(out) >= k:
                break
        return out


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, et: Any, e: Any, tb: Any) -> None:
        self.conn.execute("ROLLBACK" if et else "COMMIT")


def exchanges(turns: Sequence[tuple[str, str, str]], ts: float, importance: int = 3) -> list[dict[str, Any]]:
    """Observation memories for a transcript of (ref, speaker, text) turns: one per turn, holding the turn and the
    reply that follows it, linked to both.

    A question ("how did the race go?") and its answer ("I finished in 4 hours!") are one memory, so recalling
    either side brings back the other; every turn appears in two exchanges (as the reply, then as the opener)."""
    out = []
    for j, (ref, speaker, text) in enumerate(turns):
        body, refs = f"{speaker} said: {text}", [ref]
        if j + 1 < len(turns):
            nref, nspeaker, ntext = turns[j + 1]
            body += f"\n{nspeaker} replied: {ntext}"
            refs.append(nref)
        out.append({"kind": "observation", "text": body, "importance": importance, "ts": ts, "turns": refs})
    return out


def ensure_schema(conn: sqlite3.Connection) -> None:
    # Only when missing: executescript COMMITs first, which would end another thread's open transaction on a
    # connection shared between threads (the server's, the background memory worker's).
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='memory_vectors'").fetchone() is None:
        conn.executescript(SCHEMA)
    have = {r[1] for r in conn.execute("PRAGMA table_info(memories)")}
    for name, decl in ADDED_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE memories ADD COLUMN {name} {decl}")


def hours_between(a: float, b: float) -> float:
    return math.fabs(a - b) / 3600.0


# What an answer reads for each recalled memory (``memory_context``): "statements" the memory's own text;
# "sources" the statement followed by the turns it was extracted from (each turn once); "turns" those turns alone.
# An observation is already a conversation excerpt and a reflection sums up many memories: both read as they are.
CONTEXT_MODES = ("statements", "sources", "turns")


def context_blocks(store: MemoryStore, hits: Sequence[Memory], mode: str = "statements", max_turns: int = 3,
                   budget: int = 0, count: Callable[[str], int] | None = None) -> list[tuple[Memory, str]]:
    """Each recalled memory with the text an answer reads for it, in the order given; in "turns" mode a memory
    whose source turns were all shown already is left out. ``max_turns`` caps the source turns quoted for one
    memory; with ``budget`` (and ``count``, a text's tokens), blocks are taken in order until the next would
    go over it."""
    if mode not in CONTEXT_MODES:
        raise BadInput(f"memory context {mode!r} is not one of: {', '.join(CONTEXT_MODES)}")
    out: list[tuple[Memory, str]] = []
    shown: set[str] = set()
    for m in hits:
        if mode == "statements" or m.kind in ("observation", "reflection") or not m.turns:
            out.append((m, m.text))
            shown.update(m.turns)
            continue
        new = [r for r in m.turns if r not in shown][:max_turns]
        shown.update(m.turns)
        quoted = [f'{t["speaker"]} said: {t["text"]}' for t in store.source_turns(new)]
        if mode == "turns":
            if quoted:
                out.append((m, "\n".join(quoted)))
        else:
            out.append((m, "\n".join([m.text, *(f"  > {q}" for q in quoted)])))
    if budget and count is not None:
        used = 0
        for i, (_, text) in enumerate(out):
            used += count(text) + 1
            if used > budget and i:
                return out[:i]
    return out
