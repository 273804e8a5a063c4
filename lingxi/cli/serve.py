"""`lingxi serve`: the HTTP API and the web app, from this store."""

from __future__ import annotations

import argparse
import sys

from lingxi.library import Library


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("serve", help="serve the HTTP API (/v1, /docs) and the web app (/) from this store")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--queue", type=int, default=None, help="requests that may wait for the LLM (default 8)")
    s.set_defaults(run=run_serve)


def run_serve(lib: Library, args: argparse.Namespace) -> int:
    import uvicorn

    from lingxi.api.app import ServerConfig, create_app

    config = ServerConfig.load(queue_depth=args.queue)
    app = create_app(lib, config)
    if not lib.users().list():
        print("lingxi: no users yet; create one with `lingxi users add NAME` (every /v1 call needs its key)",
              file=sys.stderr)
    print(f"lingxi: serving {lib.settings.home} on http://{args.host}:{args.port}/ (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
