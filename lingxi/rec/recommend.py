"""Candidate generation and ranking over a catalogue held in memory.

Three signals, fused by weighted reciprocal rank (weights configurable):
- dense: the user's interest vectors (recency-weighted; up to ``max_interests`` k-means centroids for
  users with mixed tastes) against the note encoder's vectors — this is what lets a note nobody has
  engaged with yet be recommended;
- item-based collaborative filtering: cosine over co-engagement, heavy users down-weighted;
- popularity: engagement counts.
Notes the user has already engaged with are never returned."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]

ANN_THRESHOLD = 20000


@dataclass
class RecConfig:
    dense_weight: float = 1.0
    cf_weight: float = 1.0
    pop_weight: float = 0.2
    rrf_k: int = 60
    candidates: int = 200
    recent: int = 50
    half_life: float = 20.0  # in history positions: the 20th most recent item weighs half the newest
    max_interests: int = 3
    items_per_interest: int = 15


class VectorIndex:
    """Top-k by inner product over unit vectors: exact below ANN_THRESHOLD rows, hnswlib above."""

    def __init__(self, vectors: np.ndarray, threads: int = 1, ann_threshold: int = ANN_THRESHOLD) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._hnsw: Any = None
        if len(vectors) >= ann_threshold:
            import hnswlib

            idx = hnswlib.Index(space="ip", dim=vectors.shape[1])
            idx.init_index(max_elements=len(vectors), ef_construction=200, M=16)
            idx.set_num_threads(threads)
            idx.add_items(self.vectors, np.arange(len(vectors)))
            idx.set_ef(200)
            idx.set_num_threads(1)
            self._hnsw = idx

    @property
    def ann(self) -> bool:
        return self._hnsw is not None

    def search(self, query: np.ndarray, k: int, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores) of the best k rows, best first."""
        k = min(k, len(self.vectors))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if self._hnsw is not None and not exact:
            labels, dist = self._hnsw.knn_query(query.reshape(1, -1).astype(np.float32), k=k)
            return labels[0].astype(np.int64), (1.0 - dist[0]).astype(np.float32)
        s = self.vectors @ query.astype(np.float32)
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        return top.astype(np.int64), s[top]


class ItemCF:
    """Item-item cosine over a user×item engagement matrix; rows of heavy users weigh 1/log2(2+n)."""

    def __init__(self, matrix: sparse.csr_matrix, neighbours: int = 100) -> None:
        n_per_user = np.asarray((matrix > 0).sum(axis=1)).ravel()
        scale = sparse.diags(1.0 / np.log2(2.0 + n_per_user))
        m = (scale @ (matrix > 0).astype(np.float32)).tocsc()
        co = (m.T @ m).tocsr()
        norms = np.sqrt(np.maximum(co.diagonal(), 1e-12))
        co = sparse.diags(1.0 / norms) @ co @ sparse.diags(1.0 / norms)
        co = co.tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        self.n_items = matrix.shape[1]
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for i in range(co.shape[0]):
            s, e = co.indptr[i], co.indptr[i + 1]
            idx, v = co.indices[s:e], co.data[s:e]
            if len(v) > neighbours:
                keep = np.argpartition(-v, neighbours - 1)[:neighbours]
                idx, v = idx[keep], v[keep]
            rows.append(np.full(len(idx), i))
            cols.append(idx)
            vals.append(v)
        self.sim = sparse.csr_matrix(
            (np.concatenate(vals) if vals else np.zeros(0), (np.concatenate(rows) if rows else np.zeros(0, int),
                                                             np.concatenate(cols) if cols else np.zeros(0, int))),
            shape=co.shape, dtype=np.float32)

    def scores(self, items: Sequence[int], weights: Sequence[float]) -> np.ndarray:
        out = np.zeros(self.n_items, dtype=np.float32)
        for i, w in zip(items, weights):
            s, e = self.sim.indptr[i], self.sim.indptr[i + 1]
            out[self.sim.indices[s:e]] += w * self.sim.data[s:e]
        return out


def recency_weights(n: int, half_life: float) -> np.ndarray:
    """Weights for a history ordered oldest → newest: the newest weighs 1, halving every ``half_life`` items."""
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    out: np.ndarray = 0.5 ** (age / max(half_life, 1e-9))
    return out


