"""Boilerplate benchmark: how much page chrome a parsed note keeps, and how much article text it loses.

    python bench/boilerplate.py --corpus ../shared/data/realworld [--labels bench/data/boilerplate_labels.jsonl]
                                [--ablate] [--json OUT]

Pages and labels: ``bench/data/boilerplate_labels.jsonl`` names each page of the corpus and the line ranges
(1-based, inclusive) that are article text, in a canonical rendering: ``w3m-wide`` is ``w3m -dump -cols 4000``
of the HTML (one block element per line), ``file`` the file's own lines. ``neutral`` ranges (headline,
byline, editor credit) count neither way: a parser may keep or drop them. ``sha1`` is the hash of the
labelled article text, checked on every run so a different renderer cannot silently move the labels.

Each page goes through the ingest paths a user has: the HTML file itself (``html``), and the text dumps people
make of it — ``w3m -dump`` and ``lynx -dump`` with their default settings, and a browser's select-all copy
(``copy``: Chromium's ``innerText`` of the page, scripts off, when Playwright and Chromium are installed) —
ingested as ``.txt`` files; clipped Markdown pages go through the Markdown path (``clip``). The parsed
notes' bodies are compared with the labels on letters, digits and CJK characters only (whitespace and
punctuation ignored), aligned in order with difflib, so a line kept twice counts once as article text:

* ``lost``: article characters missing from the note, as a share of the article;
* ``kept``: note characters that are not article text (nor neutral), as a share of the page's boilerplate.

``--ablate`` adds a row per named rule of ``lingxi.ingest.boilerplate`` with that rule switched off, and a
``none`` row (no boilerplate removal at all). Run it against another checkout (``PYTHONPATH=that/tree``) to
get its "before" numbers: without ``lingxi.ingest.boilerplate`` only the default row is printed.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingxi.errors import BadInput
from lingxi.ingest import parse_bytes

try:
    from lingxi.ingest import boilerplate as bp
except ImportError:  # an older checkout, measured for its "before" numbers
    bp = None  # type: ignore[assignment]

LABELS = Path(__file__).resolve().parent / "data" / "boilerplate_labels.jsonl"
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]{0,40}\]")


def norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def run_tool(cmd: list[str], path: Path) -> str:
    if shutil.which(cmd[0]) is None:
        sys.exit(f"{cmd[0]} is not installed (Debian: apt-get install {cmd[0]}; `make sysdeps` does it)")
    out = subprocess.run([*cmd, str(path)], capture_output=True, check=True, env={**os.environ, "LANG": "C.UTF-8"})
    return out.stdout.decode("utf-8", errors="replace")


def w3m(path: Path, cols: int | None = None) -> str:
    return run_tool(["w3m", "-dump", "-T", "text/html", "-I", "UTF-8", "-O", "UTF-8"]
                    + (["-cols", str(cols)] if cols else []), path)


def lynx(path: Path) -> str:
    return run_tool(["lynx", "-dump", "-assume_charset=utf-8", "-display_charset=utf-8"], path)


def canonical(page: Path, render: str) -> list[str]:
    if render == "w3m-wide":
        return w3m(page, 4000).split("\n")
    if render == "file":
        return page.read_text(encoding="utf-8").split("\n")
    raise SystemExit(f"unknown render {render!r} in labels; known: w3m-wide, file")


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")


_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def take(lines: list[str], ranges: list[list[int]], markdown: bool = False) -> list[str]:
    """The labelled lines as a reader sees them: in a browser rendering, image slots (``[logo]``) are not text;
    in Markdown, entities and escapes are decoded and image and link targets are markup."""
    out = []
    for a, b in ranges:
        for i in range(a, b + 1):
            ln = lines[i - 1]
            if markdown:
                out.append(_MD_ESCAPE.sub(r"\1", _MD_LINK.sub(r"\1", _MD_IMAGE.sub("", html.unescape(ln)))))
            else:
                out.append(_PLACEHOLDER.sub("", ln))
    return out


class Browser:
    """A browser's select-all copy (``innerText`` of the body) from Debian's Chromium through Playwright, when
    both are installed; scripts off and every request refused (nothing may download)."""

    def __init__(self) -> None:
        self._pw: Any = None
        self._browser: Any = None
        self.why_not = ""
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            self.why_not = "playwright is not installed"
            return
        if exe is None:
            self.why_not = "chromium is not installed (Debian: apt-get install chromium)"
            return
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])

    def copy(self, page: Path) -> str | None:
        if self._browser is None:
            return None
        tab = self._browser.new_page(java_script_enabled=False)
        tab.route("**/*", lambda route: route.abort())
        tab.set_content(page.read_text(encoding="utf-8", errors="replace"), wait_until="domcontentloaded")
        text = str(tab.inner_text("body"))
        tab.close()
        return text

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._pw.stop()


_DUMPS: dict[Path, dict[str, tuple[str, bytes]]] = {}


def dumps(page: Path, browser: Browser | None = None) -> dict[str, tuple[str, bytes]]:
    """The ingest paths for one page: name → (file name as ingested, bytes); made once per page and run."""
    if page not in _DUMPS:
        if page.suffix == ".html":
            out = {
                "html": (page.name, page.read_bytes()),
                "w3m": (page.stem + ".txt", w3m(page).encode()),
                "lynx": (page.stem + ".txt", lynx(page).encode()),
            }
            copied = browser.copy(page) if browser else None
            if copied is not None:
                out["copy"] = (page.stem + ".txt", copied.encode())
        else:
            out = {"clip": (page.name, page.read_bytes())}
        _DUMPS[page] = out
    return _DUMPS[page]


def body_of(name: str, data: bytes, disabled: list[str] | None) -> tuple[str, str]:
    """(format, note bodies) as the ingest path builds them, with the given boilerplate rules switched off."""
    if disabled is None:
        fmt, notes = parse_bytes(data, name)
    else:
        token = bp.DISABLED.set(frozenset(disabled))
        try:
            fmt, notes = parse_bytes(data, name)
        finally:
            bp.DISABLED.reset(token)
    return fmt, "\n".join(n.body for n in notes)


def score(gold: str, neutral: list[str], boiler: int, out: str) -> dict[str, Any]:
    o = norm(out)
    for n in sorted(neutral, key=len, reverse=True):
        if n and n in o:
            o = o.replace(n, "", 1)
    sm = difflib.SequenceMatcher(None, gold, o, autojunk=False)
    matched = sum(b.size for b in sm.get_matching_blocks() if b.size >= 4)
    lost = len(gold) - matched
    kept = len(o) - matched
    return {"article": len(gold), "lost": lost, "boiler": boiler, "kept": kept,
            "lost_pct": 100 * lost / max(1, len(gold)), "kept_pct": 100 * kept / max(1, boiler)}


def evaluate(corpus: Path, labels: list[dict[str, Any]], disabled: list[str] | None,
             log: Callable[[str], None] | None = None, browser: Browser | None = None) -> list[dict[str, Any]]:
    rows = []
    for lab in labels:
        page = corpus / lab["page"]
        lines = canonical(page, lab["render"])
        md = lab["render"] == "file"
        gold = norm("".join(take(lines, lab["article"], md)))
        sha = hashlib.sha1(gold.encode()).hexdigest()[:12]
        if lab.get("sha1") and lab["sha1"] != sha:
            sys.exit(f"{lab['page']}: labelled text changed (sha1 {sha}, labels say {lab['sha1']}); "
                     f"the renderer or the file differs from the one labelled")
        neutral = [norm(s) for s in take(lines, lab.get("neutral", []), md)]
        for path, (name, data) in dumps(page, browser).items():
            if path in lab.get("skip", {}):
                continue
            # the boilerplate this path's input holds: all of it but the article and the neutral lines
            src = norm("\n".join(take(lines, [[1, len(lines)]], md)) if path in ("html", "clip")
                       else data.decode("utf-8", errors="replace"))
            boiler = len(src) - len(gold) - sum(len(n) for n in neutral)
            if disabled == ["*"]:
                # no removal: all the text the page shows (for HTML, its rendering, not its markup)
                fmt, out = "raw", "\n".join(take(lines, [[1, len(lines)]], md)) if path in ("html", "clip") \
                    else data.decode("utf-8", errors="replace")
            else:
                try:
                    fmt, out = body_of(name, data, disabled)
                except BadInput as e:
                    fmt, out = f"failed: {e}", ""
            row = {"page": lab["page"], "path": path, "format": fmt, **score(gold, neutral, boiler, out)}
            rows.append(row)
            if log:
                log(f"  {row['page']:48s} {path:5s} {fmt:9s} lost {row['lost_pct']:5.1f}% ({row['lost']}/{row['article']})"
                    f"  kept {row['kept_pct']:5.1f}% ({row['kept']}/{row['boiler']})")
    return rows


def total(rows: list[dict[str, Any]]) -> dict[str, float]:
    art = sum(r["article"] for r in rows)
    boil = sum(r["boiler"] for r in rows)
    return {"lost_pct": 100 * sum(r["lost"] for r in rows) / max(1, art),
            "kept_pct": 100 * sum(r["kept"] for r in rows) / max(1, boil)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, type=Path, help="the realworld corpus folder (holds web/)")
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--ablate", action="store_true", help="add a row per rule switched off, and a no-removal row")
    ap.add_argument("--json", type=Path, help="write every row as JSON here")
    args = ap.parse_args()
    if not (args.corpus / "web").is_dir():
        sys.exit(f"{args.corpus}: no web/ folder; pass the realworld corpus (../shared/data/realworld)")
    labels = [json.loads(ln) for ln in args.labels.read_text(encoding="utf-8").splitlines() if ln.strip()]
    browser = Browser()
    if browser.why_not:
        print(f"no 'copy' path: {browser.why_not}")
    print("per file, all rules on:")
    try:
        base = evaluate(args.corpus, labels, None if bp is None else [], log=print, browser=browser)
    finally:
        browser.close()
    results: dict[str, list[dict[str, Any]]] = {"all rules on": base}
    if args.ablate and bp is not None:
        results["none (no removal)"] = evaluate(args.corpus, labels, ["*"])
        for rule in [*bp.FEATURES, *bp.STEPS]:
            results[f"without {rule}"] = evaluate(args.corpus, labels, [rule])
    paths = sorted({r["path"] for r in base})
    print("\n| setting | " + " | ".join(f"{p} lost / kept" for p in paths) + " | all lost / kept |")
    print("|---|" + "---|" * (len(paths) + 1))
    for name, rows in results.items():
        cells = []
        for p in paths:
            t = total([r for r in rows if r["path"] == p])
            cells.append(f"{t['lost_pct']:.1f}% / {t['kept_pct']:.1f}%")
        t = total(rows)
        print(f"| {name} | " + " | ".join(cells) + f" | {t['lost_pct']:.1f}% / {t['kept_pct']:.1f}% |")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
