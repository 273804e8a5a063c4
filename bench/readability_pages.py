"""HTML ingest on held-out pages: Mozilla Readability's test pages, scored against Readability's own article.

    python bench/readability_pages.py --pages DIR/test/test-pages [--split dev|test|all] [--limit N] [--json OUT]

The pages (Apache-2.0, https://github.com/mozilla/readability, ``test/test-pages/<name>/``) are about 130 real
and synthetic pages — news, blogs, wikis, docs; mostly English, some French, Spanish, Portuguese,
Czech, Chinese, Japanese — each with ``source.html`` (the page), ``expected.html`` (the article Readability extracts)
and ``expected-metadata.json`` (its title, byline …). They are read from where they lie, never copied here.

Each ``source.html`` goes through the path ``lingxi ingest`` takes for a ``.html`` file: ``parse_bytes`` (decode,
format by extension, ``lingxi.ingest.html.parse``: trafilatura plus lingxi's options). Its note bodies are
compared with the visible text of ``expected.html`` (block elements and ``<br>`` end a block):

* text is cut into tokens: NFKC, lower-cased runs of letters and digits, and every CJK ideograph or kana on its
  own (Chinese and Japanese have no spaces); Markdown marks lingxi adds (``**``, ``#``, ``|``) are not tokens;
* a token of one side counts as *found* in the other when some window of 3 consecutive tokens holding it, inside
  its own block (a shorter block is one window), occurs in the other side's token stream (a bag of its token
  1- to 3-grams with counts: each occurrence there matches one window only, so text printed twice but expected
  once is boilerplate the second time); word order beyond 3 tokens and block order are ignored;
* ``lost`` = share of the expected article's tokens not found in lingxi's body (article text dropped);
  ``kept`` = share of lingxi's body tokens not found in the expected article (boilerplate kept).
  Totals: micro (pooled tokens) and macro (mean of page shares). A page lingxi refuses (``BadInput``) or crashes
  on counts as an empty body (lost 1.0) and is named; a crash prints its traceback.
* title: lingxi's note title against ``expected-metadata.json``'s ``title``: ``exact`` (after strip), ``norm``
  (same tokens), else the cause: ``stem`` (no title found, file name used), ``longer``/``shorter`` (one holds the
  other's tokens, e.g. a site name suffix), ``other``. Readability's title is a reference, not ground truth.

The split is frozen by folder name: ``dev`` holds the pages whose name's SHA-1 starts with 0–7, ``test`` the
rest. Rules may be developed on ``dev``; ``test`` is only reported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import traceback
import unicodedata
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingxi.errors import BadInput
from lingxi.ingest import parse_bytes

N = 3
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_BLOCK_TAGS = set("p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd table tr td th pre blockquote br hr section article "
                  "header footer figure figcaption aside nav main details summary caption address".split())


def split_of(name: str) -> str:
    return "dev" if hashlib.sha1(name.encode()).hexdigest()[0] in "01234567" else "test"


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


class _Visible(HTMLParser):
    """Visible text of an HTML fragment, a newline wherever a block element or <br> begins or ends."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style", "template")
        self.parts.append("\n" if tag in _BLOCK_TAGS else "")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= self.hidden > 0 and tag in ("script", "style", "template")
        self.parts.append("\n" if tag in _BLOCK_TAGS else "")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def blocks_of_html(markup: str) -> list[list[str]]:
    p = _Visible()
    p.feed(markup)
    p.close()
    return blocks_of_text("".join(p.parts))


def blocks_of_text(text: str) -> list[list[str]]:
    return [t for line in text.split("\n") if (t := tokens(line))]


def found(mine: list[list[str]], other: list[list[str]]) -> int:
    """How many of ``mine``'s tokens lie in a window (of N, inside their block) that occurs in ``other``; each
    occurrence in ``other`` matches one window only, so text printed twice is found once."""
    stream = [t for b in other for t in b]
    grams = Counter(tuple(stream[i : i + k]) for k in range(1, N + 1) for i in range(len(stream) - k + 1))
    hit = 0
    for b in mine:
        w = min(N, len(b))
        covered = [False] * len(b)
        for i in range(len(b) - w + 1):
            g = tuple(b[i : i + w])
            if grams[g] > 0:
                grams[g] -= 1
                covered[i : i + w] = [True] * w
        hit += sum(covered)
    return hit


def title_status(got: str, want: str) -> str:
    if got.strip() == want.strip():
        return "exact"
    g, w = tokens(got), tokens(want)
    if g == w:
        return "norm"
    if got == "source":
        return "stem"
    if " ".join(w) in " ".join(g):
        return "longer"
    if " ".join(g) in " ".join(w):
        return "shorter"
    return "other"


