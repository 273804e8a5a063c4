"""Recommendation over a lingxi store: events, the trained encoder, similar notes, per-user lists.

The catalogue (note vectors, popularity, ItemCF) is rebuilt in memory only when the store changed
(new notes, new events or a new encoder), so a long-lived process answers from memory. A note is
eligible from the moment it is ingested: its vector comes from its text alone."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]

from lingxi.errors import BadInput, ModelOutputError, NotFound
from lingxi.rec import events as ev
from lingxi.rec.encoder import Encoder, TrainConfig, train
from lingxi.rec.explore import (
    EXPLORE_EVIDENCE,
    EXPLORE_TAIL,
    EXPLORE_TOPICS,
    PROPOSAL_FORMAT,
    RECENT_NOTES,
    CoEngagementProposer,
    LLMProposer,
    Proposal,
    Taxonomy,
    fill,
    interests_of,
)
from lingxi.rec.features import Item, combine, llm_compression, zero_shot
from lingxi.rec.pairs import mine_pairs, user_histories
from lingxi.rec.recommend import ItemCF, RecConfig, Recommender

if TYPE_CHECKING:
    from lingxi.library import Library
    from lingxi.llm.chat import ChatModel

EXPLORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS explore_cache (
    user TEXT NOT NULL, proposer TEXT NOT NULL, stamp TEXT NOT NULL, proposals TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    PRIMARY KEY (user, proposer)
);
"""


PROPOSERS = ("llm", "co-engagement")
# the cache key of the LLM proposer's proposals (LLMProposer.fit names it so when it reads co-engagement evidence)
LLM_PROPOSER = "llm+evidence" if EXPLORE_EVIDENCE else "llm"


@dataclass(frozen=True)
class CachedProposals:
    proposer: str
    proposals: list[Proposal]
    age_s: int
    current: bool  # made from the user's current events
    fallback: bool  # the LLM's reply was unusable and co-engagement topics stood in


@dataclass(frozen=True)
class RefreshReport:
    user: str
    status: str  # refreshed | fresh (kept) | fallback (the LLM's reply was unusable)
    topics: list[str]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"user": self.user, "status": self.status, "topics": self.topics, "seconds": round(self.seconds, 3)}


@dataclass
class Catalogue:
    stamp: tuple[Any, ...]
    ids: list[str]
    items: list[Item]
    vectors: np.ndarray
    recommender: Recommender
    histories: dict[str, list[int]]
    taxonomy: Taxonomy
    encoder_version: str
    rows: dict[str, int] = field(init=False)
    _co: CoEngagementProposer | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.rows = {nid: i for i, nid in enumerate(self.ids)}

    def co_engagement(self) -> CoEngagementProposer:
        """Topic co-engagement over every user's history, built once per catalogue (it changes with the events)."""
        if self._co is None:
            self._co = CoEngagementProposer(list(self.histories.values()), self.taxonomy)
        return self._co

    def row(self, note_id: str) -> int:
        if note_id not in self.rows:
            raise NotFound(f"no note with id {note_id!r}")
        return self.rows[note_id]


