"""The embedded retrieval index: SQLite FTS5 over jieba tokens (BM25) and chunk vectors, in the store's database.

Both are written inside the same transaction as the notes they index, so the
lexical index can never disagree with the store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from lingxi.index.filters import Filters
from lingxi.index.phonetic import phonetic_tokens
from lingxi.index.tokenize import tokenize
from lingxi.index.vectors import VectorSearch
from lingxi.types import Note

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(tokens, tokenize='unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS chunk_vectors (
    label INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_id TEXT NOT NULL UNIQUE REFERENCES chunks(id) ON DELETE CASCADE,
    vec BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS embed_cache (
    hash TEXT NOT NULL,
    model TEXT NOT NULL,
    vec BLOB NOT NULL,
    PRIMARY KEY (hash, model)
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    DELETE FROM chunk_fts WHERE rowid = old.rowid;
END;
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_phonetic USING fts5(tokens, tokenize='unicode61');
CREATE TRIGGER IF NOT EXISTS chunks_phonetic_delete AFTER DELETE ON chunks BEGIN
    DELETE FROM chunk_phonetic WHERE rowid = old.rowid;
END;
"""
# Note kinds whose chunks also get a phonetic index (lingxi.index.phonetic): text written by a speech recogniser.
PHONETIC_KINDS = ("transcript", "srt", "vtt", "audio", "video")


def index_text(note: Note, chunk_text: str) -> str:
    """What a chunk is indexed as: its note's title gives short chunks (chapters, cues) their context."""
    return f"{note.title}\n{chunk_text}"


def _varint(b: bytes) -> int:
    """SQLite's varint (big-endian, 7 bits a byte, the 9th byte whole), as FTS5 writes it."""
    v = 0
    for i, byte in enumerate(b[:9]):
        if i == 8:
            return (v << 8) | byte
        v = (v << 7) | (byte & 0x7F)
        if byte < 0x80:
            return v
    raise ValueError("truncated varint")


def fts_row_count(conn: sqlite3.Connection) -> int:
    """How many chunks the FTS5 index holds, read from its totals record (O(1); ``count(*)`` scans, ~10 ms at 100k
    chunks)."""
    try:
        row = conn.execute("SELECT block FROM chunk_fts_data WHERE id=1").fetchone()
        return _varint(row[0]) if row and row[0] else 0
    except (sqlite3.Error, ValueError, IndexError):
        return int(conn.execute("SELECT count(*) FROM chunk_fts").fetchone()[0])


def fts_query(tokens: Iterable[str]) -> str:
    uniq = list(dict.fromkeys(t.replace('"', '""') for t in tokens if t.strip()))
    return " OR ".join(f'"{t}"' for t in uniq)