def run_page(page: Path) -> dict[str, Any]:
    meta = json.loads((page / "expected-metadata.json").read_text(encoding="utf-8"))
    expected = blocks_of_html((page / "expected.html").read_text(encoding="utf-8"))
    row: dict[str, Any] = {"page": page.name, "split": split_of(page.name), "error": None, "traceback": None}
    body, title = "", ""
    try:
        _, notes = parse_bytes((page / "source.html").read_bytes(), f"{page.name}/source.html")
        body, title = "\n".join(n.body for n in notes), notes[0].title
    except BadInput as e:
        row["error"] = f"BadInput: {e}"
    except Exception as e:  # a crash of the parser must not stop the benchmark
        row["error"], row["traceback"] = f"{type(e).__name__}: {e}", traceback.format_exc()
    got = blocks_of_text(body)
    n_exp, n_got = sum(map(len, expected)), sum(map(len, got))
    hit_exp, hit_got = found(expected, got), found(got, expected)
    want = str(meta.get("title") or "")
    row.update(expected_tokens=n_exp, lingxi_tokens=n_got, lost_tokens=n_exp - hit_exp,
               kept_tokens=n_got - hit_got, lost=(n_exp - hit_exp) / n_exp if n_exp else 0.0,
               kept=(n_got - hit_got) / n_got if n_got else 0.0, title=title, expected_title=want,
               title_status=title_status(title, want) if not row["error"] else "failed")
    return row


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = max(1, len(rows))
    status: dict[str, int] = {}
    for r in rows:
        status[r["title_status"]] = status.get(r["title_status"], 0) + 1
    return {
        "pages": len(rows),
        "failed": [r["page"] for r in rows if r["error"]],
        "lost_micro": sum(r["lost_tokens"] for r in rows) / max(1, sum(r["expected_tokens"] for r in rows)),
        "kept_micro": sum(r["kept_tokens"] for r in rows) / max(1, sum(r["lingxi_tokens"] for r in rows)),
        "lost_macro": sum(r["lost"] for r in rows) / n,
        "kept_macro": sum(r["kept"] for r in rows) / n,
        "title_exact": sum(r["title_status"] == "exact" for r in rows) / n,
        "title_norm": sum(r["title_status"] in ("exact", "norm") for r in rows) / n,
        "title_status": dict(sorted(status.items())),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=Path, required=True, help="Readability's test/test-pages folder")
    ap.add_argument("--split", choices=("dev", "test", "all"), default="test")
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages of the split")
    ap.add_argument("--json", type=Path, help="write per-page rows and the totals here")
    args = ap.parse_args()
    pages = sorted(p for p in args.pages.glob("*/") if (p / "source.html").is_file() and (p / "expected.html").is_file())
    if not pages:
        sys.exit(f"no <name>/source.html under {args.pages}: pass mozilla/readability's test/test-pages")
    pages = [p for p in pages if args.split == "all" or split_of(p.name) == args.split]
    pages = pages[: args.limit] if args.limit else pages
    rows = [run_page(p) for p in pages]
    print("| page | split | expected tok | lingxi tok | lost | kept | title |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['page']} | {r['split']} | {r['expected_tokens']} | {r['lingxi_tokens']} | {r['lost']:.3f} |"
              f" {r['kept']:.3f} | {r['title_status']} |")
    groups = {s: [r for r in rows if r["split"] == s] for s in ("dev", "test")}
    result = {s: totals(g) for s, g in groups.items() if g}
    if args.split == "all":
        result["all"] = totals(rows)
    print("\n| split | pages | failed | lost micro | lost macro | kept micro | kept macro | title exact | title norm |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s, t in result.items():
        print(f"| {s} | {t['pages']} | {len(t['failed'])} | {t['lost_micro']:.3f} | {t['lost_macro']:.3f} |"
              f" {t['kept_micro']:.3f} | {t['kept_macro']:.3f} | {t['title_exact']:.3f} | {t['title_norm']:.3f} |")
    for r in rows:
        if r["title_status"] not in ("exact", "norm", "failed"):
            print(f"title {r['title_status']}: {r['page']}: lingxi {r['title']!r} / expected {r['expected_title']!r}")
        if r["error"]:
            print(f"failed: {r['page']}: {r['error']}\n{r['traceback'] or ''}", end="" if r["traceback"] else "\n")
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "totals": result, "per_page": rows},
                                        ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
