"""Ablation of the agent's repairs: each repair (and early stop) switched off, one at a time, on the same questions.

The agent decodes greedily and every model call starts from the same cached system prompt, so a run is a function of
its question and configuration. A run with a repair switched off is the same as the run with every repair on up to
the first point where that repair would act; on a question where it never acted, the two runs are the same. So the
script reads the trace of one all-on run (`lingxi eval agent ... --systems rag,agent --trace ON.jsonl`: every repair
is on by default), re-runs only the questions where each repair acted, with that repair off, and reports every row
over all the questions.

    python bench/agent_ablation.py --trace ON.jsonl --hotpotqa FILE --skip 100 --home /tmp/agent-home [--json]
    python bench/agent_ablation.py --trace ON.jsonl --musique FILE --skip 50 --home /tmp/agent-home
    python bench/agent_ablation.py --trace ON.jsonl --rgb ../shared/data/rgb/zh_int.json --skip 10 --home /tmp/agent-home
    python bench/agent_ablation.py --trace ON.jsonl --questions bench/data/realworld_qa.jsonl \
        --corpus ../shared/data/realworld --split test --skip 16 --home /tmp/agent-home

A question set (``--questions`` or ``--rgb``, scored by accuracy: every gold fact said) has no F1 or EM; its rows give accuracy.

With ``--keep DIR`` each re-run is kept as it finishes, and a later run with the same DIR reads it back: a run
stopped by a deadline resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from lingxi.agent import REPAIRS


def acted(rec: dict[str, Any]) -> set[str]:
    """The repairs that acted in one traced agent run, and "early_stop" when the answer came from verified hops."""
    out = {s["name"] for s in rec["steps"] if s["kind"] == "fix"}
    out |= {s["source"] for s in rec["steps"] if s["kind"] == "plan" and s.get("source", "model") != "model"}
    if rec["steps"] and rec["steps"][-1].get("found") and not any(s["kind"] == "draft" for s in rec["steps"]):
        out.add("early_stop")
    return out


def rerun(args: argparse.Namespace, index: int, off: str) -> dict[str, Any]:
    """The agent's trace record for question ``index`` (0-based within the slice) with ``off`` switched off; with
    ``--keep DIR``, kept there as it finishes and read back on a later run instead of running it again."""
    kept = args.keep / f"{off}-q{args.skip + index + 1}.json" if args.keep else None
    if kept is not None and kept.exists():
        return json.loads(kept.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as out:
        flag = ["--repairs", "all", "--no-early-stop"] if off == "early_stop" else ["--repairs", f"all,-{off}"]
        data = ["--hotpotqa", str(args.hotpotqa)] if args.hotpotqa else ["--musique", str(args.musique)] \
            if args.musique else ["--rgb", str(args.rgb)] if args.rgb else \
            ["--questions", str(args.questions), "--corpus", str(args.corpus)] + (["--split", args.split] if args.split else [])
        setting = ["--setting", args.setting] if args.hotpotqa or args.musique else []
        cmd = [sys.executable, "-m", "lingxi", "--home", str(args.home), "eval", "agent", *data,
               "--skip", str(args.skip + index), "--limit", "1", "--systems", "agent", *flag, "--trace", out.name,
               *setting, "--timeout", str(args.timeout), "--json"]
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "LINGXI_THREADS": "1"})
        lines = Path(out.name).read_text(encoding="utf-8").splitlines()
        rec: dict[str, Any] = next(r for r in map(json.loads, lines) if r.get("system") == "agent")  # after the header
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
    return rec


def row(recs: list[dict[str, Any]]) -> dict[str, float]:
    held = [h for r in recs for h in r.get("citations_held", [])]
    score = {"accuracy": round(statistics.fmean(r["correct"] for r in recs), 4)} if "correct" in recs[0] else \
        {"f1": round(statistics.fmean(r["f1"] for r in recs), 4), "em": round(statistics.fmean(r["em"] for r in recs), 4)}
    return {**score,
            "citation_validity": round(sum(held) / len(held), 4) if held else 0.0,
            "refusals": round(statistics.fmean(float(r.get("refused", False)) for r in recs), 4),
            "p50_s": round(statistics.median(r["seconds"] for r in recs), 1),
            "llm_calls": round(statistics.fmean(r["llm_calls"] for r in recs), 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trace", type=Path, required=True, help="trace of the all-on run (with rag and agent rows)")
    p.add_argument("--hotpotqa", type=Path)
    p.add_argument("--musique", type=Path)
    p.add_argument("--rgb", type=Path, help="RGB rows (zh_int.json), as `lingxi eval agent --rgb` reads them")
    p.add_argument("--questions", type=Path, help="a question set (JSONL) over --corpus")
    p.add_argument("--corpus", type=Path)
    p.add_argument("--split", choices=("dev", "test"), help="the --split the all-on run used (--questions)")
    p.add_argument("--skip", type=int, required=True, help="the --skip the all-on run used")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--setting", default="shared", help="the --setting the all-on run used")
    p.add_argument("--timeout", type=float, default=300.0, help="the --timeout the all-on run used")
    p.add_argument("--only", help="comma-separated repairs (or early_stop) to switch off; default: each in turn")
    p.add_argument("--keep", type=Path, help="folder keeping each re-run's record, so a stopped run resumes")
    p.add_argument("--no-rerun", action="store_true", help="rows of the traced run only, with where each repair acted")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if not (args.hotpotqa or args.musique or args.rgb or (args.questions and args.corpus)):
        p.error("give --hotpotqa FILE, --musique FILE, --rgb FILE or --questions FILE --corpus DIR (the data the all-on"
                " run used)")
    recs = [r for x in args.trace.read_text(encoding="utf-8").splitlines() if x.strip()
            for r in [json.loads(x)] if "system" in r]  # the first line is the run's header
    agent = [r for r in recs if r["system"] == "agent"]
    rag = [r for r in recs if r["system"] == "single-shot RAG"]
    table = {**({"single-shot RAG": {**row(rag), "acted": 0}} if rag else {}),
             "agent, all on": {**row(agent), "acted": len(agent)}}
    for off in args.only.split(",") if args.only else (*REPAIRS, "early_stop"):
        changed = list(agent)
        where = [i for i, r in enumerate(agent) if off in acted(r)]
        if args.no_rerun:
            print(f"{off} acted on questions {[args.skip + i + 1 for i in where]}", file=sys.stderr)
            continue
        for i in where:
            changed[i] = rerun(args, i, off)
            key = "correct" if "correct" in agent[i] else "f1"
            print(f"{off} off, question {args.skip + i + 1}: {key} {agent[i][key]:.2f} → {changed[i][key]:.2f}",
                  file=sys.stderr, flush=True)
        table[f"without {off}"] = {**row(changed), "acted": len(where)}
    if args.json:
        print(json.dumps({"questions": len(agent), "skip": args.skip, "rows": table}, indent=1))
        return
    cols = [*(["accuracy"] if "correct" in agent[0] else ["f1", "em"]), "citation_validity", "refusals", "p50_s",
            "llm_calls", "acted"]
    print("| row | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for name, m in table.items():
        print(f"| {name} | " + " | ".join(str(m[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
