"""Hybrid rows over an evaluation store that `lingxi eval retrieval` already built (nothing is re-embedded): every
fusion x feedback on/off x BM25/dense weights, for choosing the fusion on dev splits.

    python bench/fusion_rows.py --home /tmp/search-home --locomo ../shared/data/locomo/locomo_conv0-4.json --limit 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lingxi import Settings
from lingxi.config import FUSIONS
from lingxi.evals import retrieval


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    for name in ("rgb", "hotpotqa", "locomo", "long-hotpotqa"):
        ap.add_argument(f"--{name}", type=Path)
    ap.add_argument("--questions", type=Path)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--split")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--fusions", default=",".join(FUSIONS))
    ap.add_argument("--feedback", default="1,0")
    ap.add_argument("--lexical", default="1", help="BM25 list weights to try (dense is 1)")
    ap.add_argument("--no-single", action="store_true", help="skip the bm25 and dense rows")
    args = ap.parse_args()
    loaders = {"rgb": retrieval.load_rgb, "hotpotqa": retrieval.load_hotpotqa, "locomo": retrieval.load_locomo,
               "long-hotpotqa": retrieval.load_long_hotpotqa}
    s = Settings.load(args.home)
    for kind, loader in loaders.items():
        path = getattr(args, kind.replace("-", "_"))
        if path is None:
            continue
        data = loader(path, args.limit, args.skip)
        store = s.home / "eval-stores" / f"{kind}-{path.stem}-{args.skip}-{args.limit or 'all'}"
        run(data, s, store, args)
    if args.questions:
        data = retrieval.load_questions(args.questions, args.corpus, args.split)
        run(data, s, s.home / "eval-stores" / f"corpus-{args.corpus.resolve().name}", args)


def run(data: retrieval.RetrievalSet, s: Settings, store: Path, a: argparse.Namespace) -> None:
    pn = 0 if (data.spans or data.corpus is not None) else 1
    systems = [] if a.no_single else [retrieval.System("bm25", per_note=pn), retrieval.System("dense", per_note=pn)]
    systems += [retrieval.System("hybrid", f, float(fb), pn, lexical=float(lw))
                for f in a.fusions.split(",") for fb in a.feedback.split(",") for lw in a.lexical.split(",")]
    if not store.exists():
        raise SystemExit(f"{store}: build it first with `lingxi eval retrieval`")
    res = retrieval.evaluate(data, s, store=store, systems=systems, with_bm25s=False)
    print(json.dumps(res, ensure_ascii=False))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
