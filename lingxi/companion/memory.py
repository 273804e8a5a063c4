"""Long-term memory, per user and per persona, in the lingxi store.

Items are facts, preferences, plans/events, relationships, the user's emotional state, raw
observations (turns) and reflections. Each has an importance 1–10, a time, and links to the turns
(or, for reflections, the memories) it came from. Every read and write is scoped by (user, persona):
there is no query that can return another user's rows.

Update without loss: a memory that contradicts an active one in the same slot supersedes it (the old
row stays, marked with when and why); adding the same memory twice bumps a mention count and never
deletes anything. Forgetting is real: the row, its BM25 entry and its vector are deleted."""

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
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("id", "kind", "text", "importance", "event_date", "slot", "turns",
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


COLUMNS = ("id, user, persona, kind, text, importance, ts, event_date, slot, turns, sources, mentions,"
           " superseded_by, superseded_at, supersede_reason")


def _row(r: Sequence[Any]) -> Memory:
    return Memory(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), json.loads(r[10]), r[11],
                  r[12], r[13], r[14])


def _hash(kind: str, text: str) -> str:
    norm = " ".join(text.lower().split()).rstrip(".。!！")
    return hashlib.sha256(f"{kind}\0{norm}".encode()).hexdigest()[:24]


def _scale(x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    out: np.ndarray = (x - lo) / (hi - lo) if hi > lo else np.ones_like(x) * (1.0 if hi > 0 else 0.0)
    return out


class MemoryStore:
    """Memories for one (user, persona) pair; construct one per pair."""

    def __init__(self, conn: sqlite3.Connection, user: str, persona: str,
                 embed: Callable[[list[str], str], np.ndarray] | None = None,
                 transaction: Callable[[], Any] | None = None) -> None:
        if not user or not user.strip():
            raise BadInput("a user id is required")
        if not persona:
            raise BadInput("a persona is required")
        self.conn = conn
        self.user = user
        self.persona = persona
        self.embed = embed
        self._tx = transaction
        ensure_schema(conn)

    def _transaction(self) -> Any:
        if self._tx is not None:
            return self._tx()
        return _Tx(self.conn)

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

    def unextracted_turns(self) -> list[tuple[int, str, str]]:
        """(id, speaker, text) of the turns after the extraction watermark, oldest first."""
        row = self.conn.execute("SELECT extracted_through FROM mem_state WHERE user=? AND persona=?",
                                (self.user, self.persona)).fetchone()
        rows = self.conn.execute("SELECT id, speaker, text FROM mem_turns WHERE user=? AND persona=? AND id>?"
                                 " ORDER BY id", (self.user, self.persona, row[0] if row else 0)).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def recent_turns(self, n: int) -> list[tuple[str, str, float]]:
        rows = self.conn.execute("SELECT speaker, text, ts FROM mem_turns WHERE user=? AND persona=?"
                                 " ORDER BY id DESC LIMIT ?", (self.user, self.persona, n)).fetchall()
        return [(r[0], r[1], r[2]) for r in reversed(rows)]

    # --- writes --------------------------------------------------------------------------------------
    def add(self, kind: str, text: str, importance: int, ts: float, *, slot: str | None = None,
            event_date: str | None = None, turns: Sequence[str] = (), sources: Sequence[int] = (),
            vector: np.ndarray | None = None) -> tuple[Memory, str]:
        """Add one memory; returns (the memory, what happened: 'added' | 'duplicate' | 'superseded')."""
        return self.add_many([dict(kind=kind, text=text, importance=importance, ts=ts, slot=slot,
                                   event_date=event_date, turns=list(turns), sources=list(sources))],
                             None if vector is None else vector.reshape(1, -1))[0]

    def add_many(self, items: list[dict[str, Any]], vectors: np.ndarray | None = None,
                 extracted_through: int | None = None) -> list[tuple[Memory, str]]:
        """Add memories in one transaction (vectors computed first, outside it). ``extracted_through`` moves the
        extraction watermark to that turn id in the same transaction, so a window is read exactly once."""
        clean = []
        for it in items:
            kind, text = str(it.get("kind", "")), " ".join(str(it.get("text", "")).split())
            if kind not in KINDS:
                raise BadInput(f"memory kind {kind!r} is not one of {', '.join(KINDS)}")
            if not text:
                raise BadInput("a memory needs text")
            imp = int(it.get("importance", 5))
            clean.append({**it, "kind": kind, "text": text, "importance": max(1, min(10, imp))})
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
                c.execute("INSERT INTO mem_state(user, persona, extracted_through) VALUES (?,?,?)"
                          " ON CONFLICT(user, persona) DO UPDATE SET extracted_through=excluded.extracted_through",
                          (self.user, self.persona, extracted_through))
        return out

    def _add_one(self, c: sqlite3.Connection, it: dict[str, Any], vec: np.ndarray | None) -> tuple[Memory, str]:
        h = _hash(it["kind"], it["text"])
        dup = c.execute(f"SELECT {COLUMNS} FROM memories WHERE user=? AND persona=? AND hash=? AND superseded_by IS NULL",
                        (self.user, self.persona, h)).fetchone()
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
            "INSERT INTO memories(user, persona, kind, text, importance, ts, event_date, slot, turns, sources, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (self.user, self.persona, it["kind"], it["text"], it["importance"], float(it["ts"]), it.get("event_date"),
             slot, json.dumps(list(it.get("turns") or [])), json.dumps(list(it.get("sources") or [])), h))
        mid = int(cur.lastrowid or 0)
        c.execute("INSERT INTO memory_fts(rowid, tokens) VALUES (?, ?)", (mid, " ".join(tokenize(it["text"]))))
        if vec is not None:
            c.execute("INSERT INTO memory_vectors(memory_id, vec) VALUES (?, ?)",
                      (mid, np.asarray(vec, np.float32).tobytes()))
        status = "added"
        if slot:
            olds = c.execute("SELECT id FROM memories WHERE user=? AND persona=? AND slot=? AND id<>?"
                             " AND superseded_by IS NULL", (self.user, self.persona, slot, mid)).fetchall()
            for (oid,) in olds:
                c.execute("UPDATE memories SET superseded_by=?, superseded_at=?, supersede_reason=? WHERE id=?",
                          (mid, float(it["ts"]), f"replaced by newer memory #{mid} about {slot!r}: {it['text']}"[:300],
                           oid))
                status = "superseded"
        row = c.execute(f"SELECT {COLUMNS} FROM memories WHERE id=?", (mid,)).fetchone()
        return _row(row), status

    def forget(self, memory_id: int) -> Memory:
        """Delete a memory for real (row, BM25 entry, vector); memories it superseded become active again."""
        m = self.get(memory_id)
        with self._transaction() as c:
            c.execute("DELETE FROM memory_fts WHERE rowid=?", (memory_id,))
            c.execute("DELETE FROM memory_vectors WHERE memory_id=?", (memory_id,))
            c.execute("UPDATE memories SET superseded_by=NULL, superseded_at=NULL, supersede_reason=NULL"
                      " WHERE superseded_by=? AND user=? AND persona=?", (memory_id, self.user, self.persona))
            c.execute("DELETE FROM memories WHERE id=? AND user=? AND persona=?", (memory_id, self.user, self.persona))
        return m

    def forget_all(self) -> int:
        ids = [r[0] for r in self.conn.execute("SELECT id FROM memories WHERE user=? AND persona=?",
                                               (self.user, self.persona))]
        with self._transaction() as c:
            for i in ids:
                c.execute("DELETE FROM memory_fts WHERE rowid=?", (i,))
                c.execute("DELETE FROM memory_vectors WHERE memory_id=?", (i,))
            c.execute("DELETE FROM memories WHERE user=? AND persona=?", (self.user, self.persona))
            c.execute("DELETE FROM mem_turns WHERE user=? AND persona=?", (self.user, self.persona))
            c.execute("DELETE FROM mem_state WHERE user=? AND persona=?", (self.user, self.persona))
        return len(ids)

    # --- reads ---------------------------------------------------------------------------------------
    def get(self, memory_id: int) -> Memory:
        r = self.conn.execute(f"SELECT {COLUMNS} FROM memories WHERE id=? AND user=? AND persona=?",
                              (memory_id, self.user, self.persona)).fetchone()
        if r is None:  # another user's memory is indistinguishable from a missing one
            raise NotFound(f"no memory #{memory_id} for user {self.user!r}")
        return _row(r)

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

    def entries(self, include_superseded: bool = False, kind: str | None = None, limit: int = -1) -> list[Memory]:
        sql = f"SELECT {COLUMNS} FROM memories WHERE user=? AND persona=?"
        args: list[Any] = [self.user, self.persona]
        if not include_superseded:
            sql += " AND superseded_by IS NULL"
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        return [_row(r) for r in self.conn.execute(sql + " ORDER BY ts, id LIMIT ?", [*args, limit])]

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM memories WHERE user=? AND persona=?",
                                     (self.user, self.persona)).fetchone()[0])

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
                " WHERE memory_fts MATCH ? AND m.user=? AND m.persona=? AND m.superseded_by IS NULL",
                (q, self.user, self.persona),
            ):
                if rowid in pos:
                    lex[pos[rowid]] = -rank
        dense = np.zeros(len(mems))
        qv = query_vector
        if qv is None and self.embed is not None:
            qv = self.embed([query], "query")[0]
        if qv is not None:
            vecs = {}
            for i in range(0, len(ids), 900):
                part = ids[i:i + 900]
                for mid, blob in self.conn.execute(
                        f"SELECT memory_id, vec FROM memory_vectors WHERE memory_id IN ({','.join('?' * len(part))})",
                        part):
                    vecs[mid] = np.frombuffer(blob, dtype=np.float32)
            for mid, v in vecs.items():
                if v.shape == qv.shape:
                    dense[pos[mid]] = float(v @ qv)
        if qv is not None and toks:
            relevance = (1.0 - w.lexical) * _scale(dense) + w.lexical * _scale(lex)
        else:
            relevance = _scale(dense) + _scale(lex)
        hours = np.array([max(0.0, (now - m.ts) / 3600.0) for m in mems])
        recency = np.power(w.decay_per_hour, hours)
        importance = np.array([m.importance / 10.0 for m in mems])
        score = w.relevance * relevance + w.recency * _scale(recency) + w.importance * _scale(importance)
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
    # connection the server shares between threads.
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='memory_vectors'").fetchone() is None:
        conn.executescript(SCHEMA)


def hours_between(a: float, b: float) -> float:
    return math.fabs(a - b) / 3600.0
