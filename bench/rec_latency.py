"""`recommend` latency at catalogue scale with a trained encoder, as a ratio against exact search.

A generated catalogue (clustered 384-d note features standing in for e5 vectors) and a generated
engagement log (users engaging inside one to three clusters) train the encoder head; the 100k encoded
notes go into the recommender (HNSW above 20k notes) and user lists are timed against the same
recommender forced to exact search, in the same process. Prints one JSON object.

    python bench/rec_latency.py --notes 100000 --users 2000 --queries 300
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from scipy import sparse

from lingxi.rec.encoder import TrainConfig, train
from lingxi.rec.recommend import ItemCF, RecConfig, Recommender


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=100000)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--clusters", type=int, default=200)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    centres = rng.normal(size=(a.clusters, 384)).astype(np.float32)
    cl = rng.integers(0, a.clusters, a.notes)
    x = centres[cl] + 0.8 * rng.normal(size=(a.notes, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    by_cluster = [np.flatnonzero(cl == c) for c in range(a.clusters)]
    hist = []
    for _ in range(a.users):
        tastes = rng.choice(a.clusters, size=rng.integers(1, 4), replace=False)
        n = int(rng.integers(10, 60))
        hist.append([int(rng.choice(by_cluster[int(rng.choice(tastes))])) for _ in range(n)])
    pairs: dict[tuple[int, int], float] = {}
    for h in hist:
        w = 1 / np.log2(2 + len(h))
        for i in range(len(h) - 1):
            for j in h[i + 1:i + 6]:
                if h[i] != j:
                    key = (min(h[i], j), max(h[i], j))
                    pairs[key] = pairs.get(key, 0.0) + w
    t0 = time.perf_counter()
    enc, stats = train(x, [(p, q, w) for (p, q), w in pairs.items()], base_dim=384,
                       config=TrainConfig(steps=a.steps, seed=a.seed))
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    vecs = enc.encode(x)
    rows, cols = [], []
    for u, h in enumerate(hist):
        rows += [u] * len(h)
        cols += h
    m = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(a.users, a.notes))
    pop = np.asarray(m.sum(axis=0)).ravel()
    rec = Recommender(vecs, pop, ItemCF(m), RecConfig(), threads=2)
    build_s = time.perf_counter() - t0
    users = rng.choice(a.users, size=a.queries, replace=False)
    ann_ms, exact_ms, overlap = [], [], []
    for u in users:
        h = hist[int(u)]
        t = time.perf_counter()
        got = [i for i, _, _ in rec.recommend(h, 20)]
        ann_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ref = [i for i, _, _ in rec.recommend(h, 20, exact=True)]
        exact_ms.append((time.perf_counter() - t) * 1000)
        overlap.append(len(set(got) & set(ref)) / 20)
    p50, p50e = statistics.median(ann_ms), statistics.median(exact_ms)
    print(json.dumps({
        "notes": a.notes, "users": a.users, "queries": a.queries, "ann": rec.index.ann if rec.index else False,
        "p50_ms": round(p50, 2), "p95_ms": round(float(np.percentile(ann_ms, 95)), 2),
        "exact_p50_ms": round(p50e, 2), "speedup_vs_exact": round(p50e / p50, 2),
        "list_overlap_vs_exact@20": round(statistics.fmean(overlap), 4),
        "train_s": round(train_s, 1), "train_pairs": stats["pairs"], "loss": [stats["first_loss"], stats["final_loss"]],
        "index_build_s": round(build_s, 1), "artifact_bytes": int(enc.weights.nbytes),
    }))


if __name__ == "__main__":
    main()
