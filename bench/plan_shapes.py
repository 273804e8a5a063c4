"""Plan shapes on HotpotQA: does the agent's plan step mark the dependency a bridge question needs?

Runs only the plan step (the planner context, repairs off) over a slice of a HotpotQA file and counts plans of the
expected shape: a bridge question gets a hop resting on another (``#1``), a comparison two hops resting on none.
The shape is read from the gold: an answer that is yes/no or a supporting paragraph's title marks a comparison.

    LINGXI_THREADS=1 python bench/plan_shapes.py ../shared/data/hotpotqa/dev_200.jsonl --skip 0 --limit 30
    LINGXI_THREADS=1 python bench/plan_shapes.py ../shared/data/hotpotqa/dev_200.jsonl --planner qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lingxi.agent.loop import SearchAgent
from lingxi.agent.state import AgentConfig
from lingxi.agent.steps import Plan
from lingxi.config import Settings
from lingxi.library import make_chat


def expected(row: dict) -> str:  # type: ignore[type-arg]
    spans = row["answers_objects"][0]["spans"]
    gold = spans[0] if spans else ""
    titles = [c["title"] for c in row["contexts"] if c["is_supporting"]]
    return "comparison" if gold.lower() in ("yes", "no") or gold in titles else "bridge"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("hotpotqa", type=Path)
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--planner", default="", help="a bundled model to plan with (default: a second context of the chat "
                                                  "model, as the agent does)")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.hotpotqa.open()][args.skip: args.skip + args.limit]
    settings = Settings.load(None, None)
    chat = make_chat(settings)
    planner = make_chat(settings, model=args.planner) if args.planner else chat.fork()
    agent = SearchAgent(chat, lambda q, k: [], AgentConfig(repairs=()), planner=planner)
    good, started, tokens = 0, time.perf_counter(), planner.completion_tokens
    for row in rows:
        plan = next(s for s in agent.run(row["question_text"]) if isinstance(s, Plan))
        dependent = any(sq.depends_on for sq in plan.sub_questions)
        kind = expected(row)
        ok = dependent if kind == "bridge" else len(plan.sub_questions) == 2 and not dependent
        good += ok
        print(kind, "ok " if ok else "bad", " | ".join(f"{sq.question}{'<-' + str(sq.depends_on) if sq.depends_on else ''}"
                                                      for sq in plan.sub_questions), flush=True)
    print(json.dumps({"plans": len(rows), "expected_shape": good, "seconds": round(time.perf_counter() - started, 1),
                      "generated_tokens": planner.completion_tokens - tokens}))


if __name__ == "__main__":
    main()
