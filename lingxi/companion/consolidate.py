"""Turning new conversation turns into memories: batched per session, incremental, off the reply path.

``consolidate`` reads the turns after the extraction watermark, groups them by session, and extracts from each
window that is due — a session that is over (a later one has begun, or nothing was said for ``session_gap``),
or one that has piled up ``batch_turns`` turns — in one LLM call. New memories then meet the stored ones:
near-identical ones merge at once; similar ones go to one judging call per window (same / update /
different), and an update supersedes what it replaces, which stays as history. The watermark moves in the same
transaction as the writes, so every turn is read exactly once and a failed call loses nothing.

``MemoryWorker`` runs this in a background thread, with its own chat model where one is given, so a reply never
waits for memory work."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lingxi.companion.extract import Turn, extract, prompt, reflect
from lingxi.companion.memory import MemoryStore
from lingxi.errors import LingxiError
from lingxi.llm.chat import ChatModel

JUDGEMENTS = ("same", "update", "different")


@dataclass
class ConsolidationConfig:
    batch_turns: int = 24  # pending turns that make a window due while its session goes on (one LLM call each)
    session_gap_hours: float = 3.0  # silence after which a session counts as over
    context_turns: int = 2  # already-read turns shown before a window, so replies can be understood
    max_items: int = 8
    duplicate_similarity: float = 0.985  # cosine at or over which a new memory is the stored one said again
    judge_similarity: float = 0.90  # cosine at or over which the model judges same / update / different
    judge: bool = True  # off: only near-identical memories merge, nothing is superseded by judgement
    reflect_threshold: int = 40  # summed importance of new memories that triggers a reflection


@dataclass
class Report:
    """What one consolidation did, for the caller's log and the benchmark."""

    windows: int = 0
    turns: int = 0
    llm_calls: int = 0
    seconds: float = 0.0
    added: int = 0
    merged: int = 0
    superseded: int = 0
    errors: list[str] = field(default_factory=list)

    def __iadd__(self, o: Report) -> Report:
        for k in ("windows", "turns", "llm_calls", "seconds", "added", "merged", "superseded"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.errors += o.errors
        return self


def due_windows(store: MemoryStore, now: float, cfg: ConsolidationConfig, force: bool = False
                ) -> list[list[tuple[int, str, str, str, float]]]:
    """The pending turns to extract now, as windows of at most ``batch_turns`` turns of one session each."""
    rows = store.pending_turns()
    sessions: dict[str, list[tuple[int, str, str, str, float]]] = {}
    for r in rows:
        sessions.setdefault(r[1], []).append(r)
    names = list(sessions)
    out = []
    for i, name in enumerate(names):
        part = sessions[name]
        over = force or i < len(names) - 1 or now - part[-1][4] >= cfg.session_gap_hours * 3600
        full = len(part) // cfg.batch_turns * cfg.batch_turns
        take = len(part) if over else full
        out += [part[j:j + cfg.batch_turns] for j in range(0, take, cfg.batch_turns)]
    return out


def consolidate(store: MemoryStore, chat: ChatModel, now: datetime, companion: str,
                cfg: ConsolidationConfig | None = None, force: bool = False) -> Report:
    """Extract and merge every due window (all pending turns with ``force``)."""
    cfg = cfg or ConsolidationConfig()
    rep = Report()
    ts_now = now.replace(tzinfo=UTC).timestamp()
    for window in due_windows(store, ts_now, cfg, force):
        t0 = time.perf_counter()
        calls0 = chat.calls
        try:
            written = _window(store, chat, window, companion, cfg, rep)
            rep.windows += 1
            rep.turns += len(window)
            if cfg.reflect_threshold and written:
                _maybe_reflect(store, chat, window[-1][4], cfg)
        except LingxiError as e:  # the window stays pending and is read again next time
            rep.errors.append(str(e))
            break
        finally:
            rep.llm_calls += chat.calls - calls0
            rep.seconds += time.perf_counter() - t0
    return rep


def _speaker(s: str, companion: str) -> str:
    return "the user" if s == "user" else s


def _window(store: MemoryStore, chat: ChatModel, window: list[tuple[int, str, str, str, float]], companion: str,
            cfg: ConsolidationConfig, rep: Report) -> int:
    when = datetime.fromtimestamp(window[0][4], UTC).replace(tzinfo=None)
    turns = [Turn(f"T{r[0]}", _speaker(r[2], companion), r[3]) for r in window]
    context = [Turn(f"T{r[0]}", _speaker(r[1], companion), r[2])
               for r in store.turns_before(window[0][0], cfg.context_turns)]
    items = extract(chat, turns, when, cfg.max_items, user="the user", companion=companion, context=context)
    ts = window[-1][4]
    items = [{**it, "ts": ts} for it in items]
    vectors = store.embed([it["text"] for it in items], "passage") if store.embed is not None and items else None
    items, vectors = merge(store, chat, items, vectors, cfg)
    results = store.add_many(items, vectors, extracted_through=window[-1][0])
    for _, status in results:
        if status == "duplicate":
            rep.merged += 1
        else:
            rep.added += 1
            rep.superseded += status == "superseded"
    return sum(1 for _, s in results if s != "duplicate")


def merge(store: MemoryStore, chat: ChatModel | None, items: list[dict[str, Any]], vectors: np.ndarray | None,
          cfg: ConsolidationConfig) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """Mark each new item ``duplicate_of`` or ``supersedes`` a stored memory of the same subject: at
    ``duplicate_similarity`` and above without asking; between ``judge_similarity`` and that, as the model
    judges (one call for the whole window). Paraphrases inside the window merge into the first one."""
    if vectors is None or not items:
        return items, vectors
    keep: list[int] = []
    for i, it in enumerate(items):  # within the window
        twin = next((j for j in keep if items[j]["subject"] == it["subject"]
                     and float(vectors[i] @ vectors[j]) >= cfg.duplicate_similarity), None)
        if twin is None:
            keep.append(i)
        else:
            items[twin]["turns"] = list(dict.fromkeys(items[twin]["turns"] + it["turns"]))
    items, vectors = [items[i] for i in keep], vectors[keep]
    pairs: list[tuple[int, Any]] = []
    for i, it in enumerate(items):
        near = store.similar(vectors[i], k=1, subject=it["subject"], min_similarity=cfg.judge_similarity)
        if not near:
            continue
        old, sim = near[0]
        if sim >= cfg.duplicate_similarity:
            it["duplicate_of"] = old.id
        elif cfg.judge and chat is not None:
            pairs.append((i, old))
    if pairs and chat is not None:
        listing = "\n".join(f"{n}. OLD: {old.text}\n   NEW: {items[i]['text']}" for n, (i, old) in enumerate(pairs, 1))
        schema = {"type": "object", "properties": {"judgements": {
            "type": "array", "minItems": len(pairs), "maxItems": len(pairs),
            "items": {"type": "string", "enum": list(JUDGEMENTS)}}}, "required": ["judgements"]}
        reply = chat.complete_json([{"role": "user", "content": prompt("merge").format(pairs=listing)}], schema,
                                   max_tokens=8 * len(pairs) + 30)
        for (i, old), verdict in zip(pairs, reply.get("judgements", [])):
            if verdict == "same":
                items[i]["duplicate_of"] = old.id
            elif verdict == "update":
                items[i]["supersedes"] = [old.id]
                items[i]["reason"] = f"updated by a later conversation (was: {old.text})"
    return items, vectors


def _maybe_reflect(store: MemoryStore, chat: ChatModel, ts: float, cfg: ConsolidationConfig) -> None:
    active = store.entries(readable=True)
    last_ref = max((m.id for m in active if m.kind == "reflection"), default=0)
    fresh = [m for m in active if m.id > last_ref and m.kind != "reflection" and m.subject == "user"]
    if sum(m.importance for m in fresh) < cfg.reflect_threshold:
        return
    insights = reflect(chat, "the user", fresh[-20:])
    store.add_many([{**i, "ts": ts, "lang": fresh[-1].lang} for i in insights])


class MemoryWorker:
    """One background thread that consolidates users' memories while the companion talks.

    ``submit`` returns at once; ``flush`` waits until everything submitted is done (a CLI calls it before
    exiting). Errors are kept on ``reports``, never raised into the reply path."""

    def __init__(self, run: Callable[[str, datetime, bool], Report]) -> None:
        self._run = run
        self._q: queue.Queue[tuple[str, datetime, bool] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.reports: list[Report] = []
        self._lock = threading.Lock()

    def submit(self, user: str, now: datetime, force: bool = False) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="lingxi-memory", daemon=True)
                self._thread.start()
        self._q.put((user, now, force))

    def _loop(self) -> None:
        while True:
            job = self._q.get()
            try:
                if job is None:
                    return
                try:
                    self.reports.append(self._run(*job))
                except Exception as e:  # a background failure is reported on the next reply, not lost
                    self.reports.append(Report(errors=[f"{type(e).__name__}: {e}"]))
            finally:
                self._q.task_done()

    def flush(self) -> None:
        """Wait until every submitted job has run."""
        self._q.join()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
