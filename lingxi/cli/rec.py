"""`lingxi events import`, `lingxi encoder train|info`, `lingxi similar`, `lingxi recommend`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lingxi.cli.output import emit_fields, emit_json, table
from lingxi.library import Library
from lingxi.rec.explore import EXPLORE_TAIL


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    e = sub.add_parser("events", help="users' engagement events")
    esub = e.add_subparsers(dest="events_cmd", required=True, metavar="{import}")
    imp = esub.add_parser("import", help="import CSV/JSONL rows: user, note, action, timestamp")
    imp.add_argument("files", nargs="+", type=Path)
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(run=run_import)

    enc = sub.add_parser("encoder", help="the trained note encoder")
    encsub = enc.add_subparsers(dest="encoder_cmd", required=True, metavar="{train,info}")
    t = encsub.add_parser("train", help="contrastive training on co-engagement pairs (CPU, minutes)")
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--temperature", type=float, default=0.1)
    t.add_argument("--window", type=int, default=10, help="pair each note with the next N a user engaged (default 10)")
    t.add_argument("--llm", action="store_true", help="add the LLM compression vector to the features (slow: one LLM pass per note)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(run=run_train)
    info = encsub.add_parser("info", help="the current encoder artifact")
    info.add_argument("--json", action="store_true")
    info.set_defaults(run=run_info)

    s = sub.add_parser("similar", help="notes similar to a note (by the note encoder)")
    s.add_argument("note_id")
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=run_similar)

    r = sub.add_parser("recommend", help="notes for a user: interests + ItemCF + popularity, optional exploration")
    r.add_argument("--user", required=True)
    r.add_argument("--k", type=int, default=20)
    r.add_argument("--explore", type=float, default=0.0, help="share of the list for LLM-proposed new interests (e.g. 0.2)")
    r.add_argument("--explore-tail", type=float, default=EXPLORE_TAIL,
                   help="explore slots take notes at or below this quantile of the popularity of the user's history")
    r.add_argument("--proposer", choices=["llm", "co-engagement"], default="llm")
    r.add_argument("--json", action="store_true")
    r.set_defaults(run=run_recommend)


def _service(lib: Library):  # type: ignore[no-untyped-def]
    from lingxi.rec.service import RecService

    return RecService(lib)


def run_import(lib: Library, args: argparse.Namespace) -> int:
    reports = _service(lib).import_events(args.files)
    if args.json:
        emit_json({"files": [r.to_json() for r in reports]})
    else:
        for r in reports:
            print(f"{r.path}: {r.rows} rows, {r.imported} imported, {r.duplicates} already there, {len(r.errors)} bad")
            for line, reason in r.errors[:20]:
                print(f"  line {line}: {reason}")
            if len(r.errors) > 20:
                print(f"  … {len(r.errors) - 20} more bad rows (--json lists all)")
    return 1 if any(r.errors for r in reports) and not any(r.imported or r.duplicates for r in reports) else 0


def run_train(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.rec.encoder import TrainConfig

    def prog(stage: str, done: int, total: int) -> None:
        print(f"\r{stage}: {done}/{total} notes", end="" if done < total else "\n", file=sys.stderr, flush=True)

    def step(s: int, n: int, loss: float) -> None:
        print(f"\rtraining: step {s}/{n}, loss {loss:.4f}", end="" if s < n else "\n", file=sys.stderr, flush=True)

    cfg = TrainConfig(steps=args.steps, seed=args.seed, batch_size=args.batch_size, temperature=args.temperature)
    enc, stats, path = _service(lib).train(cfg, with_llm=args.llm, window=args.window, progress=prog, on_step=step)
    out = {"version": enc.version, "path": str(path), "bytes": path.stat().st_size, **stats}
    emit_fields(out, args.json)
    return 0


def run_info(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.rec.encoder import Encoder

    enc = Encoder.load(lib.settings.home / "encoders")
    out = {k: v for k, v in enc.meta.items()}
    emit_fields(out, args.json)
    return 0


def _print_items(items: list[dict], show_reason: bool) -> None:  # type: ignore[type-arg]
    rows = [[str(i), it["title"][:40], " ".join(it["tags"][:3]), f"{it['score']:.3f}",
             *([it.get("reason", "")[:70]] if show_reason else [])] for i, it in enumerate(items, 1)]
    print(table(rows, ["#", "title", "tags", "score", *(["why"] if show_reason else [])]))


def run_similar(lib: Library, args: argparse.Namespace) -> int:
    items = _service(lib).similar(args.note_id, args.k)
    if args.json:
        emit_json({"note_id": args.note_id, "items": items})
    else:
        _print_items(items, False)
    return 0


def run_recommend(lib: Library, args: argparse.Namespace) -> int:
    svc = _service(lib)
    chat = proposer = None
    if args.explore > 0:
        if args.proposer == "llm":
            from lingxi.cli.ask import model_progress
            from lingxi.library import make_chat

            chat = make_chat(lib.settings, model_progress)
        else:
            proposer = svc.catalogue().co_engagement()
    out = svc.recommend(args.user, args.k, args.explore, chat=chat, proposer=proposer, tail=args.explore_tail)
    if args.json:
        emit_json(out)
        return 0
    print(f"user {out['user']}: {out['history']} notes in history; encoder {out['encoder']}; {out['ms']} ms")
    for t in out["explore_topics"]:
        print(f"  exploring {t['topic']}: {t['reason']}")
    _print_items(out["items"], True)
    return 0
