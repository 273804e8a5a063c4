"""`lingxi eval ...`: a readable table, or exactly one JSON object with --json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lingxi.cli.output import table
from lingxi.errors import BadInput
from lingxi.library import Library


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ev = sub.add_parser("eval", help="benchmarks: retrieval (more arrive with later components)")
    esub = ev.add_subparsers(dest="eval_cmd", required=True, metavar="{retrieval,agent}")
    r = esub.add_parser("retrieval", help="nDCG@10, Recall@10/50, MRR for bm25, dense, hybrid and bm25s")
    r.add_argument("--rgb", type=Path, help="RGB file (e.g. ../shared/data/rgb/zh_refine.json)")
    r.add_argument("--hotpotqa", type=Path, help="HotpotQA with paragraphs (e.g. ../shared/data/hotpotqa/dev_200.jsonl)")
    r.add_argument("--limit", type=int, help="only the first N questions")
    r.add_argument("--json", action="store_true")
    r.set_defaults(run=run_retrieval)
    a = esub.add_parser("agent", help="EM/F1/accuracy, citation validity, searches, latency: closed-book, RAG, agent")
    a.add_argument("--hotpotqa", type=Path, help="HotpotQA with paragraphs (../shared/data/hotpotqa/dev_200.jsonl)")
    a.add_argument("--setting", choices=["shared", "per-question", "both"], default="shared",
                   help="HotpotQA: one store for all questions (default) or one per question")
    a.add_argument("--questions", type=Path, help='generic QA JSONL: {"id", "q", "gold": [...]} per line')
    a.add_argument("--corpus", type=Path, help="folder (or file) ingested as the store for --questions")
    a.add_argument("--limit", type=int, help="only the first N questions")
    a.add_argument("--max-llm-calls", type=int, default=12)
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=run_agent)


def print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    keys = list(result["rows"][0]["metrics"]) if result["rows"] else []
    print(f"dataset: {result['dataset']}")
    print(table([[r["system"], *[str(r["metrics"][k]) for k in keys]] for r in result["rows"]], ["system", *keys]))
    print(f"config: {json.dumps(result['config'], ensure_ascii=False)}")


def run_retrieval(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.evals import retrieval

    sources = [(p, retrieval.load_rgb) for p in [args.rgb] if p] + [(p, retrieval.load_hotpotqa) for p in [args.hotpotqa] if p]
    if not sources:
        raise BadInput("give a dataset: --rgb FILE and/or --hotpotqa FILE")
    for path, loader in sources:
        if not path.exists():
            raise BadInput(f"{path}: no such file")
        data = loader(path, args.limit)
        store = lib.settings.home / "eval-stores" / f"{path.stem}-{args.limit or 'all'}"
        result = retrieval.evaluate(data, lib.settings, progress=lambda s: print(f"[{data.name}] {s}", file=sys.stderr),
                                    store=store)
        print_result(result, args.json)
    return 0


def run_agent(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.agent import AgentConfig
    from lingxi.cli.ask import model_progress
    from lingxi.evals import agent as ev
    from lingxi.library import make_chat

    if not args.hotpotqa and not args.questions:
        raise BadInput("give --hotpotqa FILE, or --questions FILE with --corpus DIR")
    if args.questions and not args.corpus:
        raise BadInput("--questions needs --corpus DIR (the notes the questions are asked over)")
    for p in (args.hotpotqa, args.questions, args.corpus):
        if p and not p.exists():
            raise BadInput(f"{p}: no such file or directory")
    chat = make_chat(lib.settings, model_progress)
    config = AgentConfig(max_llm_calls=args.max_llm_calls)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.hotpotqa:
        settings = ["shared", "per-question"] if args.setting == "both" else [args.setting]
        for setting in settings:
            print_result(ev.eval_hotpotqa(args.hotpotqa, chat, lib.settings, args.limit, setting, config, say), args.json)
    if args.questions:
        print_result(ev.eval_questions(args.questions, args.corpus, chat, lib.settings, args.limit, config, say), args.json)
    return 0
