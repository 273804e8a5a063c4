"""`lingxi chat`, `lingxi memory list|show|forget`, `lingxi persona list`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from lingxi.cli.output import emit_fields, emit_json, shorten, table
from lingxi.errors import BadInput
from lingxi.library import Library


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = sub.add_parser("chat", help="chat with a persona that remembers you (interactive, or --message once)")
    c.add_argument("--user", required=True)
    c.add_argument("--persona", default="pet", help="persona id (pet, assistant, groupchat) or a YAML file")
    c.add_argument("--message", help="one message; prints the reply (with --json: reply, memories used and written)")
    c.add_argument("--date", help="the session's date/time (ISO), default now")
    c.add_argument("--extract-every", type=int, default=1, help="exchanges per memory-extraction window (default 1)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(run=run_chat)

    m = sub.add_parser("memory", help="what a persona remembers about a user: list, show, forget")
    msub = m.add_subparsers(dest="memory_cmd", required=True, metavar="{list,show,forget}")
    ls = msub.add_parser("list")
    ls.add_argument("--user", required=True)
    ls.add_argument("--persona", default="pet")
    ls.add_argument("--all", action="store_true", help="include superseded memories")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_list)
    sh = msub.add_parser("show")
    sh.add_argument("memory_id", type=int)
    sh.add_argument("--user", required=True)
    sh.add_argument("--persona", default="pet")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(run=run_show)
    fg = msub.add_parser("forget", help="delete a memory (or --everything) for real: store and indexes")
    fg.add_argument("memory_id", type=int, nargs="?")
    fg.add_argument("--everything", action="store_true", help="forget every memory and turn of this user")
    fg.add_argument("--user", required=True)
    fg.add_argument("--persona", default="pet")
    fg.add_argument("--json", action="store_true")
    fg.set_defaults(run=run_forget)

    p = sub.add_parser("persona", help="personas")
    psub = p.add_subparsers(dest="persona_cmd", required=True, metavar="{list}")
    pl = psub.add_parser("list")
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(run=run_personas)


def _persona(lib: Library, name: str):  # type: ignore[no-untyped-def]
    from lingxi.companion import persona

    return persona.load(name, lib.settings.home / "personas")


def _store(lib: Library, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from lingxi.companion.memory import MemoryStore

    p = _persona(lib, args.persona)
    emb = lib.embedder
    return MemoryStore(lib.conn, args.user, p.id, emb.embed if emb else None, transaction=lib.store.transaction)


def run_chat(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.cli.ask import model_progress
    from lingxi.companion.chat import Companion, CompanionConfig
    from lingxi.library import make_chat

    when = None
    if args.date:
        try:
            when = datetime.fromisoformat(args.date)
        except ValueError as e:
            raise BadInput(f"--date {args.date!r} is not an ISO date/time") from e
    if args.message is not None and not args.message.strip():
        raise BadInput("--message is empty")
    comp = Companion(lib, make_chat(lib.settings, model_progress), _persona(lib, args.persona),
                     CompanionConfig(extract_every=max(1, args.extract_every)))
    if args.message is not None:
        stream = None if args.json else (lambda t: print(t, end="", flush=True))
        out = comp.respond(args.user, args.message, when, on_token=stream)
        if args.json:
            emit_json(out)
        else:
            print()
        return 0
    p = comp.persona
    print(f"{p.name} ({p.kind}) — Ctrl-D to leave.\n{p.name}: {p.greeting}")
    while True:
        try:
            msg = input("you> ")
        except EOFError:
            print()
            return 0
        if not msg.strip():
            continue
        print(f"{p.name}: ", end="", flush=True)
        out = comp.respond(args.user, msg, when, on_token=lambda t: print(t, end="", flush=True))
        print()
        if out["extraction_error"]:
            print(f"(memory extraction failed, will retry: {out['extraction_error']})", file=sys.stderr)


def run_list(lib: Library, args: argparse.Namespace) -> int:
    mems = _store(lib, args).entries(include_superseded=args.all)
    if args.json:
        emit_json({"user": args.user, "persona": args.persona, "memories": [m.to_dict() for m in mems]})
        return 0
    if not mems:
        print(f"nothing remembered about {args.user}")
        return 0
    rows = [[str(m.id), m.kind, str(m.importance), m.to_dict()["time"][:10],
             shorten(m.text, 70) + (f"  (superseded by #{m.superseded_by})" if m.superseded_by else "")] for m in mems]
    print(table(rows, ["id", "kind", "imp", "date", "memory"]))
    return 0


def run_show(lib: Library, args: argparse.Namespace) -> int:
    m = _store(lib, args).get(args.memory_id)
    d = m.to_dict()
    emit_fields(d, args.json)
    return 0


def run_forget(lib: Library, args: argparse.Namespace) -> int:
    store = _store(lib, args)
    if args.everything:
        n = store.forget_all()
        out = {"forgotten": n, "user": args.user}
    elif args.memory_id is not None:
        m = store.forget(args.memory_id)
        out = {"forgotten": 1, "memory": m.to_dict()}
    else:
        raise BadInput("give a memory id or --everything")
    if args.json:
        emit_json(out)
    else:
        print(f"forgot {out['forgotten']} memor{'y' if out['forgotten'] == 1 else 'ies'} of {args.user}")
    return 0


def run_personas(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.companion import persona

    found = persona.available(lib.settings.home / "personas")
    if args.json:
        emit_json({"personas": [{"id": p.id, "name": p.name, "kind": p.kind, "description": p.description}
                                for p in found.values()]})
    else:
        print(table([[p.id, p.name, p.kind, shorten(p.description, 60)] for p in found.values()],
                    ["id", "name", "kind", "description"]))
    return 0
