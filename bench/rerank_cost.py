"""Cost and effect of the LLM reranker: nDCG@10 and p50 latency of hybrid search with and without reranking
the top `--depth` hits by the local model's yes/no log-probabilities.

    python bench/rerank_cost.py --rgb ../shared/data/rgb/zh_refine.json --limit 30 --model qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lingxi import Library, Settings
from lingxi.config import default_model_cache, default_threads
from lingxi.evals.retrieval import load_hotpotqa, load_rgb, ndcg
from lingxi.llm.bundled import resolve_model
from lingxi.llm.chat import LocalChatModel
from lingxi.search.rerank import LLMReranker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rgb", type=Path)
    ap.add_argument("--hotpotqa", type=Path)
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    data = load_rgb(a.rgb, a.limit) if a.rgb else load_hotpotqa(a.hotpotqa, a.limit)
    model = LocalChatModel(resolve_model(a.model, default_model_cache()), threads=default_threads())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Settings.load(tmp))
        corpus = Path(tmp) / "c.jsonl"
        corpus.write_text("\n".join(json.dumps({"id": pid, "title": t or x[:30], "text": x}, ensure_ascii=False)
                                    for pid, (t, x) in data.passages.items()) + "\n", encoding="utf-8")
        lib.ingest([corpus])
        for name, reranker in (("hybrid", None), (f"hybrid + LLM rerank top {a.depth}", LLMReranker(model, a.depth))):
            lib.reranker = reranker
            nd, lat = [], []
            for _, q, rel in data.queries:
                t = time.perf_counter()
                hits = lib.search(q, k=10)
                lat.append(time.perf_counter() - t)
                nd.append(ndcg([h.chunk.note_id for h in hits], rel, 10))
            rows.append({"system": name, "metrics": {"ndcg@10": round(statistics.fmean(nd), 4),
                                                     "p50_ms": round(statistics.median(lat) * 1000, 1)}})
            print(json.dumps(rows[-1]), file=sys.stderr)
        lib.close()
    result = {"dataset": f"{data.name} (first {len(data.queries)} queries)", "rows": rows,
              "config": {"model": a.model, "depth": a.depth, "threads": default_threads()}}
    if a.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for r in rows:
            print(f"| {r['system']} | {r['metrics']['ndcg@10']} | {r['metrics']['p50_ms']} |")


if __name__ == "__main__":
    main()
