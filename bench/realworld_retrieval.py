"""Long-document retrieval on the realworld QA set: is each question's evidence passage among the top k?

The corpus folder is ingested as it is (one note per file, the real parsers and chunking), every question is
searched with bm25, dense and hybrid, at one and at several passages per note, and a hit counts for an evidence
passage when it comes from that passage's file and holds its quote (``lingxi.evals.qaset.holds``: letters and
digits compared, a chunk boundary may cut the quote). A two-hop question needs both passages.

    python bench/realworld_retrieval.py --questions bench/data/realworld_qa.jsonl \\
        --corpus ../shared/data/realworld --split dev [--k 5] [--per-note 1,5] [--store DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lingxi import Library, Settings
from lingxi.evals.qaset import Question, holds, load_questions
from lingxi.types import Hit


def covered(q: Question, hits: list[Hit], corpus: Path, source_of: dict[str, str]) -> list[int | None]:
    """For each evidence passage of ``q``, the 0-based rank of the first hit that holds it (None: not found)."""
    ranks: list[int | None] = []
    for ev in q.evidence:
        # alt_evidence stands for the hop whose words it quotes (for a one-passage question, for that passage)
        places = [ev] + [a for a in q.alt_evidence if a.quote == ev.quote or len(q.evidence) == 1]
        where = [(str((corpus / p.file).resolve()), p.quote) for p in places]
        ranks.append(next((r for r, h in enumerate(hits) if any(
            source_of.get(h.chunk.note_id) == f and holds(h.chunk.text, quote) for f, quote in where)), None))
    return ranks


def score(rank_lists: list[list[int | None]], k: int) -> dict[str, float]:
    def ndcg10(ranks: list[int | None]) -> float:
        dcg = sum(1 / math.log2(r + 2) for r in {r for r in ranks if r is not None and r < 10})
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(ranks))))
        return dcg / ideal

    return {
        f"recall@{k}": round(statistics.fmean(sum(r is not None and r < k for r in rs) / len(rs)
                                              for rs in rank_lists), 4),
        f"all_hops@{k}": round(statistics.fmean(all(r is not None and r < k for r in rs) for rs in rank_lists), 4),
        "ndcg@10": round(statistics.fmean(ndcg10(rs) for rs in rank_lists), 4),
        "mrr": round(statistics.fmean(1 / (1 + min((r for r in rs if r is not None), default=math.inf))
                                      for rs in rank_lists), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=ROOT / "bench" / "data" / "realworld_qa.jsonl")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "realworld")
    ap.add_argument("--split", choices=("dev", "test"))
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--per-note", default="1,5", help="comma-separated passages-per-note settings to compare")
    ap.add_argument("--modes", default="bm25,dense,hybrid")
    ap.add_argument("--store", type=Path, help="keep the ingested store here, so a rerun does not re-embed")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not a.corpus.is_dir():
        sys.exit(f"{a.corpus}: no such folder (the realworld corpus, ../shared/data/realworld)")
    qs = load_questions(a.questions, a.split)
    corpus = a.corpus.resolve()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lingxi-rw-") as tmp:
        home = a.store or Path(tmp)
        lib = Library(Settings.load(home))
        t0 = time.perf_counter()
        failed = [r for r in lib.ingest([corpus]) if r.status == "failed"]
        print(f"ingested {corpus} in {time.perf_counter() - t0:.0f}s; failed: {[r.reason for r in failed]}",
              file=sys.stderr)
        source_of = {n["id"]: str(Path(n["source"]).resolve()) for n in lib.list_notes()}
        # the ceiling: evidence passages that survive parsing at all (in some chunk of their file)
        chunks_of: dict[str, list[str]] = defaultdict(list)
        for nid, f in source_of.items():
            chunks_of[f] += [c.text for c in lib.get_note(nid).chunks]
        lost = [(q.id, e.file) for q in qs for e in q.evidence
                if not any(holds(t, e.quote) for t in chunks_of[str((corpus / e.file).resolve())])]
        print(f"evidence passages lost in parsing: {len(lost)} {lost}", file=sys.stderr)
        for per_note in [int(x) for x in a.per_note.split(",")]:
            for mode in a.modes.split(","):
                ranks, by_kind, lat = [], defaultdict(list), []
                for q in qs:
                    t = time.perf_counter()
                    hits = lib.search(q.q, k=max(10, a.k), mode=mode, per_note=per_note)
                    lat.append(time.perf_counter() - t)
                    rs = covered(q, hits, corpus, source_of)
                    ranks.append(rs)
                    by_kind[q.kind or "-"].append(rs)
                metrics = score(ranks, a.k) | {"p50_ms": round(statistics.median(lat) * 1000, 1)}
                kinds = {kind: score(v, a.k)[f"recall@{a.k}"] for kind, v in sorted(by_kind.items())}
                rows.append({"system": f"{mode} (per-note {per_note})", "metrics": metrics,
                             f"recall@{a.k} by kind": kinds,
                             "missed": [q.id for q, rs in zip(qs, ranks, strict=True)
                                        if not all(r is not None and r < a.k for r in rs)]})
                print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
        lib.close()
    result = {"dataset": f"{a.questions.name} over {a.corpus}" + (f" ({a.split})" if a.split else ""),
              "rows": rows, "config": {"questions": len(qs), "k": a.k, "lost_in_parsing": lost}}
    if a.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        keys = list(rows[0]["metrics"])
        print(" | ".join(["system", *keys]))
        for r in rows:
            print(" | ".join([r["system"], *[str(r["metrics"][k]) for k in keys]]))


if __name__ == "__main__":
    main()
