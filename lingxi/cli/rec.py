"""`lingxi events import`, `lingxi encoder train|info`, `lingxi similar`, `lingxi recommend`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lingxi.cli.output import emit_fields, emit_json, table
from lingxi.errors import BadInput
from lingxi.library import Library
from lingxi.rec.explore import EXPLORE_TAIL

if TYPE_CHECKING:
    from lingxi.rec.service import RefreshReport


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

    r = sub.add_parser("recommend", help="notes for a user: interests + ItemCF + popularity, optional exploration;"
                       " `recommend refresh` runs the LLM exploration ahead of time")
    r.add_argument("action", nargs="?", choices=["refresh"],
                   help="refresh: run the LLM proposer now for --user U (or --all users) and cache its topics, so"
                   " that `recommend --explore` answers from the cache")
    r.add_argument("--user", help="the user (required, except for `refresh --all`)")
    r.add_argument("--all", action="store_true", help="refresh: every user with events")
    r.add_argument("--force", action="store_true", help="refresh: also users whose cached topics are still fresh")
    r.add_argument("--k", type=int, default=20)
    r.add_argument("--explore", type=float, default=0.0,
                   help="share of the list for new interests (e.g. 0.2): the LLM's topics cached by `recommend"
                   " refresh`, or co-engagement topics when none are fresh")
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
    """similar: cosine scores (one scale); recommend: the rank and the reason only (exploration slots are placed by
    share, not by a score that would compare with the ranker's)."""
    if show_reason:
        rows = [[str(it["rank"]), it["title"][:40], " ".join(it["tags"][:3]), it.get("reason", "")[:90]]
                for it in items]
        print(table(rows, ["#", "title", "tags", "why"]))
    else:
        rows = [[str(i), it["title"][:40], " ".join(it["tags"][:3]), f"{it['score']:.3f}"]
                for i, it in enumerate(items, 1)]
        print(table(rows, ["#", "title", "tags", "similarity"]))


def run_similar(lib: Library, args: argparse.Namespace) -> int:
    items = _service(lib).similar(args.note_id, args.k)
    if args.json:
        emit_json({"note_id": args.note_id, "items": items})
    else:
        _print_items(items, False)
    return 0


def run_recommend(lib: Library, args: argparse.Namespace) -> int:
    if args.action == "refresh":
        return run_refresh(lib, args)
    if args.all or args.force:
        raise BadInput("--all and --force belong to `lingxi recommend refresh`")
    if not args.user:
        raise BadInput("recommend needs --user U")
    out = _service(lib).recommend(args.user, args.k, args.explore, proposer=args.proposer, tail=args.explore_tail)
    if args.json:
        emit_json(out)
        return 0
    print(f"user {out['user']}: {out['history']} notes in history; encoder {out['encoder']}; answered in {out['ms']} ms")
    if out["explore"]:
        print(f"  exploration: {out['explore'].get('note') or out['explore']['proposer'] + ' topics'}")
    for t in out["explore_topics"]:
        print(f"  exploring {t['topic']}: {t['reason']}")
    _print_items(out["items"], True)
    return 0


def run_refresh(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.cli.ask import model_progress
    from lingxi.library import make_chat

    if bool(args.user) == bool(args.all):
        raise BadInput("recommend refresh needs --user U or --all")
    svc = _service(lib)
    users = None if args.all else [args.user]
    if users is not None:
        svc.history(args.user)  # an unknown user is reported before the model loads
    chat = make_chat(lib.settings, model_progress)
    total = len(users) if users is not None else len(svc.explore_users())
    done = [0]

    def show(rep: RefreshReport) -> None:
        done[0] += 1
        if not args.json:
            took = f" in {rep.seconds:.1f} s" if rep.status != "fresh" else " (cached, still fresh)"
            print(f"[{done[0]}/{total}] {rep.user}: {rep.status}{took}: {', '.join(rep.topics) or '-'}",
                  file=sys.stderr, flush=True)

    reports = svc.refresh(users, chat, force=args.force, on_user=show)
    if args.json:
        emit_json({"users": [r.to_json() for r in reports], "ttl_hours": lib.settings.explore_ttl_hours})
    else:
        n = sum(r.status != "fresh" for r in reports)
        print(f"refreshed {n} of {len(reports)} users' exploration topics in {sum(r.seconds for r in reports):.1f} s;"
              f" they are served for {lib.settings.explore_ttl_hours:g} h (LINGXI_EXPLORE_TTL)")
    return 0
