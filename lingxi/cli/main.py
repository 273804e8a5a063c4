"""Entry point: `lingxi [--home DIR] COMMAND ...`."""

from __future__ import annotations

import argparse
import os
import sys

from lingxi import __version__
from lingxi.cli import ask, companion, evaluate, ingest, model, notes, rec, search, serve, users
from lingxi.config import Settings
from lingxi.errors import LingxiError
from lingxi.library import Library

COMMANDS = [ingest, notes, search, ask, rec, companion, evaluate, model, serve, users]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lingxi", description="lingxi (灵犀): search, recommend and chat over your notes.")
    p.add_argument("--home", help="store directory (default: $LINGXI_HOME or ~/.lingxi)")
    p.add_argument("--threads", type=int, help="CPU threads for models (default: leave one core free)")
    p.add_argument("--version", action="version", version=f"lingxi {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for mod in COMMANDS:
        mod.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lib = Library(Settings.load(args.home, args.threads))
    except LingxiError as e:
        print(f"lingxi: error: {e}", file=sys.stderr)
        return 1
    try:
        return int(args.run(lib, args))
    except LingxiError as e:
        print(f"lingxi: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lingxi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`lingxi search ... | head`): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        lib.close()


if __name__ == "__main__":
    sys.exit(main())
