"""`lingxi ingest PATH...`"""

from __future__ import annotations

import argparse
import sys

from lingxi.cli.output import emit_json
from lingxi.ingest import FORMATS
from lingxi.ingest.formats import MEDIA_FORMATS
from lingxi.library import Library
from lingxi.types import FileReport, format_clock


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("ingest", help="ingest files or folders (recursive) into the store")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=[*FORMATS, *MEDIA_FORMATS], help="force a format instead of detecting it")
    p.add_argument("--json", action="store_true", help="print the per-file report as JSON")
    p.add_argument("--strict", action="store_true",
                   help="a JSONL file with any bad row is not stored at all (default: store the good rows)")
    p.set_defaults(run=run)


def run(lib: Library, args: argparse.Namespace) -> int:
    interactive = sys.stderr.isatty()

    def progress(i: int, n: int, r: FileReport) -> None:
        if n < 2:
            return
        if interactive:
            sys.stderr.write(f"\r\033[K[{i}/{n}] {r.status:9s} {r.path[-60:]}")
            if i == n:
                sys.stderr.write("\n")
        elif n >= 500 and (i % 500 == 0 or i == n):
            sys.stderr.write(f"[{i}/{n}] files processed\n")
        sys.stderr.flush()

    def embedding(done: int, total: int) -> None:
        if total < 200:
            return
        if interactive:
            sys.stderr.write(f"\r\033[K  embedding {done}/{total} chunks" + ("\n" if done == total else ""))
        elif done == total or done % 1000 < 16:
            sys.stderr.write(f"  embedding {done}/{total} chunks\n")
        sys.stderr.flush()

    def recognising(name: str, done: float, total: float) -> None:
        if total < 120:
            return
        line = f"  transcribing {name[-50:]}: {format_clock(done)} / {format_clock(total)}"
        sys.stderr.write((f"\r\033[K{line}" + ("\n" if done >= total else "")) if interactive else line + "\n")
        sys.stderr.flush()

    lib.embed_progress = embedding
    lib.recognizers.progress = recognising
    reports = lib.ingest(args.paths, fmt=args.format, progress=progress, strict=args.strict)
    counts = {s: sum(r.status == s for r in reports) for s in ("ingested", "unchanged", "failed", "skipped", "empty")}
    bad = sum(len(r.bad_rows) for r in reports if r.status != "failed")  # left out of a file that was stored
    if args.json:
        emit_json({"files": [r.to_dict() for r in reports], "summary": {**counts, **({"bad_rows": bad} if bad else {})}})
    else:
        for r in reports:
            if r.status == "failed":
                continue
            if r.status == "ingested":
                print(f"ingested   {r.path}  [{r.format}] {r.notes} notes, {r.chunks} chunks")
            elif r.status == "unchanged":
                print(f"unchanged  {r.path}")
            elif r.status == "empty":
                print(f"empty      {r.path}  ({r.reason})")
            else:
                print(f"skipped    {r.path}  ({r.reason})")
        print(", ".join(f"{v} {k}" for k, v in counts.items() if v or k not in ("skipped", "empty"))
              + (f", {bad} bad rows" if bad else ""))
    for r in reports:
        if r.status == "failed":
            print(f"lingxi: error: {r.reason}", file=sys.stderr)
        for msg in r.bad_rows if r.status != "failed" else r.bad_rows[1:]:  # a failed file's reason is its first
            print(f"lingxi: error: {msg}" + ("" if msg.endswith("left out") or r.status == "failed" else " (row skipped)"),
                  file=sys.stderr)
    if bad and not args.json:
        print(f"lingxi: {bad} bad rows or lines were left out; fix them and ingest the file again, "
              "or use --strict to store nothing from a file with bad rows or lines", file=sys.stderr)
    return 1 if counts["failed"] or bad else 0
