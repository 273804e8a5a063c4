"""Fusions compared offline: each question's ranked lists (BM25, dense, the feedback list) are read once from an
evaluation store that `lingxi eval retrieval` already built and cached as JSON; every fusion in
``lingxi.search.fusion.FUSION_FUNCTIONS`` is then scored on the cached lists in well under a second, with the same
grouping and metrics as `lingxi eval retrieval` (so its rows match that command's for the same store).

    python bench/fusion_lists.py --home /tmp/search-home --hotpotqa ../shared/data/hotpotqa/dev_200.jsonl --limit 50
    python bench/fusion_lists.py --home /tmp/search-home --questions bench/data/realworld_qa.jsonl \
        --corpus ../shared/data/realworld --split dev --fusions convex,adaptive-convex --feedback 1
    python bench/fusion_lists.py --home /tmp/search-home --asr ../shared/data/realworld/transcripts/pythonhunter-ep03-whisper.txt \
        ../shared/data/realworld/subtitles/3b1b-neural-networks.zh-community.srt

`--asr` reads the noisy (noise 0.15, seed 0) and the clean set of `lingxi eval retrieval --asr` with the phonetic list
(weight 1), the row `lingxi eval retrieval --asr` gives with the phonetic list on.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lingxi import Settings
from lingxi.evals import retrieval
from lingxi.index.filters import Filters
from lingxi.index.store import note_of_chunk
from lingxi.index.tokenize import tokenize
from lingxi.library import Library
from lingxi.search.fusion import FUSION_FUNCTIONS

K = 50  # what `lingxi eval retrieval` asks for


def dump(data: retrieval.RetrievalSet, s: Settings, store: Path) -> dict[str, Any]:
    """Each question's lists at the depth `lingxi eval retrieval` reads them, and what each chunk covers."""
    if not store.exists():
        raise SystemExit(f"{store}: build it first with `lingxi eval retrieval`")
    long_docs = bool(data.spans) or data.corpus is not None
    pn = 0 if long_docs else 1
    lib = Library(Settings(**{**s.__dict__, "home": store.resolve()}))
    if data.corpus is not None:
        covers, _ = retrieval._quote_covers(lib, data)
    else:
        covers = retrieval._chunk_covers(lib, data) if long_docs else {}
    searcher = lib.searcher()
    if searcher.embed_query is not None:
        searcher.embed_query = retrieval._QueryVectors(searcher.embed_query)
    searcher.weights = replace(searcher.weights, feedback=1.0)
    depth = max(searcher.weights.depth, K * 5 * max(pn, 1))
    queries = []
    for qid, q, rel in data.queries:
        scored, _ = searcher.lists(q[:4000], tokenize(q[:4000]), depth, "hybrid", Filters())
        queries.append({"id": qid, "rel": sorted(rel), "lists": scored})
    lib.close()
    return {"name": data.name, "per_note": pn, "long": long_docs,
            "covers": {c: sorted(v) for c, v in covers.items()}, "queries": queries}


def rank(fused: list[tuple[str, float]], per_note: int, k: int = K) -> list[str]:
    """The shown chunk ids: fused order, at most ``per_note`` of a note (0: no limit), ``k`` of them."""
    out: list[str] = []
    per: dict[str, int] = {}
    for cid, _ in fused:
        note = note_of_chunk(cid)
        if per_note and per.get(note, 0) >= per_note:
            continue
        per[note] = per.get(note, 0) + 1
        out.append(cid)
        if len(out) == k:
            break
    return out


def score(cache: dict[str, Any], fusion: str | None, feedback: float, lexical: float = 1.0) -> dict[str, float]:
    """Metrics of one row: ``fusion`` None is a single list (``lexical`` 1: bm25, 0: dense)."""
    covers = {c: frozenset(v) for c, v in cache["covers"].items()}
    runs = []
    for q in cache["queries"]:
        lists = {n: [(c, float(x)) for c, x in lst] for n, lst in q["lists"].items()}
        if fusion is None:
            fused = lists["lexical" if lexical else "dense"]
        else:
            if feedback <= 0:
                lists.pop("feedback", None)
            w = {"lexical": lexical, "dense": 1.0, "feedback": feedback}
            fused = FUSION_FUNCTIONS[fusion](lists, w, 60)
        ids = rank(fused, cache["per_note"])
        ranked = [covers.get(c, frozenset()) if cache["long"] else frozenset([note_of_chunk(c)]) for c in ids]
        runs.append((ranked, set(q["rel"])))
    m = retrieval.score_run(runs, [])
    m.pop("p50_ms")
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    for name in ("rgb", "hotpotqa", "locomo", "long-hotpotqa"):
        ap.add_argument(f"--{name}", type=Path)
    ap.add_argument("--asr", type=Path, nargs="+", help="transcripts: the noisy and clean sets of `--asr`")
    ap.add_argument("--questions", type=Path)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--split")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--fusions", default=",".join(FUSION_FUNCTIONS))
    ap.add_argument("--feedback", default="1,0")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/lingxi-fusion-lists"),
                    help="folder of the cached lists (one JSON file per data set and slice)")
    args = ap.parse_args()
    loaders = {"rgb": retrieval.load_rgb, "hotpotqa": retrieval.load_hotpotqa, "locomo": retrieval.load_locomo,
               "long-hotpotqa": retrieval.load_long_hotpotqa}
    s = Settings.load(args.home)
    sets: list[tuple[str, Any, Path]] = []
    for kind, loader in loaders.items():
        path = getattr(args, kind.replace("-", "_"))
        if path is not None:
            tag = f"{kind}-{path.stem}-{args.skip}-{args.limit or 'all'}"
            sets.append((tag, lambda p=path, ld=loader: ld(p, args.limit, args.skip), s.home / "eval-stores" / tag))
    if args.questions:
        tag = f"questions-{args.questions.stem}-{args.split or 'all'}"
        sets.append((tag, lambda: retrieval.load_questions(args.questions, args.corpus, args.split),
                     s.home / "eval-stores" / f"corpus-{args.corpus.resolve().name}"))
    if args.asr:
        names = "+".join(sorted(p.stem for p in args.asr))[:80]
        for i, kind in ((1, "noisy-0.15-0"), (0, "clean")):
            sets.append((f"asr-{kind}-{names}", lambda i=i: retrieval.load_asr(list(args.asr))[i],
                         s.home / "eval-stores" / f"asr-{kind}-{names}"))
    args.cache.mkdir(parents=True, exist_ok=True)
    for tag, load, store in sets:
        f = args.cache / f"{tag}.json"
        if not f.exists():
            # the ASR sets' passages are JSONL notes standing for transcripts, indexed phonetically as `--asr` does
            st = replace(s, phonetic_kinds=("jsonl",)) if tag.startswith("asr-") else s
            f.write_text(json.dumps(dump(load(), st, store), ensure_ascii=False))
        cache = json.loads(f.read_text())
        rows = [{"system": "bm25", "metrics": score(cache, None, 0, 1)},
                {"system": "dense", "metrics": score(cache, None, 0, 0)}]
        for fusion in args.fusions.split(","):
            for fb in args.feedback.split(","):
                name = f"hybrid-{fusion}" + ("" if float(fb) > 0 else "-nofeedback")
                rows.append({"system": name, "metrics": score(cache, fusion, float(fb))})
        print(json.dumps({"dataset": cache["name"], "queries": len(cache["queries"]), "rows": rows},
                         ensure_ascii=False))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
