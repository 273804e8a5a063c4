"""Plain-text dumps of web pages that still carry site chrome (``w3m -dump``, ``lynx -dump``, select-all copies).

The page is cut into blocks and the boilerplate classifier (``lingxi.ingest.boilerplate``)
keeps the article's blocks: menus, headline lists, comment widgets, share bars and
footers go by their shape, whatever words the site uses. The title is the head line
above the article that shares most words with it.
"""

from __future__ import annotations

import re
from typing import Any

from lingxi.ingest import boilerplate as bp
from lingxi.ingest.base import make_note, prose_chunks, require_content, stem
from lingxi.ingest.boilerplate import visual_len
from lingxi.types import Note

__all__ = ["looks_like_webtext", "parse", "visual_len"]

# A trail of short items joined by ">" (``首页 > 科技 > 正文``, ``Home » News``).
BREADCRUMB = re.compile(r"^\s*(?:[^\s>›»＞。，！？]{1,12}\s*[>›»＞]{1,2}\s*)+[^\s>›»＞。，！？]{1,12}\s*$")
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
CHROME = ("numerals", "repeated", "separators", "placeholder")
_DATELINE = re.compile(
    rf"\d{{4}}\s*[-/年.]\s*\d{{1,2}}\s*[-/月.]\s*\d{{1,2}}|\b\d{{1,2}}\s+{_MONTH}\s+\d{{4}}|\b{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}"
)


SAMPLE_CHARS = 60_000  # detection reads this much: a page dump shows its chrome well within it


def looks_like_webtext(text: str) -> bool:
    """A page dump: article prose with a good share of page chrome around it, or a breadcrumb trail on top."""
    blocks = bp.segment(text[:SAMPLE_CHARS])
    if len(blocks) < 3:
        return False
    head = [b for b in blocks[:6] if BREADCRUMB.search(bp.content(b))]
    decisions = bp.Classifier().classify(blocks)
    kept = [d for d in decisions if d.keep]
    # the article must be written in sentences somewhere: an unpunctuated transcript is not a web page
    if not any(d.parts.get("punctuation", 0) > 0 and d.parts.get("length", 0) > 0 for d in kept):
        return False
    dropped = [d for d in decisions if not d.keep]
    dropped_chars = sum(len(bp.content(d.block)) for d in dropped)
    total = sum(len(bp.content(b)) for b in blocks)
    # Page chrome shows more than shortness: counters, separator bars, repeated menu lines, image slots. A note
    # whose only short lines are its own list or heading is plain text, whatever the classifier would drop.
    chrome = [d for d in dropped if any(v < 0 for k, v in d.parts.items() if k in CHROME)]
    # (a short note of a few paragraphs, with a quotation's source printed twice, is not a page: 8 blocks at least)
    return bool(head) or (len(blocks) >= 8 and len(dropped) >= 5 and len(chrome) >= 2 and dropped_chars >= 0.05 * total)


def pick_title(candidates: list[bp.Block], body: str) -> str:
    """The head line that shares most words with the article; among equals the nearest to it."""
    grams = bp.bigrams(body)
    best, best_share = "", 0.2
    for b in candidates:
        s = bp.content(b)
        n = visual_len(s)
        if not 8 <= n <= 160 or BREADCRUMB.search(s):
            continue
        g = bp.bigrams(s)
        share = len(g & grams) / len(g) if g else 0.0
        if share >= best_share:
            best, best_share = s, share
    return best


def parse(text: str, name: str) -> list[Note]:
    blocks = bp.segment(text)
    decisions = bp.Classifier().classify(blocks)
    kept = [i for i, d in enumerate(decisions) if d.keep]
    if not kept:
        return require_content([], name)
    body = "\n\n".join(blocks[i].text for i in kept)
    head = blocks[max(0, kept[0] - 40) : kept[0]]
    meta: dict[str, Any] = {}
    crumbs = [bp.content(b) for b in head if BREADCRUMB.search(bp.content(b))]
    if crumbs:
        meta["breadcrumb"] = crumbs[0]
    title = pick_title(head, body)
    dated = [i for i, b in enumerate(head) if _DATELINE.search(bp.content(b)) and visual_len(bp.content(b)) <= 80]
    if not title and dated:
        # no head line shares the article's words: the headline is the line printed above the dateline
        above = [bp.content(b) for b in head[: dated[-1]] if 8 <= visual_len(bp.content(b)) <= 160]
        above = [s for s in above if not BREADCRUMB.search(s)]
        title = above[-1] if above else ""
    if not title:
        # A page whose article starts at the top: a short first line is its title.
        first = bp.content(blocks[kept[0]])
        if visual_len(first) <= 80 and len(kept) > 1:
            title, body = first, "\n\n".join(blocks[i].text for i in kept[1:])
    if dated:
        meta["byline"] = bp.content(head[dated[-1]])
    if title:
        # the headline printed inside the kept text is not body
        body = re.sub(rf"\A{re.escape(title)}\s*", "", body)
    return require_content([make_note("", title or stem(name), "webtext", body, prose_chunks(body), meta)], name)
