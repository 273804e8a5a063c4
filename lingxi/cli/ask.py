"""`lingxi ask "question"`: the search agent, with steps streamed and citations printed."""

from __future__ import annotations

import argparse
import sys

from lingxi.agent import REPAIRS, AgentConfig, pick_repairs
from lingxi.agent.steps import Answer, Call, Draft, Fix, Gather, Plan, Read, Search, Token
from lingxi.cli.output import emit_json
from lingxi.library import Library, make_chat
from lingxi.types import Step


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("ask", help="answer a question from the notes with the search agent, with citations")
    p.add_argument("question")
    p.add_argument("--show-steps", action="store_true", help="print each agent step to stderr as it happens")
    p.add_argument("--max-llm-calls", type=int, default=12, help="step budget (model calls, default 12)")
    p.add_argument("--timeout", type=float, default=300.0, help="time budget in seconds (default 300)")
    p.add_argument("--repairs", help="repairs to run: default (every one; env LINGXI_AGENT_REPAIRS), all, none, a list, or "
                                     f"all,-NAME; names: {', '.join(REPAIRS)}")
    p.add_argument("--room", action=argparse.BooleanOptionalAction, default=None,
                   help="reading room: keep every passage read in front of the model, so each is read once per "
                        "question (default: env LINGXI_AGENT_ROOM, on)")
    p.add_argument("--no-early-stop", action="store_true",
                   help="always run the answer step, even when every hop's answer was verified")
    p.add_argument("--json", action="store_true", help="print {answer, citations, steps, timings}")
    p.set_defaults(run=run_ask)


def model_progress(done: int, total: int) -> None:
    if done == total or done % (64 << 20) < (4 << 20):
        sys.stderr.write(f"\rassembling the bundled model: {done * 100 // total}%" + ("\n" if done == total else ""))
        sys.stderr.flush()


def describe(step: Step) -> str:
    """One line for a step."""
    if isinstance(step, Plan):
        subs = " | ".join(f"{s.id}. {s.question}" + (f" (after {list(s.depends_on)})" if s.depends_on else "")
                          for s in step.sub_questions)
        return f"plan ({step.source}): {subs}"
    if isinstance(step, Search):
        return f"search: {step.query} → " + "; ".join(f"{h['title'][:30]} {h['locator']}" for h in step.hits[:4])
    if isinstance(step, Read):
        verdict = "verified" if step.verified else "not verified" if step.found else "not found"
        return f"read {len(step.chunk_ids)} passages for {step.question[:50]!r}: {step.answer[:80]!r} ({verdict})"
    if isinstance(step, Gather):
        took = f" ({step.seconds:.1f} s)" if step.seconds >= 0.05 else ""
        return f"read {len(step.passages)} passages for the answer{took}: " + "; ".join(
            f"[{p['n']}] {p['title'][:24]}" for p in step.passages)
    if isinstance(step, Draft):
        return f"drafted {step.short_answer[:60]!r}: {step.cited} citation(s) verified"
    if isinstance(step, Fix):
        return f"repair {step.name}: {step.reason}" + (f" ({step.change[:80]})" if step.change else "")
    if isinstance(step, Call):
        return f"! {step.step} (try {step.attempt}): {step.error}"
    if isinstance(step, Answer):
        return f"answer: {step.short_answer or step.answer[:80]!r} ({step.citations} citation(s))"
    return f"{step.kind}: {step.detail}"


class StepPrinter:
    """Prints each step as one line on stderr; the answer's draft text (``Token`` steps) on one line as it comes."""

    def __init__(self) -> None:
        self.writing = False

    def __call__(self, step: Step) -> None:
        if isinstance(step, Token):
            sys.stderr.write(step.text if self.writing else f"  · writing: {step.text}")
            self.writing = True
        else:
            line = describe(step)
            sys.stderr.write(("\n" if self.writing else "")
                             + (f"  · {line}  ({step.seconds:.1f}s)\n" if step.seconds else f"  · {line}\n"))
            self.writing = False
        sys.stderr.flush()


def run_ask(lib: Library, args: argparse.Namespace) -> int:
    config = AgentConfig(max_llm_calls=args.max_llm_calls, max_seconds=args.timeout,
                         early_stop=not args.no_early_stop, repairs=pick_repairs(args.repairs),
                         **({} if args.room is None else {"room": args.room}))
    chat = make_chat(lib.settings, model_progress)
    ans = lib.ask(args.question, chat, config, on_step=StepPrinter() if args.show_steps else None)
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
