"""Nearest-neighbour search over the chunk vectors held in SQLite.

SQLite is the source of truth (vectors are written in the notes' transaction); the
HNSW graph (hnswlib, chosen on measurements in the retrieval issue) is a derived
file beside the store that catches up incrementally: new labels are added, labels
gone from SQLite are marked deleted. Below ``exact_threshold`` vectors, or when a
filter restricts the candidates, search is exact (a matrix product).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


class VectorSearch:
    def __init__(self, dim: int, path: Path, exact_threshold: int = 20000, threads: int = 1) -> None:
        self.dim = dim
        self.path = path
        self.exact_threshold = exact_threshold
        self.threads = threads
        self._lock = threading.Lock()
        self._state: tuple[int, int] = (-1, -1)  # (max label, count) the in-memory copy reflects
        self._stamp: tuple[int, int] = (-1, -1)  # (total_changes, data_version) at the last sync
        self._labels = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._hnsw: Any = None
        self._hnsw_labels: set[int] = set()

    # --- sync ----------------------------------------------------------------
    def sync(self, conn: sqlite3.Connection) -> None:
        # O(1) freshness check first: nothing committed by this connection (total_changes) or by any other
        # (data_version) since the last sync means the in-memory copy is current. Only after a write does
        # the COUNT(*) below run, so a query does not scan the vector table.
        stamp = (conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0])
        if stamp == self._stamp:
            return
        row = conn.execute("SELECT COALESCE(MAX(label), 0), COUNT(*) FROM chunk_vectors").fetchone()
        self._stamp = stamp
        state = (int(row[0]), int(row[1]))
        with self._lock:
            if state == self._state:
                return
            labels, blobs = [], []
            for label, blob in conn.execute("SELECT label, vec FROM chunk_vectors ORDER BY label"):
                labels.append(label)
                blobs.append(blob)
            self._labels = np.asarray(labels, dtype=np.int64)
            self._matrix = (
                np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, self.dim).copy()
                if blobs
                else np.zeros((0, self.dim), dtype=np.float32)
            )
            if len(labels) >= self.exact_threshold:
                self._sync_hnsw()
            self._state = state

    def _sync_hnsw(self) -> None:
        import hnswlib

        meta_path = self.path.with_suffix(".json")
        if self._hnsw is None and self.path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("dim") == self.dim:
                index = hnswlib.Index(space="ip", dim=self.dim)
                index.load_index(str(self.path), max_elements=max(meta["capacity"], 1))
                self._hnsw = index
                self._hnsw_labels = set(int(x) for x in index.get_ids_list()) - set(meta.get("deleted", []))
        if self._hnsw is None:
            index = hnswlib.Index(space="ip", dim=self.dim)
            index.init_index(max_elements=max(1024, int(len(self._labels) * 1.25)), M=HNSW_M,
                             ef_construction=HNSW_EF_CONSTRUCTION, allow_replace_deleted=False)
            self._hnsw = index
            self._hnsw_labels = set()
        index = self._hnsw
        index.set_num_threads(self.threads)
        current = set(self._labels.tolist())
        gone = self._hnsw_labels - current
        for label in gone:
            index.mark_deleted(label)
        new_mask = np.fromiter((lb not in self._hnsw_labels for lb in self._labels.tolist()), dtype=bool,
                               count=len(self._labels))
        if new_mask.any():
            need = index.get_current_count() + int(new_mask.sum())
            if need > index.get_max_elements():
                index.resize_index(int(need * 1.25))
            index.add_items(self._matrix[new_mask], self._labels[new_mask])
        self._hnsw_labels = current
        deleted = sorted(set(int(x) for x in index.get_ids_list()) - current)
        index.save_index(str(self.path))
        self.path.with_suffix(".json").write_text(
            json.dumps({"dim": self.dim, "capacity": index.get_max_elements(), "deleted": deleted})
        )

    def reset(self) -> None:
        with self._lock:
            self._hnsw = None
            self._hnsw_labels = set()
            self._state = (-1, -1)
            self._stamp = (-1, -1)
            for p in (self.path, self.path.with_suffix(".json")):
                p.unlink(missing_ok=True)

    # --- search --------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (label, cosine) pairs. ``allowed`` restricts the candidates (exact search)."""
        with self._lock:
            labels, matrix = self._labels, self._matrix
            if len(labels) == 0 or k <= 0:
                return []
            if allowed is not None:
                mask = np.fromiter((lb in allowed for lb in labels.tolist()), dtype=bool, count=len(labels))
                labels, matrix = labels[mask], matrix[mask]
                return _exact(labels, matrix, query, k)
            if self._hnsw is not None and len(labels) >= self.exact_threshold:
                n = min(k, len(self._hnsw_labels))
                self._hnsw.set_ef(max(HNSW_EF_SEARCH, n))
                ids, dists = self._hnsw.knn_query(query.reshape(1, -1), k=n)
                return [(int(i), float(1.0 - d)) for i, d in zip(ids[0], dists[0])]
            return _exact(labels, matrix, query, k)

    def exact(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self._lock:
            return _exact(self._labels, self._matrix, query, k)


def _exact(labels: np.ndarray, matrix: np.ndarray, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    if len(labels) == 0:
        return []
    scores = matrix @ query.astype(np.float32)
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(labels[i]), float(scores[i])) for i in top]
