"""Hybrid search over any retrieval backend."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from lingxi.config import FUSIONS
from lingxi.errors import BadInput
from lingxi.index.filters import Filters
from lingxi.index.phonetic import phonetic_tokens
from lingxi.index.store import note_of_chunk
from lingxi.index.tokenize import tokenize
from lingxi.search.fusion import FUSION_FUNCTIONS
from lingxi.search.results import Results, select
from lingxi.types import Hit

MODES = ("hybrid", "bm25", "dense")
MAX_QUERY_CHARS = 4000
_WORDISH = re.compile(r"\w", re.U)


class Backend(Protocol):
    """What a retrieval backend answers: ranked (chunk_id, score) lists."""

    def lexical_ids(self, tokens: list[str], k: int, filters: Filters) -> list[tuple[str, float]]: ...

    def dense_ids(self, vector: np.ndarray, k: int, filters: Filters) -> list[tuple[str, float]]: ...

    def vectors_of(self, chunk_ids: list[str]) -> dict[str, np.ndarray]: ...


class Reranker(Protocol):
    """Optional last stage: reorders (and may drop) hits for a query."""

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]: ...


@dataclass(frozen=True)
class FusionWeights:
    """How the ranked lists are fused into one chunk ranking (``method``: one of ``FUSIONS``, see
    ``lingxi.search.fusion``), the weight of each list, the RRF constant ``k`` and how deep each list is read
    (``depth``: at least this many candidates per list, so a passage ranked well by one list only is still there).

    ``phonetic`` weighs the list from the phonetic index of transcripts (``lingxi.index.phonetic``); 0 turns it off.

    ``feedback`` weighs a third list, a dense search with the query moved towards its own top
    ``feedback_docs`` dense hits (Rocchio pseudo-relevance feedback: q' = q + ``feedback_beta`` · their mean);
    0 turns it off."""

    lexical: float = 1.0
    dense: float = 1.0
    k: int = 60
    method: str = "softmax-seeded"
    feedback: float = 1.0
    feedback_docs: int = 3
    feedback_beta: float = 1.0
    depth: int = 50
    phonetic: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in FUSIONS:
            raise BadInput(f"fusion {self.method!r} is not one of: {', '.join(FUSIONS)}")


def highlight(text: str, tokens: list[str], width: int = 160) -> str:
    """A window of ``text`` around the first matched term, matched terms wrapped in 【】."""
    terms = sorted({t for t in tokens if len(t) > 1 or not t.isascii()}, key=len, reverse=True)
    flat = " ".join(text.split())
    if not terms:
        return flat[:width]
    pat = re.compile("|".join(re.escape(t) for t in terms), re.I)
    m = pat.search(flat)
    start = max(0, (m.start() if m else 0) - width // 3)
    window = flat[start : start + width]
    out = pat.sub(lambda mm: f"【{mm.group(0)}】", window)
    return ("…" if start > 0 else "") + out + ("…" if start + width < len(flat) else "")


class Searcher:
    def __init__(
        self,
        backend: Backend,
        resolve: Callable[[list[str]], list[Hit]],
        embed_query: Callable[[str], np.ndarray] | None,
        weights: FusionWeights = FusionWeights(),
        reranker: Reranker | None = None,
    ) -> None:
        self.backend = backend
        self.resolve = resolve
        self.embed_query = embed_query
        self.weights = weights
        self.reranker = reranker

    def search(
        self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | None = None, per_note: int = 1
    ) -> list[Hit]:
        """The shown passages in fused order (see ``results`` for how they were grouped by note)."""
        return list(self.results(query, k, mode, filters, per_note).hits)

    def results(
        self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | None = None, per_note: int = 1
    ) -> Results:
        """Fuse the retrievers' lists at chunk level, then walk the fused order keeping up to ``k`` passages, at most
        ``per_note`` of one note (0: no limit). The fused score alone picks a note's passages and orders the notes;
        passages folded under a note by the limit are counted in ``Results.grouped``."""
        if mode not in MODES:
            raise BadInput(f"search mode {mode!r} is not one of: {', '.join(MODES)}")
        if not isinstance(query, str) or not query.strip():
            raise BadInput("query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise BadInput(f"query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
        if not 1 <= k <= 1000:
            raise BadInput(f"k must be between 1 and 1000, got {k}")
        if per_note < 0:
            raise BadInput(f"per_note must be 0 (no limit) or more, got {per_note}")
        filters = filters or Filters()
        if not _WORDISH.search(query):
            return Results((), k, per_note)  # only punctuation/symbols: nothing to look for
        if mode != "bm25" and self.embed_query is None:
            raise BadInput("dense search needs an embedder; this store was opened with embeddings off (use --mode bm25)")
        depth = max(self.weights.depth, k * 5 * max(per_note, 1))
        tokens = tokenize(query)
        scored, signals = self.lists(query, tokens, depth, mode, filters)
        if mode == "hybrid":
            w = {"lexical": self.weights.lexical, "dense": self.weights.dense, "feedback": self.weights.feedback,
                 "phonetic": self.weights.phonetic}
            fused = FUSION_FUNCTIONS[self.weights.method](scored, w, self.weights.k)
        else:
            fused = [(cid, float(s)) for cid, s in next(iter(scored.values()))]
        score_of = dict(fused)
        order = [cid for cid, _ in fused]

        def decorate(h: Hit) -> Hit:
            return replace(h, signals=signals.get(h.chunk.id, {}), snippet=highlight(h.chunk.text, tokens))

        if self.reranker is None:
            # Resolve (read chunk rows, highlight) only as many candidates as the list needs, a window at a time.
            return select(order, score_of, self.resolve, k, per_note, max(2 * k * max(per_note, 1), 20), decorate)
        everything = select(order, score_of, self.resolve, len(order) or 1, per_note, len(order) or 1, decorate)
        hits = tuple(self.reranker.rerank(query, list(everything.hits))[:k])
        notes = {h.chunk.note_id for h in hits}
        return Results(hits, k, per_note, {n: c for n, c in everything.grouped_by_note.items() if n in notes},
                       len(order))

    def lists(self, query: str, tokens: list[str], depth: int, mode: str,
              filters: Filters) -> tuple[dict[str, list[tuple[str, float]]], dict[str, dict[str, float | int]]]:
        """The retrievers' ranked (chunk id, score) lists that ``mode`` fuses, each ``depth`` deep, and each chunk's
        per-list signals (scores and ranks) for display."""
        # The query embedding (tens of ms on a CPU) runs on a worker thread while BM25 runs here; both release
        # the GIL (numpy, SQLite), so on two cores a hybrid query costs about the slower of the two, not the sum.
        qvec = _embed_async(self.embed_query, query) if mode != "bm25" and self.embed_query is not None else None
        scored: dict[str, list[tuple[str, float]]] = {}
        signals: dict[str, dict[str, float | int]] = {}
        if mode in ("hybrid", "bm25"):
            scored["lexical"] = self.backend.lexical_ids(tokens, depth, filters)
            for r, (cid, s) in enumerate(scored["lexical"], 1):
                signals.setdefault(cid, {}).update({"bm25": round(s, 4), "bm25_rank": r})
        if qvec is not None:
            vector = qvec.result()
            scored["dense"] = self.backend.dense_ids(vector, depth, filters)
            for r, (cid, s) in enumerate(scored["dense"], 1):
                signals.setdefault(cid, {}).update({"cosine": round(s, 4), "dense_rank": r})
            if mode == "hybrid" and self.weights.feedback > 0:
                scored["feedback"] = self._feedback(vector, scored["dense"], depth, filters)
                for r, (cid, _) in enumerate(scored["feedback"], 1):
                    signals.setdefault(cid, {})["feedback_rank"] = r
        phonetic = getattr(self.backend, "phonetic_ids", None)
        if mode == "hybrid" and self.weights.phonetic > 0 and phonetic is not None:
            # how the query sounds, matched against transcripts' chunks (lingxi.index.phonetic)
            scored["phonetic"] = phonetic(phonetic_tokens(query), depth, filters)
            for r, (cid, _) in enumerate(scored["phonetic"], 1):
                signals.setdefault(cid, {})["phonetic_rank"] = r
        return scored, signals

    def _moved(self, qvec: np.ndarray, dense: list[tuple[str, float]]) -> np.ndarray | None:
        """The feedback query: ``qvec`` moved towards its top dense hits (one per note), normalised."""
        top: list[str] = []
        notes: set[str] = set()
        for cid, _ in dense:  # one chunk per note: a note's own chunks would pull the query into that note
            note = note_of_chunk(cid)
            if note not in notes:
                notes.add(note)
                top.append(cid)
                if len(top) == self.weights.feedback_docs:
                    break
        vecs = self.backend.vectors_of(top)
        if not vecs:
            return None
        moved = qvec + self.weights.feedback_beta * np.mean([vecs[c] for c in top if c in vecs], axis=0)
        norm = float(np.linalg.norm(moved))
        return (moved / norm).astype(np.float32) if norm > 0 else None

    def _feedback(self, qvec: np.ndarray, dense: list[tuple[str, float]], depth: int,
                  filters: Filters) -> list[tuple[str, float]]:
        """Dense search again with the query vector moved towards the mean of its top dense hits. Passages that
        answer one question tend to resemble each other more than the question resembles any of them, so the
        moved query finds relevant passages that share little wording with the question (measured in
        docs/BENCHMARKS.md, "pseudo-relevance feedback")."""
        moved = self._moved(qvec, dense)
        return self.backend.dense_ids(moved, depth, filters) if moved is not None else []


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _embed_async(embed: Callable[[str], np.ndarray], query: str) -> Future[np.ndarray]:
    """Embed on the one query-embedding thread (so embeddings of concurrent searches never overlap)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lingxi-query-embed")
    return _pool.submit(embed, query)
