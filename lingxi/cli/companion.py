"""`lingxi chat`, `lingxi memory list|show|edit|forget|export|extract`, `lingxi persona list`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lingxi.cli.output import emit_fields, emit_json, shorten, table
from lingxi.errors import BadInput
from lingxi.library import Library


def _user_persona(p: argparse.ArgumentParser, persona_help: str = "persona id (pet, assistant, groupchat)") -> None:
    p.add_argument("--user", required=True)
    p.add_argument("--persona", default="pet", help=persona_help)
    p.add_argument("--json", action="store_true")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = sub.add_parser("chat", help="chat with a persona that remembers you (interactive, or --message once)")
    _user_persona(c, "persona id (pet, assistant, groupchat) or a YAML file; several, comma-separated, "
                     "for a group chat")
    c.add_argument("--message", help="one message; prints the reply (with --json: reply, memories used and written)")
    c.add_argument("--voice-in", metavar="FILE", help="an audio file with the message (transcribed by Whisper)")
    c.add_argument("--voice-out", metavar="FILE", help="write the spoken reply to this WAV file")
    c.add_argument("--date", help="the session's date/time (ISO), default now")
    c.add_argument("--memory-inline", action="store_true",
                   help="consolidate memories before the reply returns (default: in the background)")
    c.set_defaults(run=run_chat)

    m = sub.add_parser("memory", help="what a persona remembers about a user: list, show, edit, forget, export")
    msub = m.add_subparsers(dest="memory_cmd", required=True, metavar="{list,show,edit,forget,export,extract}")
    ls = msub.add_parser("list", help="the memories a person can read (facts, plans, preferences, ...)")
    _user_persona(ls)
    ls.add_argument("--all", action="store_true", help="include superseded memories and conversation excerpts")
    ls.set_defaults(run=run_list)
    sh = msub.add_parser("show", help="one memory with its source turns and its history")
    sh.add_argument("memory_id", type=int)
    _user_persona(sh)
    sh.set_defaults(run=run_show)
    ed = msub.add_parser("edit", help="correct a memory (the old text stays in its history) or change its scope")
    ed.add_argument("memory_id", type=int)
    _user_persona(ed)
    ed.add_argument("--text")
    ed.add_argument("--importance", type=int)
    ed.add_argument("--about", help="who it is about: 'user' or a name")
    ed.add_argument("--scope", choices=["persona", "shared"], help="this persona only, or all of the user's personas")
    ed.set_defaults(run=run_edit)
    fg = msub.add_parser("forget", help="delete a memory (or --everything) for real, with the turns it came from")
    fg.add_argument("memory_id", type=int, nargs="?")
    fg.add_argument("--everything", action="store_true", help="forget every memory and turn of this user")
    _user_persona(fg)
    fg.set_defaults(run=run_forget)
    ex = msub.add_parser("export", help="every memory (with history and sources) as JSON")
    _user_persona(ex)
    ex.add_argument("--output", help="write to this file instead of standard output")
    ex.set_defaults(run=run_export)
    ext = msub.add_parser("extract", help="turn the conversation not yet remembered into memories now")
    _user_persona(ext)
    ext.add_argument("--date", help="now, for sessions still open (ISO), default now")
    ext.set_defaults(run=run_extract)

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
    return MemoryStore(lib.conn, args.user, p.id, emb.embed if emb else None, transaction=lib.store.transaction,
                       shared=p.memory == "shared")


def _date(raw: str | None, flag: str = "--date") -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError as e:
        raise BadInput(f"{flag} {raw!r} is not an ISO date/time") from e


def run_chat(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.cli.ask import model_progress
    from lingxi.companion.chat import Companion, CompanionConfig
    from lingxi.companion.group import GroupChat
    from lingxi.library import make_chat
    from lingxi.text import written_in

    when = _date(args.date)
    if args.message is not None and not args.message.strip():
        raise BadInput("--message is empty")
    if args.message is not None and args.voice_in:
        raise BadInput("give --message or --voice-in, not both")
    out_path = Path(args.voice_out) if args.voice_out else None
    if out_path is not None and out_path.suffix.lower() != ".wav":
        raise BadInput(f"--voice-out {args.voice_out!r}: only .wav files are written")
    personas = [_persona(lib, n.strip()) for n in args.persona.split(",") if n.strip()]
    if not personas:
        raise BadInput("--persona is empty")
    heard = None
    t0 = time.perf_counter()
    if args.voice_in:
        from lingxi.companion.voice import hear

        heard = hear(Path(args.voice_in), lib.settings.threads, lib.recognizers.asr)
        if not args.json:
            print(f"(heard, {heard.lang}) {heard.text}", file=sys.stderr)
    message = heard.text if heard else args.message
    chat = make_chat(lib.settings, model_progress)
    # memory work runs on a second instance of the model: it shares the weights (memory-mapped) and never holds
    # the lock the reply needs
    memory_chat = make_chat(lib.settings) if not args.memory_inline else chat
    cfg = CompanionConfig(background=not args.memory_inline)
    if len(personas) > 1:
        return _group(lib, args, GroupChat(lib, chat, personas, cfg, memory_chat=memory_chat), message, when)
    comp = Companion(lib, chat, personas[0], cfg, memory_chat=memory_chat)
    if message is not None:
        stream = None if args.json else (lambda t: print(t, end="", flush=True))
        out = comp.respond(args.user, message, when, on_token=stream)
        if not args.json:
            print()
        if heard is not None:
            out["heard"] = {"text": heard.text, "lang": heard.lang, "audio_s": round(heard.audio_seconds, 2),
                            "asr_s": round(heard.seconds, 2), "asr_rtf": round(heard.rtf, 3)}
        if out_path is not None:
            out["voice_out"] = _speak(comp.persona, out["reply"], written_in(out["reply"]), out_path, args.json)
            out["round_trip_s"] = round(time.perf_counter() - t0, 2)
        errors = _settle(comp.flush(), args.json)
        if args.json:
            out["memory_errors"] = errors
            emit_json(out)
        return 0
    p = comp.persona
    print(f"{p.name} ({p.kind}) — Ctrl-D to leave.\n{p.name}: {p.greeting}")
    try:
        while True:
            try:
                msg = input("you> ")
            except EOFError:
                print()
                return 0
            if not msg.strip():
                continue
            print(f"{p.name}: ", end="", flush=True)
            comp.respond(args.user, msg, when, on_token=lambda t: print(t, end="", flush=True))
            print()
    finally:  # the session is over: what it said becomes memories before leaving
        print("(remembering this conversation…)", file=sys.stderr)
        _settle(comp.flush(args.user, when), False)


def _group(lib: Library, args: argparse.Namespace, group: Any, message: str | None, when: datetime | None) -> int:
    from lingxi.text import written_in

    if message is None:
        raise BadInput("a group chat takes --message or --voice-in")
    rounds = group.respond(args.user, message, when)
    for r in rounds:
        if not args.json:
            print(f"{r['name']}: {r['reply']}")
    if args.voice_out and rounds:
        first = rounds[0]
        member = next(m for m in group.members if m.persona.id == first["persona"])
        first["voice_out"] = _speak(member.persona, first["reply"], written_in(first["reply"]), Path(args.voice_out),
                                    args.json)
    group.flush()
    if args.json:
        emit_json({"replies": rounds})
    return 0


def _speak(persona: Any, reply: str, lang: str, path: Path, quiet: bool) -> dict[str, Any]:
    from lingxi.companion.voice import say

    speech = say(reply, lang, persona, path)
    info = {"file": str(path), "voice": speech.voice, "audio_s": round(speech.duration, 2),
            "tts_s": round(speech.seconds, 2), "tts_rtf": round(speech.rtf, 3)}
    if not quiet:
        print(f"(spoken reply: {path}, {speech.duration:.1f} s, {speech.voice})", file=sys.stderr)
    return info


def _settle(reports: list[Any], quiet: bool) -> list[str]:
    errors = [e for r in reports for e in r.errors]
    if errors and not quiet:
        print(f"(memory extraction failed, will retry next time: {errors[0]})", file=sys.stderr)
    return errors


def _row(m: Any) -> list[str]:
    return [str(m.id), shorten(m.about, 18), m.kind, shorten(m.text, 60), m.when_text or "-", str(m.importance),
            ",".join(m.turns[:2]) or "-", m.scope]


def run_list(lib: Library, args: argparse.Namespace) -> int:
    store = _store(lib, args)
    mems = store.entries(include_superseded=args.all, readable=not args.all)
    pending = len(store.pending_turns())
    if args.json:
        emit_json({"user": args.user, "persona": args.persona, "memories": [m.to_dict() for m in mems],
                   "turns_not_yet_remembered": pending})
        return 0
    if not mems:
        print(f"nothing remembered about {args.user}")
    else:
        rows = [_row(m) + ([f"superseded by #{m.superseded_by}"] if args.all else []) for m in mems]
        print(table(rows, ["id", "about", "kind", "memory", "when", "imp", "from", "scope"] +
                    (["status"] if args.all else [])))
    if pending:
        print(f"({pending} turns not yet turned into memories: `lingxi memory extract` does it now)")
    return 0


def run_show(lib: Library, args: argparse.Namespace) -> int:
    store = _store(lib, args)
    m = store.get(args.memory_id)
    d = m.to_dict()
    d["source_turns"] = store.source_turns(store.trace(m))
    d["history"] = [h.to_dict() for h in store.history(m.id)]
    if args.json:
        emit_json(d)
        return 0
    emit_fields({k: v for k, v in d.items() if k not in ("source_turns", "history")}, False)
    for t in d["source_turns"]:
        print(f"{'source':>16}: [{t['ref']}] {t['time']} {t['speaker']}: {shorten(t['text'], 90)}")
    for h in d["history"]:
        print(f"{'was':>16}: #{h['id']} {h['text']} ({h['supersede_reason']})")
    return 0


def run_edit(lib: Library, args: argparse.Namespace) -> int:
    if args.text is None and args.importance is None and args.about is None and args.scope is None:
        raise BadInput("nothing to change: give --text, --importance, --about or --scope")
    if args.text is not None and not args.text.strip():
        raise BadInput("--text is empty")
    m = _store(lib, args).edit(args.memory_id, datetime.now(UTC).timestamp(), text=args.text,
                               importance=args.importance, scope=args.scope, subject=args.about)
    emit_fields(m.to_dict(), args.json)
    return 0


def run_forget(lib: Library, args: argparse.Namespace) -> int:
    store = _store(lib, args)
    if args.everything:
        n = store.forget_all()
        out: dict[str, Any] = {"forgotten": n, "user": args.user}
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


def run_export(lib: Library, args: argparse.Namespace) -> int:
    store = _store(lib, args)
    mems = store.entries(include_superseded=True, readable=True)
    doc = {"user": args.user, "persona": args.persona, "exported": datetime.now(UTC).isoformat(timespec="seconds"),
           "memories": [{**m.to_dict(), "source_turns": store.source_turns(store.trace(m))} for m in mems]}
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        out = Path(args.output)
        tmp = out.with_name(out.name + ".part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
        print(f"exported {len(mems)} memories to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_extract(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.cli.ask import model_progress
    from lingxi.companion.chat import Companion, CompanionConfig
    from lingxi.library import make_chat

    comp = Companion(lib, make_chat(lib.settings, model_progress), _persona(lib, args.persona),
                     CompanionConfig(background=False))
    t0 = time.perf_counter()
    rep = comp.consolidate(args.user, _date(args.date) or datetime.now(UTC).replace(tzinfo=None), force=True)
    out = {"windows": rep.windows, "turns": rep.turns, "llm_calls": rep.llm_calls, "added": rep.added,
           "merged": rep.merged, "superseded": rep.superseded, "errors": rep.errors,
           "seconds": round(time.perf_counter() - t0, 1)}
    emit_fields(out, args.json)
    return 1 if rep.errors else 0


def run_personas(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.companion import persona

    found = persona.available(lib.settings.home / "personas")
    if args.json:
        emit_json({"personas": [{"id": p.id, "name": p.name, "kind": p.kind, "description": p.description,
                                 "memory": p.memory, "speech": dict(p.voices)} for p in found.values()]})
    else:
        print(table([[p.id, p.name, p.kind, p.memory, shorten(p.description, 60)] for p in found.values()],
                    ["id", "name", "kind", "memory", "description"]))
    return 0