class EmbeddedIndex:
    name = "embedded"

    def __init__(self, home: Path, dim: int, exact_threshold: int = 20000, threads: int = 1,
                 budget: float = 0.0, prune_from: int = 0, phonetic_kinds: tuple[str, ...] = PHONETIC_KINDS) -> None:
        self.vectors = VectorSearch(dim, home / "vectors.hnsw", exact_threshold=exact_threshold, threads=threads)
        self.phonetic_kinds = frozenset(phonetic_kinds)
        self.budget = budget
        self.prune_from = prune_from
        self._df: dict[str, int] = {}  # term → chunks holding it, valid while the index holds _df_rows chunks
        self._df_rows = -1

    @staticmethod
    def ensure_schema(conn: sqlite3.Connection) -> None:
        conn.executescript(SCHEMA)

    # --- writes (inside the caller's transaction) --------------------------
    def add(self, conn: sqlite3.Connection, notes: list[Note], vectors: dict[str, np.ndarray] | None) -> None:
        for note in notes:
            for c in note.chunks:
                rowid = conn.execute("SELECT rowid FROM chunks WHERE id=?", (c.id,)).fetchone()[0]
                conn.execute("INSERT INTO chunk_fts(rowid, tokens) VALUES (?, ?)",
                             (rowid, " ".join(tokenize(index_text(note, c.text)))))
                if note.kind in self.phonetic_kinds:
                    sounds = phonetic_tokens(c.text)
                    if sounds:
                        conn.execute("INSERT INTO chunk_phonetic(rowid, tokens) VALUES (?, ?)", (rowid, " ".join(sounds)))
                if vectors is not None and c.id in vectors:
                    conn.execute("INSERT INTO chunk_vectors(chunk_id, vec) VALUES (?, ?)",
                                 (c.id, vectors[c.id].astype(np.float32).tobytes()))

    def clear(self, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM chunk_fts")
        conn.execute("DELETE FROM chunk_phonetic")
        conn.execute("DELETE FROM chunk_vectors")
        self.vectors.reset()

    # --- reads ---------------------------------------------------------------
    def query_terms(self, conn: sqlite3.Connection, tokens: list[str]) -> list[str]:
        """The query's distinct terms, pruned to a posting budget once the index holds at least ``prune_from``
        chunks: FTS5 scores every chunk that holds any query term, so a query costs the summed length of its
        terms' posting lists. While that sum exceeds ``budget`` × chunks, the most common term is dropped (its IDF
        adds the least to the ranking); the rarest term always stays. Measured in docs/BENCHMARKS.md, "BM25
        query-term pruning". ``budget`` 0 keeps every term."""
        uniq = list(dict.fromkeys(t for t in tokens if t.strip()))
        if self.budget <= 0 or len(uniq) < 2:
            return uniq
        n = fts_row_count(conn)
        if n < max(self.prune_from, 1):
            return uniq
        if n != self._df_rows or len(self._df) > 100_000:
            # A cached document frequency stays while the chunk count does; it only decides which terms to skip.
            self._df, self._df_rows = {}, n
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunk_fts_vocab USING fts5vocab(main, 'chunk_fts', 'row')")
        for t in uniq:
            if t not in self._df:
                row = conn.execute("SELECT doc FROM temp.chunk_fts_vocab WHERE term=?", (t,)).fetchone()
                self._df[t] = int(row[0]) if row else 0
        keep = sorted(uniq, key=lambda t: self._df[t])  # rarest first; drop the most common while over budget
        budget = self.budget * n
        total = sum(self._df[t] for t in keep)
        while len(keep) > 1 and total > budget:
            total -= self._df[keep.pop()]
        kept = set(keep)
        return [t for t in uniq if t in kept]

    def lexical(self, conn: sqlite3.Connection, tokens: list[str], k: int, filters: Filters) -> list[tuple[str, float]]:
        expr = fts_query(self.query_terms(conn, tokens))
        if not expr:
            return []
        if not filters:
            # Rank inside FTS5 first and join only the top k: joining every matching row before sorting made
            # a common query term cost a join per matching chunk (tens of ms at 100k chunks).
            sql = (
                "SELECT c.id, t.s FROM (SELECT rowid, bm25(chunk_fts) AS s FROM chunk_fts WHERE chunk_fts MATCH ?"
                " ORDER BY s, rowid LIMIT ?) t JOIN chunks c ON c.rowid = t.rowid ORDER BY t.s, t.rowid"
            )
            return [(cid, -float(s)) for cid, s in conn.execute(sql, [expr, k])]
        where, args = filters.sql("n")
        sql = (
            "SELECT c.id, bm25(chunk_fts) AS s FROM chunk_fts JOIN chunks c ON c.rowid = chunk_fts.rowid"
            f" JOIN notes n ON n.id = c.note_id WHERE chunk_fts MATCH ? AND {where} ORDER BY s, c.rowid LIMIT ?"
        )
        return [(cid, -float(s)) for cid, s in conn.execute(sql, [expr, *args, k])]

    def phonetic(self, conn: sqlite3.Connection, tokens: list[str], k: int,
                 filters: Filters) -> list[tuple[str, float]]:
        """BM25 over the phonetic index (only chunks of ``phonetic_kinds`` notes are in it); ``tokens`` from
        ``phonetic_tokens`` of the query."""
        expr = fts_query(tokens)
        if not expr:
            return []
        where, args = filters.sql("n") if filters else ("", [])
        sql = (
            "SELECT c.id, bm25(chunk_phonetic) AS s FROM chunk_phonetic JOIN chunks c ON c.rowid = chunk_phonetic.rowid"
            + (" JOIN notes n ON n.id = c.note_id" if where else "")
            + " WHERE chunk_phonetic MATCH ?" + (f" AND {where}" if where else "") + " ORDER BY s, c.rowid LIMIT ?"
        )
        return [(cid, -float(s)) for cid, s in conn.execute(sql, [expr, *args, k])]

    def dense(self, conn: sqlite3.Connection, query: np.ndarray, k: int, filters: Filters) -> list[tuple[str, float]]:
        self.vectors.sync(conn)
        allowed = None
        if filters:
            where, args = filters.sql("n")
            allowed = {
                r[0]
                for r in conn.execute(
                    "SELECT v.label FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id"
                    f" JOIN notes n ON n.id = c.note_id WHERE {where}",
                    args,
                )
            }
        hits = self.vectors.search(query, k, allowed)
        return self._label_ids(conn, hits)

    def dense_exact(self, conn: sqlite3.Connection, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        self.vectors.sync(conn)
        return self._label_ids(conn, self.vectors.exact(query, k))

    @staticmethod
    def vectors_of(conn: sqlite3.Connection, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these chunks (chunks without one are left out)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = conn.execute(f"SELECT chunk_id, vec FROM chunk_vectors WHERE chunk_id IN ({marks})", chunk_ids)
        return {cid: np.frombuffer(blob, dtype=np.float32) for cid, blob in rows}

    @staticmethod
    def _label_ids(conn: sqlite3.Connection, hits: list[tuple[int, float]]) -> list[tuple[str, float]]:
        if not hits:
            return []
        marks = ",".join("?" * len(hits))
        ids = dict(conn.execute(f"SELECT label, chunk_id FROM chunk_vectors WHERE label IN ({marks})",
                                [h[0] for h in hits]).fetchall())
        return [(ids[label], score) for label, score in hits if label in ids]


def cached_vectors(
    conn: sqlite3.Connection, model: str, texts: dict[str, str], embed: Callable[[list[str]], np.ndarray], dim: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Vectors for ``texts`` (key → text), reusing the embedding cache by content hash.

    Returns (vectors by key, new cache entries by hash) so the caller writes the cache in its transaction."""
    from lingxi.index.store import content_hash

    hashes = {key: content_hash(t) for key, t in texts.items()}
    found: dict[str, np.ndarray] = {}
    uniq = list(dict.fromkeys(hashes.values()))
    for i in range(0, len(uniq), 500):
        part = uniq[i : i + 500]
        for h, blob in conn.execute(
            f"SELECT hash, vec FROM embed_cache WHERE model=? AND hash IN ({','.join('?' * len(part))})", [model, *part]
        ):
            found[h] = np.frombuffer(blob, dtype=np.float32)
    missing = [h for h in uniq if h not in found]
    fresh: dict[str, np.ndarray] = {}
    if missing:
        by_hash = {hashes[k]: texts[k] for k in texts}
        vecs = embed([by_hash[h] for h in missing])
        for h, v in zip(missing, vecs):
            fresh[h] = v.astype(np.float32)
    allv = {**found, **fresh}
    return {k: allv[h] for k, h in hashes.items() if allv[h].shape == (dim,)}, fresh
