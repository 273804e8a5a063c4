"""Memory extraction cost, per-exchange and inline (before) vs batched per session in the background (after),
in one run over the same scripted sessions.

    LINGXI_THREADS=1 python bench/companion_memory.py bench/data/companion_sessions.json --home /tmp/x-home

Each mode replays the sessions into its own user (the companion's replies are scripted: only memory work is
measured). Printed per mode: LLM calls, extraction seconds per session and per turn, the time the reply path
spent on memory (what a reply waited for), and the memories kept."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from lingxi import Library, Settings
from lingxi.companion import persona
from lingxi.companion.chat import Companion, CompanionConfig
from lingxi.companion.consolidate import ConsolidationConfig
from lingxi.library import make_chat


def run(lib: Library, data: dict, mode: str, model: str | None) -> dict:
    chat = make_chat(lib.settings)
    before = mode == "per-exchange-inline"
    cfg = CompanionConfig(background=not before,
                          memory=ConsolidationConfig(batch_turns=2) if before else ConsolidationConfig())
    comp = Companion(lib, chat, persona.load(data["persona"]), cfg, memory_chat=make_chat(lib.settings))
    user = f"{data['user']}-{mode}"
    comp.memory(user).forget_all()
    wait: list[float] = []
    t_all = time.perf_counter()
    turns = 0
    for s in data["sessions"]:
        start = datetime.fromisoformat(s["date"])
        for i, (msg, reply) in enumerate(s["exchanges"]):
            t0 = time.perf_counter()
            comp.record(user, msg, reply, start + timedelta(minutes=i))
            wait.append(time.perf_counter() - t0)
            turns += 2
    reports = comp.flush(user, datetime.fromisoformat(data["sessions"][-1]["date"]) + timedelta(hours=6))
    total = time.perf_counter() - t_all
    mem = comp.memory(user)
    calls = comp.memory_chat.calls
    extraction_s = sum(r.seconds for r in reports)
    readable = mem.entries(readable=True)
    n_sessions = len(data["sessions"])
    return {"mode": mode, "llm_calls": calls, "sessions": n_sessions, "turns": turns,
            "extraction_s": round(extraction_s, 1), "s_per_session": round(extraction_s / n_sessions, 1),
            "s_per_turn": round(extraction_s / turns, 2),
            "reply_path_wait_median_s": round(statistics.median(wait), 3),
            "reply_path_wait_max_s": round(max(wait), 3), "wall_s": round(total, 1),
            "memories": len(readable), "errors": [e for r in reports for e in r.errors],
            "memory_texts": [f"[{m.about}] {m.text}" for m in readable]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sessions", type=Path)
    ap.add_argument("--home", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--modes", default="per-exchange-inline,per-session-background")
    args = ap.parse_args()
    data = json.loads(args.sessions.read_text(encoding="utf-8"))
    lib = Library(Settings.load(args.home, args.threads))
    out = []
    for mode in args.modes.split(","):
        r = run(lib, data, mode, None)
        print(json.dumps(r, ensure_ascii=False), file=sys.stderr)
        out.append(r)
    print(json.dumps({"model": lib.settings.llm_model, "threads": args.threads, "rows": out}, ensure_ascii=False,
                     indent=2))


if __name__ == "__main__":
    main()
