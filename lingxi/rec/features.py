"""Frozen note features for the encoder: the bundled embedder's vector and the LLM compression vector.

Both are cached by content hash and model name in the ``embed_cache`` table (the store's own, or a
standalone cache file for evaluations), so a note is never featurised twice."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lingxi.index.embedded import cached_vectors
from lingxi.llm.embedder import Embedder
from lingxi.llm.hidden import LocalHiddenState
from lingxi.prompting import load_prompt

PROMPTS = Path(__file__).parent / "prompts"
COMPRESS_PROMPT_VERSION = "c1"
MAX_CONTENT_CHARS = 600

Progress = Callable[[int, int], None]


def prompt(name: str) -> str:
    return load_prompt(PROMPTS, name)


@dataclass(frozen=True)
class Item:
    """What the encoder sees of a note: its text only (no ids, no engagement)."""

    id: str
    title: str
    text: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def passage(self) -> str:
        tags = " ".join(f"#{t}" for t in self.tags)
        return f"{self.title}\n{tags}\n{self.text[:MAX_CONTENT_CHARS]}".strip()

    def compress_prompt(self) -> str:
        return prompt("compress").format(title=self.title, tags=", ".join(self.tags) or "-",
                                         content=self.text[:MAX_CONTENT_CHARS] or "-")


def open_cache(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    ensure_cache(conn)
    return conn


def ensure_cache(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS embed_cache (hash TEXT NOT NULL, model TEXT NOT NULL, vec BLOB NOT NULL,"
                 " PRIMARY KEY (hash, model))")


def _cached(conn: sqlite3.Connection, model: str, texts: list[str], embed: Callable[[list[str]], np.ndarray],
            dim: int) -> np.ndarray:
    keys = {str(i): t for i, t in enumerate(texts)}
    found, fresh = cached_vectors(conn, model, keys, embed, dim)
    if fresh:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO embed_cache(hash, model, vec) VALUES (?,?,?)",
                             [(h, model, v.astype(np.float32).tobytes()) for h, v in fresh.items()])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    if len(found) != len(texts):
        raise ValueError(f"{model}: cached vectors have the wrong width")
    return np.vstack([found[str(i)] for i in range(len(texts))]) if texts else np.zeros((0, dim), np.float32)


def zero_shot(conn: sqlite3.Connection, embedder: Embedder, items: Sequence[Item],
              progress: Progress | None = None) -> np.ndarray:
    """The bundled embedder over title + tags + content (e5 'passage' role)."""
    return _cached(conn, embedder.name, [it.passage() for it in items],
                   lambda t: embedder.embed(t, "passage", progress), embedder.dim)


def llm_compression(conn: sqlite3.Connection, model: LocalHiddenState, items: Sequence[Item],
                    progress: Progress | None = None) -> np.ndarray:
    """The last hidden state after 'compress this note into one word' (NoteLLM), L2-normalised."""
    name = f"{model.name}/{COMPRESS_PROMPT_VERSION}"
    prompts = [model.chat_prefix(it.compress_prompt(), 'The one word is: "') for it in items]
    out = []
    for i in range(0, len(prompts), 100):  # cached per block: an interrupted run keeps what it computed
        def run(texts: list[str], offset: int = i) -> np.ndarray:
            def shown(done: int, total: int) -> None:
                if progress:
                    progress(offset + done, len(prompts))
            return model.embed(texts, shown)

        out.append(_cached(conn, name, prompts[i:i + 100], run, model.dim))
    return np.vstack(out) if out else np.zeros((0, model.dim), np.float32)


def combine(blocks: list[np.ndarray]) -> np.ndarray:
    """Concatenate feature blocks; each is unit-length per row so none dominates by scale."""
    out = []
    for b in blocks:
        n = np.linalg.norm(b, axis=1, keepdims=True)
        out.append(b / np.maximum(n, 1e-12))
    return np.hstack(out).astype(np.float32)
