"""Boilerplate removal on pages nobody here labelled: trafilatura's evaluation corpus, scored by its snippets.

    python bench/boilerplate_snippets.py --evaldata DIR/tests/evaldata.json --pages DIR/tests/cache DIR/tests/eval \
        --split test [--paths html,w3m,lynx] [--limit N] [--json OUT]

The corpus (Apache-2.0, https://github.com/adbar/trafilatura, ``tests/evaldata.json`` with the pages under
``tests/cache`` and ``tests/eval``) holds about 950 real pages — news, magazines, blogs, shops, government sites,
mostly German and English — each with a few ``with`` snippets (main text that must be kept, often at the
article's start and end) and ``without`` snippets (navigation, footers, teasers, comments that must be dropped).
It is read from where it lies, never copied into this repository.

Each page goes through the ingest paths a user has: the HTML file itself (``html``) and its text dumps
(``w3m -dump``, ``lynx -dump``) ingested as ``.txt``. Every path has a reference row: for ``html``,
trafilatura alone with lingxi's extraction options, and lingxi with its switch ``lingxi.ingest.html.EDGE_TRIM``
(the boilerplate classifier trimming trafilatura's output at its edges) flipped; for a dump, the dump as it is
(no removal). A snippet counts as present when its letters and digits (lower-cased) occur in
the note's letters and digits. Reported per path and row: ``kept`` = share of ``with`` snippets present
(recall of article text), ``dropped`` = share of ``without`` snippets absent, precision and F1 as trafilatura's
evaluation computes them (a present ``with`` is a true positive, a present ``without`` a false positive).

The split is frozen by URL: ``dev`` holds the pages whose URL's SHA-1 starts with 0–7, ``test`` the rest. The
boilerplate rules may be developed on ``dev``; ``test`` is only reported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingxi.errors import BadInput
from lingxi.ingest import html as html_parser
from lingxi.ingest import parse_bytes

_META_CHARSET = re.compile(rb"<meta[^>]+charset[^>]*>", re.I)


def norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def split_of(url: str) -> str:
    return "dev" if hashlib.sha1(url.encode()).hexdigest()[0] in "01234567" else "test"


def decode(data: bytes) -> str:
    """The page as text, in the charset it declares or the one detected (many pages are not UTF-8)."""
    from trafilatura.utils import decode_file

    out = decode_file(data)
    return out if isinstance(out, str) else data.decode("utf-8", errors="replace")


def dump(tool: str, page_text: str) -> str:
    """``w3m -dump`` / ``lynx -dump`` of the page, fed as UTF-8 with its own charset declaration removed."""
    if shutil.which(tool) is None:
        sys.exit(f"{tool} is not installed (Debian: apt-get install {tool}; `make sysdeps` does it)")
    data = _META_CHARSET.sub(b"", page_text.encode("utf-8", errors="replace"))
    with tempfile.NamedTemporaryFile("wb", suffix=".html") as f:
        f.write(data)
        f.flush()
        cmd = ["w3m", "-dump", "-T", "text/html", "-I", "UTF-8", "-O", "UTF-8"] if tool == "w3m" else \
            ["lynx", "-dump", "-assume_charset=utf-8", "-display_charset=utf-8", "-nolist"]
        out = subprocess.run([*cmd, f.name], capture_output=True, timeout=60,
                             env={**os.environ, "LANG": "C.UTF-8"})
    return out.stdout.decode("utf-8", errors="replace")


def trafilatura_alone(page_text: str) -> str:
    import trafilatura

    doc = trafilatura.bare_extraction(page_text, with_metadata=True, include_comments=False, include_tables=True,
                                      include_images=False, favor_precision=True, deduplicate=False,
                                      include_formatting=True)
    if doc is None:
        return ""
    get = doc.get if isinstance(doc, dict) else lambda k, d=None: getattr(doc, k, d)
    return str(get("title") or "") + "\n" + str(get("text") or "")


def lingxi_body(name: str, data: bytes) -> str:
    try:
        _, notes = parse_bytes(data, name)
    except BadInput:
        return ""
    return "\n".join(f"{n.title}\n{n.body}" for n in notes)


def counts(out: str, page: dict[str, Any]) -> dict[str, int]:
    o = norm(out)
    w = [norm(s) for s in page["with"] if norm(s)]
    wo = [norm(s) for s in page["without"] if norm(s)]
    tp = sum(s in o for s in w)
    fp = sum(s in o for s in wo)
    return {"tp": tp, "fn": len(w) - tp, "fp": fp, "tn": len(wo) - fp, "empty": int(not o)}


def summary(c: dict[str, int]) -> dict[str, float]:
    kept = c["tp"] / max(1, c["tp"] + c["fn"])
    dropped = c["tn"] / max(1, c["tn"] + c["fp"])
    precision = c["tp"] / max(1, c["tp"] + c["fp"])
    f1 = 2 * precision * kept / max(1e-9, precision + kept)
    return {"kept": round(kept, 4), "dropped": round(dropped, 4), "precision": round(precision, 4),
            "f1": round(f1, 4), "empty_pages": c["empty"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--evaldata", type=Path, required=True, help="trafilatura's tests/evaldata.json")
    ap.add_argument("--pages", type=Path, nargs="+", required=True, help="folders holding the pages it names")
    ap.add_argument("--split", choices=("dev", "test", "all"), default="test")
    ap.add_argument("--paths", default="html,w3m,lynx", help="comma-separated: html, w3m, lynx")
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages of the split")
    ap.add_argument("--json", type=Path, help="write per-page rows and the totals here")
    args = ap.parse_args()
    if not args.evaldata.is_file():
        sys.exit(f"{args.evaldata} not found: clone https://github.com/adbar/trafilatura and pass its "
                 "tests/evaldata.json (and --pages its tests/cache tests/eval)")
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    bad = set(paths) - {"html", "w3m", "lynx"}
    if bad:
        sys.exit(f"unknown --paths {sorted(bad)}; known: html, w3m, lynx")
    evaldata = json.loads(args.evaldata.read_text(encoding="utf-8"))
    pages = []
    for url, page in evaldata.items():
        if args.split != "all" and split_of(url) != args.split:
            continue
        found = next((d / page["file"] for d in args.pages if (d / page["file"]).is_file()), None)
        if found is not None:
            pages.append((url, page, found))
    pages.sort(key=lambda x: x[0])
    if args.limit:
        pages = pages[: args.limit]
    if not pages:
        sys.exit("no page of the split was found under --pages")
    rows_out: list[dict[str, Any]] = []
    totals: dict[str, dict[str, int]] = {}
    t0 = time.perf_counter()
    for i, (url, page, file) in enumerate(pages, 1):
        text = decode(file.read_bytes())
        outs: dict[str, str] = {}
        if "html" in paths:
            outs["html: trafilatura alone"] = trafilatura_alone(text)
            outs["html: lingxi"] = lingxi_body(file.stem + ".html", text.encode("utf-8"))
            token = html_parser.EDGE_TRIM.set(not html_parser.EDGE_TRIM.get())
            try:
                outs[f"html: lingxi, edge trim {'on' if html_parser.EDGE_TRIM.get() else 'off'}"] = \
                    lingxi_body(file.stem + ".html", text.encode("utf-8"))
            finally:
                html_parser.EDGE_TRIM.reset(token)
        for tool in ("w3m", "lynx"):
            if tool in paths:
                d = dump(tool, text)
                outs[f"{tool}: dump as is"] = d
                outs[f"{tool}: lingxi"] = lingxi_body(file.stem + ".txt", d.encode("utf-8"))
        row: dict[str, Any] = {"url": url, "file": str(file.name)}
        for name, out in outs.items():
            c = counts(out, page)
            row[name] = c
            tot = totals.setdefault(name, {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "empty": 0})
            for k, v in c.items():
                tot[k] += v
        rows_out.append(row)
        if i % 25 == 0 or i == len(pages):
            print(f"[boilerplate-snippets] {i}/{len(pages)} pages, {time.perf_counter() - t0:.0f}s",
                  file=sys.stderr, flush=True)
    result = {"split": args.split, "pages": len(pages), "rows": {k: summary(v) for k, v in totals.items()}}
    print(f"{args.split}: {len(pages)} pages")
    print("| path: row | with kept | without dropped | precision | F1 | empty notes |")
    print("|---|---|---|---|---|---|")
    for name, s in result["rows"].items():
        print(f"| {name} | {s['kept']:.4f} | {s['dropped']:.4f} | {s['precision']:.4f} | {s['f1']:.4f} |"
              f" {s['empty_pages']} |")
    if args.json:
        args.json.write_text(json.dumps({**result, "per_page": rows_out}, ensure_ascii=False, indent=1),
                             encoding="utf-8")


if __name__ == "__main__":
    main()
