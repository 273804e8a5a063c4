"""`lingxi model list|prepare`: the bundled GGUF models in the shared model cache."""

from __future__ import annotations

import argparse

from lingxi.cli.ask import model_progress
from lingxi.cli.output import emit_json, table
from lingxi.library import Library
from lingxi.llm.bundled import MODELS, cached, resolve_model, verify


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("model", help="bundled local models")
    msub = p.add_subparsers(dest="model_cmd", required=True, metavar="{list,prepare}")
    ls = msub.add_parser("list", help="bundled models, sizes, SHA-256 and whether they are in the model cache")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_list)
    pr = msub.add_parser("prepare", help="assemble bundled models into the shared model cache and verify SHA-256")
    pr.add_argument("names", nargs="*", help=f"default: all of {', '.join(MODELS)}")
    pr.add_argument("--verify", action="store_true",
                    help="re-hash files already in the cache (a file that does not match is assembled again)")
    pr.set_defaults(run=run_prepare)


def run_list(lib: Library, args: argparse.Namespace) -> int:
    folder = lib.settings.model_cache
    rows = [{"name": m.name, "file": m.filename, "bytes": m.size, "sha256": m.sha256, "packages": m.pip_names,
             "path": str(folder / m.filename), "cached": cached(m, folder) is not None}
            for m in MODELS.values()]
    if args.json:
        emit_json({"cache": str(folder), "models": rows})
    else:
        print(f"model cache: {folder} (LINGXI_MODEL_CACHE moves it)")
        print(table([[m.name, f"{m.size / 1e6:.0f} MB", "yes" if r["cached"] else "no", m.sha256[:16] + "…",
                      m.pip_names] for r, m in zip(rows, MODELS.values())],
                    ["name", "size", "cached", "sha256", "packages"]))
    return 0


def run_prepare(lib: Library, args: argparse.Namespace) -> int:
    folder = lib.settings.model_cache
    for name in args.names or list(MODELS):
        if args.verify and name in MODELS and not verify(MODELS[name], folder, model_progress):
            print(f"{name}: not in the cache or its SHA-256 does not match; assembling it again")
        path = resolve_model(name, folder, model_progress)  # assembly checks the hash of what it wrote
        print(f"{name}: {path} (SHA-256 verified)")
    return 0
