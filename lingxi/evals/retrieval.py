"""Retrieval evaluation: bm25, dense and hybrid from lingxi, plus the peer bm25s on the same tokens.

Datasets are pooled into one corpus (each passage a note) and ingested through the
normal Library path, so the numbers measure exactly what `lingxi search` does.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lingxi.config import FUSIONS, Settings
from lingxi.errors import BadInput
from lingxi.index.tokenize import tokenize
from lingxi.library import Library


@dataclass(frozen=True)
class RetrievalSet:
    name: str
    passages: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: list[tuple[str, str, set[str]]]  # (qid, text, relevant passage ids)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise BadInput(f"{path}: line {n}: not valid JSON ({e.msg})") from e
    return rows


def load_rgb(path: Path, limit: int | None = None) -> RetrievalSet:
    """RGB (`{"query", "positive": [...], "negative": [...]}` per line): all passages pooled; positives relevant."""
    ids: dict[str, str] = {}
    queries: list[tuple[str, str, set[str]]] = []

    def flat(xs: list[Any]) -> list[str]:
        return [x for p in xs for x in (p if isinstance(p, list) else [p])]

    for row in _read_jsonl(path)[:limit]:
        try:
            pos, neg, q = row["positive"], row["negative"], row["query"]
        except KeyError as e:
            raise BadInput(f"{path}: row {row.get('id')!r} lacks field {e}") from e
        for text in flat(pos) + flat(neg):
            ids.setdefault(text, f"p{len(ids)}")
        rel = {ids[t] for t in flat(pos)}
        if rel:
            queries.append((str(row.get("id", len(queries))), q, rel))
    return RetrievalSet(path.name, {pid: ("", t) for t, pid in ids.items()}, queries)


def load_hotpotqa(path: Path, limit: int | None = None) -> RetrievalSet:
    """HotpotQA with contexts (`question_text`, `contexts: [{title, paragraph_text, is_supporting}]`)."""
    ids: dict[tuple[str, str], str] = {}
    queries = []
    for row in _read_jsonl(path)[:limit]:
        rel = set()
        for c in row["contexts"]:
            key = (c["title"], c["paragraph_text"])
            pid = ids.setdefault(key, f"p{len(ids)}")
            if c.get("is_supporting"):
                rel.add(pid)
        queries.append((row["question_id"], row["question_text"], rel))
    return RetrievalSet(path.name, {pid: key for key, pid in ids.items()}, queries)


def ndcg(ranked: list[str], rel: set[str], k: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in rel)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return dcg / ideal if ideal else 0.0


def _rr(ranked: list[str], rel: set[str]) -> float:
    return next((1 / (i + 1) for i, d in enumerate(ranked) if d in rel), 0.0)


def score_run(runs: list[tuple[list[str], set[str]]], latencies: list[float]) -> dict[str, float]:
    def mean(f: Callable[[list[str], set[str]], float]) -> float:
        return round(statistics.fmean(f(r, rel) for r, rel in runs), 4)

    return {
        "ndcg@10": mean(lambda r, rel: ndcg(r, rel, 10)),
        "recall@10": mean(lambda r, rel: len(set(r[:10]) & rel) / len(rel)),
        "recall@50": mean(lambda r, rel: len(set(r[:50]) & rel) / len(rel)),
        "mrr": mean(_rr),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
    }


def evaluate(data: RetrievalSet, settings: Settings | None = None, progress: Callable[[str], None] | None = None,
             with_bm25s: bool = True, store: Path | None = None) -> dict[str, Any]:
    """``store``: a folder that keeps the evaluation's store, so a rerun (other fusion weights, say) neither
    re-parses nor re-embeds the corpus. Without it the store lives in a temporary folder."""
    say = progress or (lambda s: None)
    with tempfile.TemporaryDirectory(prefix="lingxi-eval-") as tmp:
        home = store or Path(tmp) / "home"
        home.mkdir(parents=True, exist_ok=True)
        base = settings or Settings.load(home)
        s = Settings(**{**base.__dict__, "home": home.resolve()})
        lib = Library(s)
        lib.embed_progress = lambda d, n: say(f"embedded {d}/{n}") if d == n or d % 500 < 16 else None
        corpus = home / "corpus.jsonl"
        with corpus.open("w", encoding="utf-8") as f:
            for pid, (title, text) in data.passages.items():
                f.write(json.dumps({"id": pid, "title": title or text[:30], "text": text}, ensure_ascii=False) + "\n")
        say(f"ingesting {len(data.passages)} passages into {home} (embedding takes a while on CPU; reruns reuse it)")
        t0 = time.perf_counter()
        [rep] = lib.ingest([corpus])
        if rep.status not in ("ingested", "unchanged"):
            raise BadInput(f"corpus failed to ingest: {rep.reason}")
        build_s = time.perf_counter() - t0
        rows = []
        # hybrid once per fusion, the configured one first: same store, same queries, one run
        fusions = [s.fusion] + [f for f in FUSIONS if f != s.fusion]
        fb = s.feedback_weight
        # (mode, fusion, feedback weight): the configured hybrid first, then the other fusion, then the
        # configured fusion without (or, when it is off, with) pseudo-relevance feedback
        runs_spec = [("bm25", s.fusion, fb), ("dense", s.fusion, fb)] + [("hybrid", f, fb) for f in fusions] + \
            [("hybrid", s.fusion, 0.0 if fb > 0 else 1.0)]
        for mode, fusion, feedback in runs_spec:
            say(f"querying {mode}" + (f" ({fusion} fusion, feedback {feedback:g})" if mode == "hybrid" else ""))
            searcher = lib.searcher()
            searcher.weights = replace(searcher.weights, method=fusion, feedback=feedback)
            runs, lat = [], []
            for _, q, rel in data.queries:
                t = time.perf_counter()
                hits = searcher.search(q[:4000], k=50, mode=mode)
                lat.append(time.perf_counter() - t)
                runs.append(([h.chunk.note_id for h in hits], rel))
            name = f"lingxi-{mode}"
            if mode == "hybrid" and fusion != s.fusion:
                name += f"-{fusion}"
            if mode == "hybrid" and feedback != fb:
                name += f"-{fusion}-" + ("nofeedback" if feedback == 0 else "feedback")
            rows.append({"system": name, "metrics": score_run(runs, lat)})
        lib.close()
    if with_bm25s:
        rows.append({"system": "bm25s (same jieba tokens)", "metrics": _bm25s_row(data)})
    return {
        "dataset": data.name,
        "rows": rows,
        "config": {"passages": len(data.passages), "queries": len(data.queries), "embedder": s.embedder,
                   "fusion": {"method": s.fusion, "lexical": s.lexical_weight, "dense": s.dense_weight, "k": 60,
                              "feedback": fb},
                   "ingest_seconds": round(build_s, 1)},
    }


def _bm25s_row(data: RetrievalSet) -> dict[str, float]:
    import bm25s

    pids = list(data.passages)
    from lingxi.index.embedded import index_text
    from lingxi.types import Note

    docs = []
    for pid in pids:
        title, text = data.passages[pid]
        note = Note(id=pid, title=title or text[:30], kind="jsonl", source="", body=text, chunks=())
        docs.append(tokenize(index_text(note, text)) or ["-"])
    retriever = bm25s.BM25()
    retriever.index(docs, show_progress=False)
    runs, lat = [], []
    for _, q, rel in data.queries:
        t = time.perf_counter()
        toks = tokenize(q) or ["-"]
        res, _ = retriever.retrieve([toks], k=min(50, len(pids)), show_progress=False)
        lat.append(time.perf_counter() - t)
        runs.append(([pids[i] for i in res[0]], rel))
    return score_run(runs, lat)
