"""`lingxi ask` as a user runs it: a new process per question. Runs each question with the local model's kept
state off and on (`LINGXI_LLM_STATE=0|1`, alternating, the state written by a first run that is not counted) and
prints the median wall time of the process, the agent's own timings, and on how many questions every run gave the
same answer.

    python bench/ask_processes.py --home H --questions demo/questions.jsonl --limit 3 --runs 3

``--questions``: a JSONL file with a "question" (or "q") field per line. Timings are ratios of runs side by side
on the same machine; absolute seconds depend on its load."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lingxi.config import default_model_cache


def ask(home: str, question: str, state: str, cache: str) -> tuple[float, dict[str, float], str]:
    env = {**os.environ, "LINGXI_LLM_STATE": state, "LINGXI_CACHE_DIR": cache}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "lingxi", "--home", home, "ask", question, "--json"], env=env,
                         capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    got = json.loads(out.stdout)
    return wall, got["timings"], got["answer"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--questions", required=True, type=Path)
    ap.add_argument("--limit", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    rows = [json.loads(line) for line in a.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [str(r.get("question") or r.get("q")) for r in rows][: a.limit]
    os.environ["LINGXI_MODEL_CACHE"] = str(default_model_cache())  # the assembled models, shared
    got: dict[str, list[tuple[float, dict[str, float]]]] = {"0": [], "1": []}
    answers: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as cache:  # a state folder of this run's own
        for q in questions:
            ask(a.home, q, "1", cache)  # writes the state (not counted)
            for _ in range(a.runs):
                for state in ("0", "1"):
                    wall, timings, answer = ask(a.home, q, state, cache)
                    got[state].append((wall, timings))
                    answers.setdefault(q, set()).add(answer)
                    print(f"state={state} wall {wall:.1f} s, agent {timings['total_s']:.1f} s: {q[:40]}", file=sys.stderr)
    out = {}
    for state, runs in got.items():
        out["kept state" if state == "1" else "evaluated"] = {
            "process_s_p50": round(statistics.median(w for w, _ in runs), 2),
            "agent_s_p50": round(statistics.median(t["total_s"] for _, t in runs), 2),
            "first_text_after_read_s_p50": round(statistics.median(t["first_text_after_read_s"] for _, t in runs), 2),
            "runs": len(runs)}
    base, kept = out["evaluated"]["process_s_p50"], out["kept state"]["process_s_p50"]
    out["ratio_process"] = round(kept / base, 3) if base else None
    out["same_answers"] = sum(len(a) == 1 for a in answers.values())  # questions answered alike by every run
    out["questions"] = len(answers)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
