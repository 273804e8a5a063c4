"""The agent's translated search (``AgentConfig.translate``), measured where it acts: for each question, are its
evidence passages among the hits the agent reads first (the question's search, ``k`` hits) without it, and with
the question searched once more as the model writes it in the notes' other language (the two lists round-robin;
the merged list's first ``k``, and all of it)?

It runs the agent's own ``translate`` step (the bundled model writes the query) on the question's search only, so
no answer is written; a question whose first hits are all in its own language is not translated and counts the
same both ways.

    python bench/translated_search.py --questions bench/data/realworld_qa.jsonl --corpus ../shared/data/realworld \\
        --split dev [--k 6] [--store DIR] [--json]
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
sys.path.insert(0, str(ROOT / "bench"))

from realworld_retrieval import covered

from lingxi import Library, Settings
from lingxi.agent import AgentConfig, SearchAgent
from lingxi.agent.state import Run
from lingxi.evals.qaset import load_questions
from lingxi.library import make_chat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--split", choices=("dev", "test"))
    ap.add_argument("--k", type=int, default=6, help="hits per search (the agent's AgentConfig.k)")
    ap.add_argument("--store", type=Path, help="keep the ingested store here, so a rerun does not re-embed")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    qs = load_questions(a.questions, a.split)
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Settings.load(a.store or Path(tmp)))
        t0 = time.perf_counter()
        lib.ingest([a.corpus])
        print(f"ingested {a.corpus} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        source_of = {n["id"]: str(Path(n["source"]).resolve()) for n in lib.list_notes()}
        corpus = a.corpus.resolve()
        agent = SearchAgent(make_chat(lib.settings), lambda q, k: lib.search(q, k=k, per_note=2), AgentConfig(k=a.k, translate=True))
        rows = []
        for i, q in enumerate(qs, 1):
            run = Run(agent, q.q)
            agent.search_step(run, q.q)
            before = covered(q, run.results[0][: a.k], corpus, source_of)
            t = time.perf_counter()
            steps = list(agent.translate(run))
            queries = [s.query for s in steps if s.kind == "search"]
            # the merged list the agent reads from (both searches round-robin): its first k, the length of one
            # search, and all of it, as many as two searches give
            same = covered(q, run.results[0][: a.k], corpus, source_of) if queries else before
            after = covered(q, run.results[0][: 2 * a.k], corpus, source_of) if queries else before
            rows.append({"id": q.id, "kind": q.kind, "translated": queries[0] if queries else "",
                         "seconds": round(time.perf_counter() - t, 1), "before": all(r is not None for r in before),
                         "same_k": all(r is not None for r in same), "after": all(r is not None for r in after)})
            print(f"[{i}/{len(qs)}] {q.id} {q.kind}: {rows[-1]['before']} -> {rows[-1]['same_k']} / "
                  f"{rows[-1]['after']} {rows[-1]['translated'][:60]!r}", file=sys.stderr, flush=True)
        lib.close()

    def share(rs: list[dict], key: str) -> float:
        return round(statistics.fmean(r[key] for r in rs), 4) if rs else 0.0

    kinds = sorted({r["kind"] for r in rows})
    out = {"questions": len(rows), "k": a.k, "translated": sum(bool(r["translated"]) for r in rows),
           "seconds_per_translation": round(statistics.median([r["seconds"] for r in rows if r["translated"]] or [0]), 1),
           "all": {"without": share(rows, "before"), "with_same_k": share(rows, "same_k"), "with": share(rows, "after")},
           "by_kind": {k: {"n": len(sub), "without": share(sub, "before"), "with_same_k": share(sub, "same_k"),
                           "with": share(sub, "after")}
                       for k in kinds for sub in [[r for r in rows if r["kind"] == k]]},
           "rows": rows}
    print(json.dumps(out, ensure_ascii=False, indent=1) if a.json else
          f"evidence among the hits read first: without {out['all']['without']}, with {out['all']['with_same_k']} "
          f"(first k of the merged list) / {out['all']['with']} (all of it) "
          f"({out['translated']} of {len(rows)} translated)")


if __name__ == "__main__":
    main()