class RecService:
    def __init__(self, lib: Library, config: RecConfig | None = None) -> None:
        self.lib = lib
        self.config = config or RecConfig()
        self._cat: Catalogue | None = None
        self._llm_hidden: Any = None
        self.explore_ttl = int(lib.settings.explore_ttl_hours * 3600)
        conn = lib.conn
        ev.ensure_schema(conn)
        conn.executescript(EXPLORE_SCHEMA)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.lib.conn

    @property
    def encoder_dir(self) -> Path:
        return self.lib.settings.home / "encoders"

    # --- events ------------------------------------------------------------------------------------
    def import_events(self, paths: Sequence[Path]) -> list[ev.ImportReport]:
        known = {r[0] for r in self.conn.execute("SELECT id FROM notes")}
        reports = []
        for p in paths:
            with self.lib.store.transaction() as conn:
                reports.append(ev.import_events(conn, Path(p), known))
        return reports

    def record(self, user: str, note_id: str, action: str, ts: float) -> bool:
        """One engagement event of ``user`` (the API's caller); False when it was already recorded."""
        if action not in ev.ACTIONS:
            raise BadInput(f"action {action!r} is not one of: {', '.join(ev.ACTIONS)}")
        with self.lib.store.transaction() as c:
            before = c.total_changes
            c.execute("INSERT OR IGNORE INTO events(user, note_id, action, ts) VALUES (?,?,?,?)",
                      (user, note_id, action, ts))
            return c.total_changes > before

    def hidden(self, cat: Catalogue, viewer: str | None) -> set[int]:
        """Catalogue rows ``viewer`` may not see (other users' private notes); none without a viewer."""
        if viewer is None:
            return set()
        rows = self.conn.execute("SELECT id FROM notes WHERE visibility <> 'public' AND (owner IS NULL OR owner <> ?)",
                                 (viewer,))
        return {cat.rows[r[0]] for r in rows if r[0] in cat.rows}

    def popular(self, k: int, viewer: str | None = None) -> list[dict[str, Any]]:
        """The most engaged notes ``viewer`` may see: the list for a user without events yet."""
        cat = self.catalogue()
        return [self._note(cat, i, rank=rank, reason="popular", explore=False)
                for rank, (i, _s) in enumerate(cat.recommender.popular(k, self.hidden(cat, viewer)), 1)]

    # --- features and training --------------------------------------------------------------------
    def items(self) -> tuple[list[str], list[Item]]:
        ids, items = [], []
        for nid, title, body, meta in self.conn.execute("SELECT id, title, body, meta FROM notes ORDER BY rowid"):
            tags = json.loads(meta).get("tags") or []
            ids.append(nid)
            items.append(Item(nid, title, body, tuple(str(t) for t in tags)))
        return ids, items

    def hidden_model(self) -> Any:
        if self._llm_hidden is None:
            from lingxi.llm.bundled import resolve_model
            from lingxi.llm.hidden import LocalHiddenState

            if self.lib.settings.llm != "local":
                raise BadInput("LLM compression vectors need the local LLM (hidden states are not served over HTTP)")
            s = self.lib.settings
            self._llm_hidden = LocalHiddenState(resolve_model(s.llm_model, s.model_cache), threads=s.threads)
        return self._llm_hidden

    def features(self, items: Sequence[Item], with_llm: bool,
                 progress: Callable[[str, int, int], None] | None = None) -> np.ndarray:
        emb = self.lib.embedder
        if emb is None:
            raise BadInput("recommendation needs an embedder (LINGXI_EMBEDDER is 'none')")
        blocks = [zero_shot(self.conn, emb, items, (lambda d, t: progress("embed", d, t)) if progress else None)]
        if with_llm:
            blocks.append(llm_compression(self.conn, self.hidden_model(), items,
                                          (lambda d, t: progress("llm", d, t)) if progress else None))
        return combine(blocks) if with_llm else blocks[0]

    def train(self, config: TrainConfig | None = None, with_llm: bool = False, window: int = 10,
              progress: Callable[[str, int, int], None] | None = None,
              on_step: Callable[[int, int, float], None] | None = None) -> tuple[Encoder, dict[str, Any], Path]:
        ids, items = self.items()
        row = {nid: i for i, nid in enumerate(ids)}
        pairs = [(row[a], row[b], w) for (a, b), w in mine_pairs(ev.load_events(self.conn), window).items()
                 if a in row and b in row]
        if len(pairs) < 2:
            raise BadInput(f"training needs co-engagement pairs (two notes engaged by the same user); found {len(pairs)}."
                           " Import events first: lingxi events import FILE")
        x = self.features(items, with_llm, progress)
        emb = self.lib.embedder
        assert emb is not None
        meta = {"embedder": emb.name, "llm": self.hidden_model().name if with_llm else None,
                "window": window, "notes": len(ids)}
        enc, stats = train(x, pairs, base_dim=emb.dim, config=config, meta=meta, progress=on_step)
        path = enc.save(self.encoder_dir)
        self._cat = None
        return enc, stats, path

    def encoder(self) -> Encoder | None:
        try:
            return Encoder.load(self.encoder_dir)
        except NotFound:
            return None

    # --- the catalogue ------------------------------------------------------------------------------
    def _stamp(self) -> tuple[Any, ...]:
        c = self.conn
        notes = c.execute("SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM notes").fetchone()
        evs = c.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM events").fetchone()
        cur = self.encoder_dir / "CURRENT"
        return (*notes, *evs, cur.read_text() if cur.exists() else "")

    def catalogue(self) -> Catalogue:
        stamp = self._stamp()
        if self._cat is not None and self._cat.stamp == stamp:
            return self._cat
        ids, items = self.items()
        if not ids:
            raise BadInput("the store has no notes; ingest some first")
        enc = self.encoder()
        if enc is not None:
            vectors = enc.encode(self.features(items, with_llm=bool(enc.meta.get("llm"))))
        else:
            vectors = self.features(items, with_llm=False)
        row = {nid: i for i, nid in enumerate(ids)}
        hist = {u: [row[n] for n, _, _ in h if n in row] for u, h in user_histories(ev.load_events(self.conn)).items()}
        users = sorted(hist)
        r, cidx = [], []
        for ui, u in enumerate(users):
            r += [ui] * len(hist[u])
            cidx += hist[u]
        m = sparse.csr_matrix((np.ones(len(r), np.float32), (r, cidx)), shape=(max(len(users), 1), len(ids)))
        pop = np.asarray(m.sum(axis=0)).ravel()
        cf = ItemCF(m) if r else None
        rec = Recommender(vectors, pop, cf, self.config, threads=self.lib.settings.threads)
        self._cat = Catalogue(stamp, ids, items, vectors, rec, hist, Taxonomy(items),
                             enc.version if enc is not None else "zero-shot")
        return self._cat

    def _note(self, cat: Catalogue, i: int, **extra: Any) -> dict[str, Any]:
        it = cat.items[i]
        return {"note_id": cat.ids[i], "title": it.title, "tags": list(it.tags), **extra}

    def similar(self, note_id: str, k: int = 10, viewer: str | None = None) -> list[dict[str, Any]]:
        cat = self.catalogue()
        i = cat.row(note_id)
        hidden = self.hidden(cat, viewer)
        if i in hidden:
            raise NotFound(f"no note with id {note_id!r}")
        if cat.recommender.index is None:
            return []
        idx, sc = cat.recommender.index.search(cat.vectors[i], min(k + 1 + len(hidden), len(cat.ids)))
        return [self._note(cat, int(j), score=round(float(s), 4)) for j, s in zip(idx.tolist(), sc.tolist())
                if int(j) != i and int(j) not in hidden][:k]

    def history(self, user: str) -> list[int]:
        cat = self.catalogue()
        if user not in cat.histories:
            raise NotFound(f"no events for user {user!r} (import events first: lingxi events import FILE)")
        return cat.histories[user]

    # --- exploration, made ahead of time --------------------------------------------------------------
    def _explore_stamp(self, user: str) -> str:
        """What the cached proposals were made from: the user's events, the taxonomy size and the proposal format."""
        cat = self.catalogue()
        st = self.conn.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM events WHERE user=?", (user,)).fetchone()
        return f"{st[0]}:{st[1]}:{len(cat.taxonomy.topics)}:{PROPOSAL_FORMAT}"

    def cached_proposals(self, user: str, name: str = LLM_PROPOSER) -> CachedProposals | None:
        """The user's proposals by ``name`` as cached, if they are of the current format and younger than the
        expiry (``Settings.explore_ttl_hours``); topics that have since become the user's interests are dropped."""
        row = self.conn.execute(
            "SELECT stamp, proposals, CAST(strftime('%s','now') AS INTEGER) - CAST(strftime('%s', created_at) AS"
            " INTEGER) FROM explore_cache WHERE user=? AND proposer=?", (user, name)).fetchone()
        if row is None or not row[0].endswith(f":{PROPOSAL_FORMAT}") or row[2] >= self.explore_ttl:
            return None
        cat = self.catalogue()
        known = set(interests_of(self.history(user), cat.taxonomy))
        props = [Proposal(p["topic"], p["reason"]) for p in json.loads(row[1])
                 if p["topic"] in cat.taxonomy.rows and p["topic"] not in known]
        return CachedProposals(name, props, int(row[2]), row[0] == self._explore_stamp(user),
                               any(p.get("by") for p in json.loads(row[1])))

    def explore_users(self) -> list[str]:
        return sorted(self.catalogue().histories)

    def refresh(self, users: Sequence[str] | None, chat: ChatModel, force: bool = False,
                on_user: Callable[[RefreshReport], None] | None = None) -> list[RefreshReport]:
        """Run the LLM proposer ahead of time for ``users`` (None: every user with events) and cache its proposals.
        A user whose cached proposals are unexpired and made from their current events is skipped unless ``force``."""
        cat = self.catalogue()
        todo = list(users) if users is not None else self.explore_users()
        for u in todo:
            self.history(u)  # NotFound before any LLM call
        proposer = LLMProposer(chat).fit(cat.co_engagement())
        reports = []
        for u in todo:
            t0 = time.perf_counter()
            have = self.cached_proposals(u, proposer.name)
            if not force and have is not None and have.current:
                rep = RefreshReport(u, "fresh", [p.topic for p in have.proposals], 0.0)
            else:
                stamp = self._explore_stamp(u)
                hist = self.history(u)
                status = "refreshed"
                try:
                    props = proposer.propose(hist, cat.items, cat.taxonomy, EXPLORE_TOPICS)
                    by = ""
                except ModelOutputError:
                    # A reply that breaks the taxonomy is never trusted; co-engagement statistics stand in.
                    props = cat.co_engagement().propose(hist, cat.items, cat.taxonomy, EXPLORE_TOPICS)
                    by, status = CoEngagementProposer.name, "fallback"
                with self.lib.store.transaction() as c:
                    c.execute("INSERT OR REPLACE INTO explore_cache(user, proposer, stamp, proposals) VALUES (?,?,?,?)",
                              (u, proposer.name, stamp, json.dumps(
                                  [{"topic": p.topic, "reason": p.reason, **({"by": by} if by else {})} for p in props],
                                  ensure_ascii=False)))
                rep = RefreshReport(u, status, [p.topic for p in props], time.perf_counter() - t0)
            reports.append(rep)
            if on_user:
                on_user(rep)
        return reports

    def recommend(self, user: str, k: int = 20, explore: float = 0.0, proposer: str = "llm",
                  tail: float | None = EXPLORE_TAIL, viewer: str | None = None) -> dict[str, Any]:
        """A user's list (with ``viewer``, only notes that user may see), answered from memory and the store (no model call): exploration uses the LLM proposals
        that ``refresh`` cached for the user, or co-engagement topics when there are none fresh (``explore.note``
        says so). Items carry their rank in the list and the reason; the ranker's scores are not shown, since
        exploration slots are placed by share, not by score."""
        if k < 1:
            raise BadInput("k must be at least 1")
        if not 0.0 <= explore <= 1.0:
            raise BadInput(f"--explore must be between 0 and 1, got {explore}")
        if tail is not None and not 0.0 < tail <= 1.0:
            raise BadInput(f"--explore-tail must be in (0, 1], got {tail}")
        if proposer not in PROPOSERS:
            raise BadInput(f"proposer {proposer!r} is not one of: {', '.join(PROPOSERS)}")
        t0 = time.perf_counter()
        cat = self.catalogue()
        hist = self.history(user)
        hidden = self.hidden(cat, viewer)
        ranked = cat.recommender.recommend(hist, k + 200 if explore > 0 else k, exclude=hidden)
        why = {i: sig for i, _, sig in ranked}
        props: list[Proposal] = []
        source: dict[str, Any] = {}
        if explore > 0:
            have = self.cached_proposals(user) if proposer == "llm" else None
            if have is not None:
                props = have.proposals
                source = {"proposer": LLM_PROPOSER, "age_s": have.age_s, "events_since": not have.current,
                          "note": f"LLM proposals made {_ago(have.age_s)}"
                                  + (" (the LLM's reply was not usable: co-engagement topics)" if have.fallback else "")}
            else:
                props = cat.co_engagement().propose(hist, cat.items, cat.taxonomy, EXPLORE_TOPICS)
                source = {"proposer": CoEngagementProposer.name}
                if proposer == "llm":
                    source["note"] = (f"no fresh LLM proposals for {user}: co-engagement topics instead (`lingxi"
                                      f" recommend refresh --user {user}` makes them)")
        ints = cat.recommender.user_interests(hist)
        aff = cat.vectors @ ints[0][0] if ints else None
        final = fill([i for i, _, _ in ranked], props, cat.taxonomy, k, explore, set(hist) | hidden, aff,
                     popularity=cat.recommender.popularity, tail=tail, history=hist,
                     recent=cat.recommender.recent_cf(hist, RECENT_NOTES) if props else None)
        out = []
        for rank, (i, reason) in enumerate(final, 1):
            if reason is None:
                sig = why.get(i, {})
                parts = [SIGNAL_REASONS[s] for s in sorted(sig, key=lambda s: sig[s])]
                out.append(self._note(cat, i, rank=rank, reason="; ".join(parts), explore=False, signals=sig))
            else:
                out.append(self._note(cat, i, rank=rank, reason=reason, explore=True))
        return {"user": user, "items": out, "history": len(hist),
                "explore": source,
                "explore_topics": [{"topic": p.topic, "reason": p.reason} for p in props],
                "encoder": cat.encoder_version,
                "ms": round((time.perf_counter() - t0) * 1000, 2)}


SIGNAL_REASONS = {"dense": "similar to your interests", "cf": "engaged by people with your history", "pop": "popular"}


def _ago(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    return f"{seconds / 3600:.1f} h ago"
