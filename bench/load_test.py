"""Load test of `lingxi serve` on loopback: N concurrent clients, mixed search / notes / ingest, for a fixed time.

Starts a real server process on a free 127.0.0.1 port over a fresh store (the corpus given is ingested first with
the CLI), creates a user, runs the clients until the time is up, stops the server, and prints requests/s, p50/p99
latency per kind and overall, the 5xx count, and the server's resident memory before and after the traffic.
Bounded: it stops by itself after --seconds (plus the server's start and stop).

    python bench/load_test.py demo/corpus --clients 20 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

MIX = (("search", 0.7), ("notes", 0.2), ("ingest", 0.1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lingxi(home: Path, *args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "lingxi", "--home", str(home), *args], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="+", help="files/folders ingested before the traffic (their titles seed the queries)")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--embedder", default=os.environ.get("LINGXI_EMBEDDER", "e5"), choices=["e5", "none"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.clients < 1 or not 1 <= args.seconds <= 600:
        ap.error("--clients ≥ 1 and --seconds in [1, 600]")

    home = Path(tempfile.mkdtemp(prefix="lingxi-load-"))
    env = {**os.environ, "LINGXI_HOME": str(home), "LINGXI_EMBEDDER": args.embedder,
           "LINGXI_THREADS": os.environ.get("LINGXI_THREADS", "1")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    proc = None
    try:
        lingxi(home, "ingest", *args.corpus, env=env)
        key = json.loads(lingxi(home, "users", "add", "loadtest", "--json", env=env))["key"]
        notes = json.loads(lingxi(home, "notes", "list", "--json", env=env))
        titles = [n["title"] for n in notes if n["title"].strip()]
        if not titles:
            ap.error("the corpus gave no notes")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "lingxi", "--home", str(home), "serve", "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit(f"server did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            time.sleep(0.2)
        h = {"Authorization": f"Bearer {key}"}
        # warm up (loads the embedder) so the memory 'before' is the serving process, not an empty one
        httpx.get(base + "/v1/search", params={"q": titles[0]}, headers=h, timeout=120)
        server = psutil.Process(proc.pid)
        rss_before = server.memory_info().rss / 2**20

        results: list[tuple[str, float, int]] = []
        lock = threading.Lock()
        stop_at = time.time() + args.seconds
        note_ids = [n["id"] for n in notes]

        def client(i: int) -> None:
            rnd = random.Random(args.seed * 1000 + i)
            kinds = [k for k, _ in MIX]
            weights = [w for _, w in MIX]
            n = 0
            with httpx.Client(base_url=base, headers=h, timeout=60) as c:
                while time.time() < stop_at:
                    kind = rnd.choices(kinds, weights)[0]
                    t0 = time.perf_counter()
                    try:
                        if kind == "search":
                            words = rnd.choice(titles).split()
                            q = " ".join(words[: rnd.randint(1, 3)]) if len(words) > 1 else rnd.choice(titles)[:8]
                            r = c.get("/v1/search", params={"q": q or "note", "k": 10})
                        elif kind == "notes":
                            r = c.get(f"/v1/notes/{rnd.choice(note_ids)}") if rnd.random() < 0.5 else \
                                c.get("/v1/notes", params={"limit": 50})
                        else:
                            n += 1
                            body = (f"# load note {i}-{n}\n\n{rnd.choice(titles)} — client {i} wrote note {n} about "
                                    f"{rnd.choice(titles)}.\n").encode()
                            r = c.post("/v1/files", files={"file": (f"load-{i}-{n}.md", body, "text/markdown")},
                                       data={"visibility": rnd.choice(["private", "public"])})
                        status = r.status_code
                    except httpx.HTTPError:
                        status = 0  # connection error / timeout
                    with lock:
                        results.append((kind, time.perf_counter() - t0, status))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        t_start = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.time() - t_start
        rss_after = server.memory_info().rss / 2**20

        def summary(rows: list[tuple[str, float, int]]) -> dict[str, float | int]:
            lat = [d * 1000 for _, d, _ in rows]
            return {"requests": len(rows), "rps": round(len(rows) / wall, 1), "p50_ms": round(pct(lat, 0.5), 1),
                    "p99_ms": round(pct(lat, 0.99), 1), "5xx": sum(1 for *_, s in rows if s >= 500),
                    "4xx": sum(1 for *_, s in rows if 400 <= s < 500), "errors": sum(1 for *_, s in rows if s == 0)}

        out = {"clients": args.clients, "seconds": round(wall, 1), "embedder": args.embedder,
               "corpus_notes": len(notes), "all": summary(results),
               "by_kind": {k: summary([r for r in results if r[0] == k]) for k, _ in MIX},
               "server_rss_mb": {"before": round(rss_before, 1), "after": round(rss_after, 1)}}
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            a = out["all"]
            print(f"{args.clients} clients, {out['seconds']} s, embedder {args.embedder}, {len(notes)} notes preloaded")
            print(f"{'kind':8} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'5xx':>4} {'4xx':>4} {'err':>4}")
            for k, s in [("all", a), *out["by_kind"].items()]:
                print(f"{k:8} {s['requests']:>8} {s['rps']:>7} {s['p50_ms']:>8} {s['p99_ms']:>8} {s['5xx']:>4} "
                      f"{s['4xx']:>4} {s['errors']:>4}")
            print(f"server RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after")
        return 0 if out["all"]["5xx"] == 0 and out["all"]["errors"] == 0 else 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
