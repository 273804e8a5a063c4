"""Retrieval latency and scale: build time, p50/p95 query latency (query embedding included), RAM,
ANN recall@10 against exact search measured in the same run.

Chunks are generated from real text: passages from the given files (HotpotQA paragraphs,
RGB passages) are repeated with perturbations (sentence shuffles and word drops); their
vectors are the real e5 vectors of the source passage plus Gaussian noise, renormalised,
so the collection is clustered like real data without embedding millions of texts on a CPU.

    python bench/retrieval_scale.py --sizes 100000 --hotpotqa ../shared/data/hotpotqa/dev_200.jsonl \
        --rgb ../shared/data/rgb/zh_refine.json [--milvus] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lingxi import Library, Settings
from lingxi.config import FUSIONS, default_threads
from lingxi.evals.retrieval import load_hotpotqa, load_rgb
from lingxi.index.filters import Filters
from lingxi.index.store import chunk_id
from lingxi.llm.embedder import E5Embedder
from lingxi.types import Chunk, Locator, Note


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def perturb(text: str, rng: random.Random) -> str:
    parts = [p for p in text.replace("。", "。\n").replace(". ", ".\n").split("\n") if p.strip()]
    rng.shuffle(parts)
    words = " ".join(parts).split(" ")
    if len(words) > 8:
        drop = rng.randrange(len(words))
        words = words[:drop] + words[drop + 1 :]
    return " ".join(words)


def build(lib: Library, base_texts: list[str], base_vecs: np.ndarray, n: int, rng: random.Random, sigma: float) -> float:
    """Write n one-chunk notes through the store + index write path, 1,000 notes per file transaction."""
    _ = lib.conn  # opens the store and creates the index tables
    t0 = time.perf_counter()
    nrng = np.random.default_rng(0)
    per_file = 1000
    for f in range(0, n, per_file):
        notes, vectors = [], {}
        idx = [rng.randrange(len(base_texts)) for _ in range(min(per_file, n - f))]
        noise = nrng.normal(0, sigma, size=(len(idx), base_vecs.shape[1])).astype(np.float32)
        vecs = base_vecs[idx] + noise
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for j, (b, v) in enumerate(zip(idx, vecs)):
            key = f"g{f + j}"
            text = perturb(base_texts[b], rng)
            note = Note(id=key, title="", kind="jsonl", source="", body=text,
                        chunks=(Chunk(text=text, locator=Locator(char_start=0, char_end=len(text))),), meta={})
            notes.append(note)
            vectors[chunk_id(key, 0)] = v
        path = f"/generated/part-{f // per_file:05d}.jsonl"
        with lib.store.transaction() as conn:
            stored = lib.store.write_file(conn, path, str(f), "jsonl", "gen", 0, notes)
            lib.index.add(conn, stored, vectors)
        if lib.milvus is not None:
            lib.milvus.replace([], stored, vectors, refresh=False)
        if (f // per_file) % 50 == 0:
            print(f"  wrote {f + len(idx)}/{n}", file=sys.stderr)
    if lib.milvus is not None:
        lib.milvus.refresh()
    return time.perf_counter() - t0


def measure(lib: Library, queries: list[str], qvecs: np.ndarray, exact: bool,
            fusions: list[str] | None = None) -> dict[str, float]:
    """``fusions``: hybrid latency under each of these fusions too (same store, same run; passes alternate
    A B A B so that a slow minute on the shared machine does not fall on one fusion only)."""
    lat, dense_lat, recalls, exact_lat, bm25_lat, emb_lat = [], [], [], [], [], []
    backend = lib.searcher().backend
    from lingxi.index.tokenize import tokenize

    # One pass per measurement: interleaving them (an exact 100k-vector scan between two searches) evicts the
    # CPU caches each search relies on and measures the neighbour's footprint instead.
    hyb = []
    for q in queries:
        t = time.perf_counter()
        hyb.append(lib.search(q, k=10, mode="hybrid"))
        lat.append(time.perf_counter() - t)
    by_fusion: dict[str, list[float]] = {f: [] for f in fusions or []}
    configured = lib.settings
    for _ in range(2 if fusions else 0):
        for f in by_fusion:
            lib.settings = replace(configured, fusion=f)
            for q in queries:
                t = time.perf_counter()
                lib.search(q, k=10, mode="hybrid")
                by_fusion[f].append(time.perf_counter() - t)
    lib.settings = configured
    for q in queries:
        t = time.perf_counter()
        lib.embedder.embed_query(q)
        emb_lat.append(time.perf_counter() - t)
    bm25 = []
    for q in queries:
        toks = tokenize(q)
        t = time.perf_counter()
        bm25.append(backend.lexical_ids(toks, 50, Filters()))
        bm25_lat.append(time.perf_counter() - t)
    pruning: dict[str, float] = {}
    if exact and lib.index.budget > 0:
        # The same queries with every term kept: what query-term pruning saves, and how much of the full BM25 /
        # hybrid top 10 it still finds.
        budget, lib.index.budget = lib.index.budget, 0.0
        full_lat, full_hyb_lat, bm25_rec, hyb_rec = [], [], [], []
        try:
            for q, got in zip(queries, bm25):
                toks = tokenize(q)
                t = time.perf_counter()
                full = backend.lexical_ids(toks, 50, Filters())
                full_lat.append(time.perf_counter() - t)
                top = {c for c, _ in full[:10]}
                bm25_rec.append(len(top & {c for c, _ in got[:10]}) / max(1, len(top)))
            for q, got_h in zip(queries, hyb):
                t = time.perf_counter()
                full_h = lib.search(q, k=10, mode="hybrid")
                full_hyb_lat.append(time.perf_counter() - t)
                top = {h.chunk.id for h in full_h}
                hyb_rec.append(len(top & {h.chunk.id for h in got_h}) / max(1, len(top)))
        finally:
            lib.index.budget = budget
        pruning = {"bm25_full_p50_ms": round(statistics.median(full_lat) * 1000, 2),
                   "bm25_pruned_recall@10": round(statistics.fmean(bm25_rec), 4),
                   "hybrid_full_bm25_p50_ms": round(statistics.median(full_hyb_lat) * 1000, 2),
                   "hybrid_pruned_recall@10": round(statistics.fmean(hyb_rec), 4)}
    anns = []
    for qv in qvecs:
        t = time.perf_counter()
        anns.append(backend.dense_ids(qv, 10, Filters()))
        dense_lat.append(time.perf_counter() - t)
    if exact:
        for qv, ann in zip(qvecs, anns):
            t = time.perf_counter()
            ex = lib.index.dense_exact(lib.conn, qv, 10)
            exact_lat.append(time.perf_counter() - t)
            recalls.append(len({c for c, _ in ann} & {c for c, _ in ex}) / 10)
    pct = lambda xs, p: round(float(np.percentile(xs, p)) * 1000, 2)  # noqa: E731
    out = {"hybrid_p50_ms": pct(lat, 50), "hybrid_p95_ms": pct(lat, 95), "query_embed_p50_ms": pct(emb_lat, 50),
           "bm25_p50_ms": pct(bm25_lat, 50), "ann_p50_ms": pct(dense_lat, 50)} | pruning
    for f, xs in by_fusion.items():
        out |= {f"hybrid_p50_ms[{f}]": pct(xs, 50), f"hybrid_p95_ms[{f}]": pct(xs, 95)}
    if exact:
        out |= {"exact_dense_p50_ms": pct(exact_lat, 50), "ann_recall@10": round(statistics.fmean(recalls), 4),
                "ann_speedup_vs_exact": round(statistics.median(exact_lat) / statistics.median(dense_lat), 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000", help="comma-separated chunk counts")
    ap.add_argument("--hotpotqa", type=Path)
    ap.add_argument("--rgb", type=Path)
    ap.add_argument("--base", type=int, default=2000, help="real passages embedded as cluster centres")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--sigma", type=float, default=0.03, help="noise added to each vector component")
    ap.add_argument("--milvus", action="store_true", help="also measure the Milvus (Lite) backend")
    ap.add_argument("--threads", type=int, default=1, help="query threads (the issue measures 1)")
    ap.add_argument("--build-threads", type=int, default=2, help="threads that build the HNSW graph")
    ap.add_argument("--embed-threads", type=int, default=default_threads(),
                    help="threads of the query embedder (default: lingxi's default, cores - 1, so that the query "
                    "embedding and BM25, which run side by side, each have a core)")
    ap.add_argument("--keep", type=Path, help="keep each built store under this folder and reuse it on the next run"
                    " (embedded backend; write_s is then the original build's)")
    ap.add_argument("--fusions", default="", help="comma-separated fusions (LINGXI_FUSION values) whose hybrid latency"
                    " is also measured, alternating, on the same store, e.g. adaptive-convex,softmax")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    fusions = [f for f in args.fusions.split(",") if f]
    for f in fusions:
        if f not in FUSIONS:
            raise SystemExit(f"--fusions: {f!r} is not one of: {', '.join(FUSIONS)}")
    rng = random.Random(0)
    texts, queries = [], []
    for path, loader in ((args.hotpotqa, load_hotpotqa), (args.rgb, load_rgb)):
        if path:
            d = loader(path)
            texts += [t for _, t in d.passages.values()]
            queries += [q for _, q, _ in d.queries]
    if not texts:
        raise SystemExit("give --hotpotqa and/or --rgb")
    rng.shuffle(texts)
    rng.shuffle(queries)
    texts, queries = texts[: args.base], queries[: args.queries]
    emb = E5Embedder(threads=2)  # bulk: the base passages and the queries' vectors (cached with --keep)
    query_emb = E5Embedder(threads=args.embed_threads)
    cached = args.keep / f"vectors-{len(texts)}-{len(queries)}.npz" if args.keep else None
    if cached is not None and cached.exists():
        z = np.load(cached)
        base_vecs, qvecs = z["base"], z["queries"]
    else:
        print(f"embedding {len(texts)} base passages and {len(queries)} queries", file=sys.stderr)
        base_vecs = emb.embed(texts, "passage")
        qvecs = emb.embed(queries, "query")
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, base=base_vecs, queries=qvecs)
    rows = []
    backends = ["embedded"] + (["milvus"] if args.milvus else [])
    for n in [int(s) for s in args.sizes.split(",")]:
        for backend in backends:
            if backend == "milvus" and n > 100_000:
                continue
            with tempfile.TemporaryDirectory(prefix="lingxi-scale-") as tmp:
                home = Path(tmp)
                if args.keep and backend == "embedded":
                    home = args.keep / f"{backend}-{n}-{len(texts)}-{args.sigma}"
                gc.collect()
                rss0 = rss_mb()
                done = home / "build.json"
                lib = Library(Settings.load(home, threads=args.threads, backend=backend), embedder=query_emb)
                if done.exists():
                    write_s = json.loads(done.read_text())["write_s"]
                    print(f"[{backend} {n}] reusing {home}", file=sys.stderr)
                else:
                    print(f"[{backend} {n}] building", file=sys.stderr)
                    write_s = build(lib, texts, base_vecs, n, random.Random(1), args.sigma)
                    if args.keep and backend == "embedded":
                        done.write_text(json.dumps({"write_s": write_s}))
                t = time.perf_counter()
                lib.index.vectors.threads = args.build_threads
                lib.index.vectors.sync(lib.conn)  # loads vectors, builds/updates the HNSW graph
                lib.index.vectors.threads = args.threads
                ann_s = time.perf_counter() - t
                lib.search(queries[0], k=10)  # warm caches (jieba, model)
                m = measure(lib, queries, qvecs, exact=backend == "embedded", fusions=fusions)
                disk = sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) / 1e6
                rows.append({"system": f"{backend} {n:,}", "metrics": {
                    "chunks": n, "write_s": round(write_s, 1), "ann_build_s": round(ann_s, 1), **m,
                    "rss_mb": round(rss_mb(), 0), "rss_growth_mb": round(rss_mb() - rss0, 0), "disk_mb": round(disk, 0)}})
                print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
                lib.close()
    result = {"dataset": "generated from " + ", ".join(str(p) for p in (args.hotpotqa, args.rgb) if p),
              "rows": rows, "config": {"base": len(texts), "queries": len(queries), "sigma": args.sigma,
                                       "query_threads": args.threads, "build_threads": args.build_threads,
                                       "embed_threads": args.embed_threads,
                                       "bm25_budget": Settings.load().bm25_budget,
                                       "k": 10}}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        keys = list(rows[0]["metrics"]) if rows else []
        print("| system | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 1))
        for r in rows:
            print(f"| {r['system']} | " + " | ".join(str(r["metrics"].get(k, "")) for k in keys) + " |")


if __name__ == "__main__":
    main()
