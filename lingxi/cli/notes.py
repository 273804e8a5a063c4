"""`lingxi notes list|show` and `lingxi stats`."""

from __future__ import annotations

import argparse

from lingxi.cli.output import emit_json, shorten, table
from lingxi.library import Library


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    notes = sub.add_parser("notes", help="list or show stored notes")
    nsub = notes.add_subparsers(dest="notes_cmd", required=True, metavar="{list,show}")
    ls = nsub.add_parser("list", help="id, title, source, kind and chunk count of each note")
    ls.add_argument("--kind", help="only notes of this kind (markdown, html, srt, ...)")
    ls.add_argument("--limit", type=int, help="at most this many notes")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_list)
    show = nsub.add_parser("show", help="one note with all its chunks, their text and locators")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=run_show)
    st = sub.add_parser("stats", help="counts of files, notes and chunks in the store")
    st.add_argument("--json", action="store_true")
    st.set_defaults(run=run_stats)


def run_list(lib: Library, args: argparse.Namespace) -> int:
    rows = lib.list_notes(kind=args.kind, limit=args.limit)
    if args.json:
        emit_json(rows)
    elif rows:
        print(
            table(
                [[r["id"], shorten(r["title"], 40), r["kind"], str(r["chunk_count"]), r["source"]] for r in rows],
                ["id", "title", "kind", "chunks", "source"],
            )
        )
    elif args.kind or lib.list_notes(limit=1):
        print("no notes match" + (f" kind {args.kind!r}" if args.kind else f" (--limit {args.limit})"))
    else:
        print("no notes yet: run `lingxi ingest PATH`")
    return 0


def run_show(lib: Library, args: argparse.Namespace) -> int:
    note = lib.get_note(args.id)
    if args.json:
        emit_json(note.to_dict())
        return 0
    print(f"{note.title}\n  id: {note.id}\n  kind: {note.kind}\n  source: {note.source}")
    for k, v in note.meta.items():
        print(f"  {k}: {v}")
    print(f"  chunks: {len(note.chunks)}\n")
    for c in note.chunks:
        print(f"[{c.ord}] {c.locator.label()}")
        print("    " + c.text.replace("\n", "\n    "))
    return 0


def run_stats(lib: Library, args: argparse.Namespace) -> int:
    s = lib.stats()
    if args.json:
        emit_json(s)
        return 0
    print(f"store: {s['home']}")
    print(
        f"files {s['files']}, notes {s['notes']}, chunks {s['chunks']}, characters {s['characters']}, "
        f"database {s['db_bytes'] / 1e6:.1f} MB"
    )
    if s["by_kind"]:
        print(
            table(
                [[k, str(v["notes"]), str(v["chunks"])] for k, v in s["by_kind"].items()], ["kind", "notes", "chunks"]
            )
        )
    return 0