def interests(vectors: np.ndarray, weights: np.ndarray, max_k: int, seed: int = 0) -> list[tuple[np.ndarray, float]]:
    """Weighted k-means over a user's history vectors → [(unit centroid, share of weight)], biggest first.

    One centroid per ~8 history items, at most ``max_k``; initialised deterministically (the newest item,
    then farthest points)."""
    n = len(vectors)
    if n == 0:
        return []
    k = max(1, min(max_k, n // 8))
    w = weights / weights.sum()
    if k == 1:
        c = (w[:, None] * vectors).sum(axis=0)
        return [(c / max(np.linalg.norm(c), 1e-12), 1.0)]
    centres = [vectors[-1]]
    for _ in range(1, k):
        sims = np.max(vectors @ np.array(centres).T, axis=1)
        centres.append(vectors[int(np.argmin(sims))])
    cm = np.array(centres)
    assign = np.zeros(n, dtype=np.int64)
    for _ in range(10):
        assign = np.argmax(vectors @ cm.T, axis=1)
        new = np.array([(w[assign == j, None] * vectors[assign == j]).sum(axis=0) if np.any(assign == j) else cm[j]
                        for j in range(k)])
        new /= np.maximum(np.linalg.norm(new, axis=1, keepdims=True), 1e-12)
        if np.allclose(new, cm):
            break
        cm = new
    shares = np.array([w[assign == j].sum() for j in range(k)])
    order = np.argsort(-shares, kind="stable")
    return [(cm[j], float(shares[j])) for j in order if shares[j] > 0]


class Recommender:
    """Ranks catalogue rows for a user history; every signal is optional."""

    def __init__(self, vectors: np.ndarray | None, popularity: np.ndarray, cf: ItemCF | None = None,
                 config: RecConfig | None = None, threads: int = 1) -> None:
        self.config = config or RecConfig()
        self.index = VectorIndex(vectors, threads) if vectors is not None else None
        self.popularity = popularity.astype(np.float64)
        self.cf = cf
        self._pop_order = np.argsort(-self.popularity, kind="stable")

    @property
    def n(self) -> int:
        return len(self.popularity)

    def user_interests(self, history: Sequence[int]) -> list[tuple[np.ndarray, float]]:
        if self.index is None or not history:
            return []
        recent = list(history)[-self.config.recent:]
        w = recency_weights(len(recent), self.config.half_life)
        return interests(self.index.vectors[recent], w, self.config.max_interests)

    def dense(self, history: Sequence[int], k: int, allowed: np.ndarray | None = None,
              exact: bool = False) -> list[tuple[int, float]]:
        """Best rows by the user's interest vectors (max over interests, each ANN-searched)."""
        cents = self.user_interests(history)
        if not cents or self.index is None:
            return []
        if allowed is not None:  # a restricted pool (e.g. cold notes): exact over it
            m = self.index.vectors[allowed] @ np.array([c for c, _ in cents]).T
            s = m.max(axis=1)
            order = np.argsort(-s, kind="stable")[:k]
            return [(int(allowed[i]), float(s[i])) for i in order]
        best: dict[int, float] = {}
        for c, share in cents:
            quota = max(k, int(round(self.config.candidates * share)))
            idx, sc = self.index.search(c, quota, exact=exact)
            for i, s in zip(idx.tolist(), sc.tolist()):
                if s > best.get(i, -2.0):
                    best[i] = s
        return sorted(best.items(), key=lambda x: -x[1])

    def item_cf(self, history: Sequence[int], k: int) -> list[tuple[int, float]]:
        if self.cf is None or not history:
            return []
        recent = list(history)[-self.config.recent:]
        s = self.cf.scores(recent, recency_weights(len(recent), self.config.half_life).tolist())
        nz = np.flatnonzero(s)
        if len(nz) == 0:
            return []
        top = nz[np.argsort(-s[nz], kind="stable")[:k]]
        return [(int(i), float(s[i])) for i in top]

    def recent_cf(self, history: Sequence[int], n: int) -> np.ndarray | None:
        """Item-CF scores of every row from the user's last ``n`` notes, equally weighted (None without CF)."""
        if self.cf is None or not history:
            return None
        last = list(history)[-n:]
        return self.cf.scores(last, [1.0] * len(last))

    def popular(self, k: int, seen: set[int]) -> list[tuple[int, float]]:
        out = []
        for i in self._pop_order:
            if self.popularity[i] <= 0:
                break
            if int(i) not in seen:
                out.append((int(i), float(self.popularity[i])))
                if len(out) >= k:
                    break
        return out

    def recommend(self, history: Sequence[int], k: int = 20, exclude: set[int] | None = None,
                  exact: bool = False) -> list[tuple[int, float, dict[str, int]]]:
        """[(row, fused score, {signal: rank})] best first; history rows and ``exclude`` never returned."""
        return self.fuse(self.candidates(history, exclude, exact), history, k, exclude)

    def candidates(self, history: Sequence[int], exclude: set[int] | None = None, exact: bool = False,
                   signals: Sequence[str] | None = None) -> dict[str, list[tuple[int, float]]]:
        """Each signal's ranked candidates (those with a weight > 0, or the named ``signals``): the costly half
        of ``recommend``, reusable across fusion weights (``fuse``)."""
        cfg = self.config
        seen = set(history) | (exclude or set())
        pool = cfg.candidates + len(seen)
        want = set(signals) if signals is not None else {
            n for n, w in (("dense", cfg.dense_weight), ("cf", cfg.cf_weight), ("pop", cfg.pop_weight)) if w > 0}
        sources: dict[str, list[tuple[int, float]]] = {}
        if "dense" in want:
            sources["dense"] = self.dense(history, pool, exact=exact)
        if "cf" in want:
            sources["cf"] = self.item_cf(history, pool)
        if "pop" in want:
            sources["pop"] = self.popular(cfg.candidates, seen)
        return sources

    def fuse(self, sources: dict[str, list[tuple[int, float]]], history: Sequence[int], k: int,
             exclude: set[int] | None = None,
             config: RecConfig | None = None) -> list[tuple[int, float, dict[str, int]]]:
        """Weighted reciprocal-rank fusion of ``candidates`` with this recommender's weights (or ``config``'s):
        signals weighted 0 take no part."""
        cfg = config or self.config
        seen = set(history) | (exclude or set())
        weights = {"dense": cfg.dense_weight, "cf": cfg.cf_weight, "pop": cfg.pop_weight}
        sources = {n: hits for n, hits in sources.items() if weights[n] > 0}
        fused: dict[int, float] = {}
        ranks: dict[int, dict[str, int]] = {}
        for name, hits in sources.items():
            r = 0
            for i, _ in hits:
                if i in seen:
                    continue
                r += 1
                if r > cfg.candidates:
                    break
                fused[i] = fused.get(i, 0.0) + weights[name] / (cfg.rrf_k + r)
                ranks.setdefault(i, {})[name] = r
        # A note nobody has engaged with yet has no collaborative or popularity signal: those are unknown, not
        # zero, so its fused score is renormalised over the signals it can have (dense only). Without this a
        # fresh note could never outrank an old one and cold start would only be nominal.
        total = sum(weights[s] for s in sources)
        if "dense" in sources and total > cfg.dense_weight > 0:
            for i in fused:
                if self.popularity[i] <= 0:
                    fused[i] *= total / cfg.dense_weight
        order = sorted(fused.items(), key=lambda x: (-x[1], x[0]))[:k]
        return [(i, s, ranks[i]) for i, s in order]


def novelty(items: Sequence[int], popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information −log2(p) of the items, p = share of users who engaged with each."""
    if not items:
        return 0.0
    p = np.maximum(popularity[list(items)], 1.0) / max(n_users, 1)
    return float(np.mean(-np.log2(np.minimum(p, 1.0))))


def intra_list_diversity(items: Sequence[int], vectors: np.ndarray) -> float:
    """1 − mean pairwise cosine of the list's item vectors."""
    if len(items) < 2:
        return 0.0
    v = vectors[list(items)]
    s = v @ v.T
    n = len(items)
    return float(1.0 - (s.sum() - np.trace(s)) / (n * (n - 1)))


def log_popularity(counts: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.log1p(counts) / math.log1p(max(float(counts.max(initial=0)), 1.0))
    return out
