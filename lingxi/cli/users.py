"""`lingxi users add|list|revoke`: who may call the HTTP API."""

from __future__ import annotations

import argparse

from lingxi.cli.output import emit_json, table
from lingxi.library import Library


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    u = sub.add_parser("users", help="users of the HTTP API and their keys: add, list, revoke")
    usub = u.add_subparsers(dest="users_cmd", required=True, metavar="{add,list,revoke}")
    add = usub.add_parser("add", help="create a user and print a new API key (shown once; stored hashed)")
    add.add_argument("name")
    add.add_argument("--json", action="store_true", help='print {"user": ..., "key": ...}')
    add.set_defaults(run=run_add)
    ls = usub.add_parser("list", help="users, whether revoked, and how many active keys each has")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_list)
    rv = usub.add_parser("revoke", help="revoke a user and all of their keys")
    rv.add_argument("name")
    rv.add_argument("--json", action="store_true")
    rv.set_defaults(run=run_revoke)


def run_add(lib: Library, args: argparse.Namespace) -> int:
    key = lib.users().add(args.name)
    if args.json:
        emit_json({"user": args.name, "key": key})
    else:
        print(key)
    return 0


def run_list(lib: Library, args: argparse.Namespace) -> int:
    users = lib.users().list()
    if args.json:
        emit_json({"users": [u.to_dict() for u in users]})
    elif users:
        print(table([[u.name, u.created_at, "revoked" if u.revoked else "active", str(u.keys)] for u in users],
                    ["user", "created", "status", "keys"]))
    else:
        print("no users yet: run `lingxi users add NAME`")
    return 0


def run_revoke(lib: Library, args: argparse.Namespace) -> int:
    n = lib.users().revoke(args.name)
    if args.json:
        emit_json({"user": args.name, "revoked_keys": n})
    else:
        print(f"revoked {args.name} ({n} active key{'s' if n != 1 else ''})")
    return 0
