"""How often the agent's translated search needs its second ask, and how often it still gets no query in the other
language.

For each question of a question set (``--questions FILE.jsonl --split dev|test``) over an ingested corpus, the
agent's own first search and its ``translate`` step are run (``SearchAgent.translate``: when a hit is written in the
other language, the model writes the question in it; a query handed back in the question's own language is asked for
once more with the ``translate_again`` prompt). Counts the questions where translation was asked, where it took the
second ask, and where no translated query came of it; prints their ids.

    lingxi --home H eval agent --questions bench/data/realworld_qa.jsonl --corpus ../shared/data/realworld ...  # ingests
    LINGXI_THREADS=1 python bench/translate_probe.py --store H/eval-corpus/<key> \\
        --questions bench/data/realworld_qa.jsonl --split dev
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lingxi import Library, Settings
from lingxi.agent.state import Run
from lingxi.library import make_chat


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, required=True, help="a lingxi home holding the ingested corpus")
    p.add_argument("--questions", type=Path, required=True, help="question set (JSONL with id, q, split)")
    p.add_argument("--split", choices=("dev", "test"))
    args = p.parse_args()
    lib = Library(Settings.load(args.store))
    agent = lib.agent(make_chat(lib.settings))
    asked, again, none = [], [], []
    for row in map(json.loads, args.questions.read_text(encoding="utf-8").splitlines()):
        if args.split and row.get("split") != args.split:
            continue
        run = Run(agent, row["q"])
        agent.search_step(run, run.question)
        list(agent.translate(run))
        if run.llm_calls:
            asked.append(row["id"])
            again += [row["id"]] if run.llm_calls > 1 else []
            none += [row["id"]] if len(run.queries) == 1 else []
    print(json.dumps({"translation_asked": len(asked), "asked_again": len(again), "no_translated_query": len(none),
                      "asked_again_ids": again, "no_translated_query_ids": none}))
    lib.close()


if __name__ == "__main__":
    main()
