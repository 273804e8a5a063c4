"""`lingxi search`, `lingxi index rebuild`, `lingxi remove`."""

from __future__ import annotations

import argparse
import sys

from lingxi.cli.output import emit_json
from lingxi.index.filters import FIELDS
from lingxi.library import Library
from lingxi.search import MODES


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("search", help="hybrid (BM25 + dense) search over the chunks")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--mode", choices=MODES, default=None,
                   help="hybrid (default), bm25 or dense; with embeddings off (LINGXI_EMBEDDER=none) the default is bm25")
    p.add_argument("--filter", action="append", metavar="FIELD=VALUE",
                   help="repeatable; fields: " + ", ".join(f"{k} ({v})" for k, v in FIELDS.items()))
    p.add_argument("--per-note", type=int, default=1, help="passages shown per note (default 1; 0 for no limit); the others of that note are grouped under it and counted")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_search)

    idx = sub.add_parser("index", help="maintain the retrieval indexes")
    isub = idx.add_subparsers(dest="index_cmd", required=True, metavar="{rebuild}")
    rb = isub.add_parser("rebuild", help="re-tokenize and re-embed (from cache) every chunk; rebuild the vector index")
    rb.add_argument("--json", action="store_true")
    rb.set_defaults(run=run_rebuild)

    rm = sub.add_parser("remove", help="delete the notes ingested from files or folders (store and indexes)")
    rm.add_argument("paths", nargs="+", metavar="PATH")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(run=run_remove)


def run_search(lib: Library, args: argparse.Namespace) -> int:
    args.mode = args.mode or lib.default_mode()
    res = lib.search_results(args.query, k=args.k, mode=args.mode, filters=args.filter, per_note=args.per_note)
    if args.json:
        emit_json({"query": args.query, "mode": args.mode, **res.to_dict()})
        return 0
    if not res.hits:
        print("no results")
        return 0
    rank = {h.chunk.id: i for i, h in enumerate(res.hits, 1)}
    for n, g in enumerate(res.groups, 1):
        more = f"  (+{g.grouped} more passage{'s' if g.grouped != 1 else ''} of this note grouped)" if g.grouped else ""
        print(f"{n:>2}. {g.title}  [{g.kind}]  {g.source}{more}")
        for h in g.hits:
            print(f"    #{rank[h.chunk.id]} {h.chunk.locator.label()}  score {h.score:.4f}  ({h.chunk.id})")
            print(f"       {h.snippet}")
    print(res.summary())
    return 0


def run_rebuild(lib: Library, args: argparse.Namespace) -> int:
    def progress(i: int, n: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r\033[K[{i}/{n}] files re-indexed" + ("\n" if i == n else ""))
        elif i == n or i % 500 == 0:
            sys.stderr.write(f"[{i}/{n}] files re-indexed\n")

    out = lib.rebuild_index(progress)
    if args.json:
        emit_json(out)
    else:
        print(f"re-indexed {out['chunks']} chunks from {out['files']} files")
    return 0


def run_remove(lib: Library, args: argparse.Namespace) -> int:
    reports = lib.remove(args.paths)
    failed = [r for r in reports if r.status == "failed"]
    if args.json:
        emit_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            if r.status == "removed":
                print(f"removed    {r.path}  ({r.notes} notes)")
    for r in failed:
        print(f"lingxi: error: {r.reason}", file=sys.stderr)
    return 1 if failed else 0
