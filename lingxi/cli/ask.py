"""`lingxi ask "question"`: the search agent, with steps streamed and citations printed."""

from __future__ import annotations

import argparse
import json
import sys

from lingxi.agent import AgentConfig
from lingxi.cli.output import emit_json
from lingxi.library import Library, make_chat
from lingxi.types import Step


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("ask", help="answer a question from the notes with the search agent, with citations")
    p.add_argument("question")
    p.add_argument("--show-steps", action="store_true", help="stream each agent step to stderr")
    p.add_argument("--max-llm-calls", type=int, default=12, help="step budget (model calls, default 12)")
    p.add_argument("--timeout", type=float, default=300.0, help="time budget in seconds (default 300)")
    p.add_argument("--json", action="store_true", help="print {answer, citations, steps, timings}")
    p.set_defaults(run=run_ask)


def model_progress(done: int, total: int) -> None:
    if done == total or done % (64 << 20) < (4 << 20):
        sys.stderr.write(f"\rassembling the bundled model: {done * 100 // total}%" + ("\n" if done == total else ""))
        sys.stderr.flush()


def show_step(step: Step) -> None:
    d = step.detail
    if step.error:
        line = f"! {step.kind}: {step.error}"
    elif step.kind == "plan":
        line = ("plan (the question's own sentences): " if d.get("from") else "plan: ") + " | ".join(f"{s['id']}. {s['question']}" + (f" (after {s['depends_on']})" if s["depends_on"] else "")
                                     for s in d["sub_questions"])
    elif step.kind == "search":
        line = f"search: {d['query']} → " + "; ".join(f"{h['title'][:30]} {h['locator']}" for h in d["hits"][:4])
    elif step.kind == "read":
        verdict = "found (verified)" if d["verified"] else "found, not verified" if d["found"] else "not found"
        line = f"read {len(d['chunk_ids'])} passages for {d['question'][:40]!r}: {verdict} {d['answer'][:80]!r}"
    elif step.kind == "gather":
        line = f"answer from {len(d['passages'])} passages: " + "; ".join(f"[{p['n']}] {p['title'][:24]}" for p in d["passages"])
    elif step.kind == "draft":
        line = f"drafted {d['short_answer'][:60]!r}: {d['cited']} citation(s) verified"
    elif step.kind == "decide":
        line = f"decide: {d['reason']}; " + (f"search again: {d['next_query']}" if "next_query" in d
                                               else f"answer again, asking for {d['asked']}" if "asked" in d
                                               else f"read the same passages for: {d.get('read_again', '')}")
    elif step.kind == "complete":
        line = f"added from verified reads ({d['reason']}): " + "; ".join(f"{a['question'][:30]} → {a['answer'][:40]}" for a in d["added"])
    else:
        line = f"{step.kind}: {json.dumps(d, ensure_ascii=False)[:160]}"
    sys.stderr.write(f"  · {line}  ({step.seconds:.1f}s)\n" if step.seconds else f"  · {line}\n")
    sys.stderr.flush()


def run_ask(lib: Library, args: argparse.Namespace) -> int:
    chat = make_chat(lib.settings, model_progress)
    config = AgentConfig(max_llm_calls=args.max_llm_calls, max_seconds=args.timeout)
    ans = lib.ask(args.question, chat, config, on_step=show_step if args.show_steps else None)
    if args.json:
        emit_json(ans.to_dict())
        return 0
    print(ans.answer)
    if ans.citations:
        print()
    for c in ans.citations:
        print(f"[{c.n}] {c.title} — {c.locator.label()} — {c.source}")
        print(f"    “{c.quote}”")
    t = ans.timings
    print(f"\n({t['searches']} searches, {t['llm_calls']} model calls, {t['total_s']:.1f}s)", file=sys.stderr)
    return 0
