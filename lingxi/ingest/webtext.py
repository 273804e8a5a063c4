"""Plain-text dumps of web pages that still carry site chrome.

A copied page has a head (breadcrumbs such as ``首页 > 科技 > AI``, menus, login
links), the article, and a tail (``相关阅读``/``Related``, a list of unrelated
headlines, copyright lines). Article lines are long or end a sentence; chrome lines
are short fragments. The body is the region between the first and the last article
line, cut at the first tail marker.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from lingxi.ingest.base import make_note, prose_chunks, require_content, stem
from lingxi.ingest.text import SENTENCE_END, is_cjk
from lingxi.types import Note

BREADCRUMB = re.compile(
    r"^\s*(首页|主页|首頁|Home|HOME|当前位置|您的位置|位置)\s*[:：]?\s*([>›»/|＞]|$)|(\S+\s*[>›»＞]\s*){2,}\S+\s*$"
)
TAIL_MARKER = re.compile(
    r"^\s*[【\[]?\s*(相关阅读|相关文章|相关推荐|推荐阅读|延伸阅读|热门文章|热门推荐|热点推荐|热门新闻|猜你喜欢|更多阅读|"
    r"最新文章|精彩推荐|大家都在看|往期回顾|往期推荐|阅读更多|Related( articles| posts| stories)?|Read more|"
    r"More from|You may also like|Recommended|Trending|Popular( posts| stories)?|Most read)\s*[】\]]?\s*[:：]?\s*$",
    re.I,
)
FOOTER = re.compile(r"(版权所有|Copyright|©|ICP备|ICP证|All rights reserved|京公网安备|违法和不良信息举报)", re.I)
META_LINE = re.compile(
    r"^\s*(来源|作者|编辑|责任编辑|发布时间|发布于|时间|日期|By|Author|Posted|Published|Updated)\s*[:：]|^\s*\d{4}[-/年.]\d{1,2}[-/月.]\d{1,2}",
    re.I,
)


def visual_len(line: str) -> int:
    """Display width: wide (CJK, full-width) characters count two, as they carry about as much as two Latin ones."""
    return sum(2 if is_cjk(c) or unicodedata.east_asian_width(c) in "WF" else 1 for c in line.strip())


def is_article_line(line: str) -> bool:
    s = line.strip()
    if not s or BREADCRUMB.search(s) or FOOTER.search(s):
        return False
    n = visual_len(s)
    ends_sentence = s[-1] in SENTENCE_END + "." or (len(s) > 1 and s[-1] in '”」"’' and s[-2] in SENTENCE_END + ".")
    return n >= 120 or (ends_sentence and n >= 24)


def looks_like_webtext(text: str) -> bool:
    head = [ln for ln in text.split("\n")[:8] if ln.strip()]
    return any(BREADCRUMB.search(ln) for ln in head) or bool(
        any(TAIL_MARKER.match(ln) for ln in text.split("\n"))
        and sum(is_article_line(ln) for ln in text.split("\n")) >= 2
    )


def parse(text: str, name: str) -> list[Note]:
    lines = text.split("\n")
    end_limit = len(lines)
    for i, ln in enumerate(lines):
        if TAIL_MARKER.match(ln) and any(is_article_line(x) for x in lines[:i]):
            end_limit = i
            break
    article = [i for i in range(end_limit) if is_article_line(lines[i])]
    meta: dict[str, Any] = {}
    crumbs = [ln.strip() for ln in lines[: article[0] if article else end_limit] if BREADCRUMB.search(ln)]
    if crumbs:
        meta["breadcrumb"] = crumbs[0]
    if not article:
        return require_content([], name)
    first, last = article[0], article[-1]
    # Title: the nearest head line above the article that is neither breadcrumb, meta line nor menu fragment.
    title = ""
    for ln in reversed(lines[:first]):
        s = ln.strip()
        if not s or BREADCRUMB.search(s) or FOOTER.search(s):
            continue
        if META_LINE.search(s):
            meta.setdefault("byline", s)
            continue
        if visual_len(s) >= 8:
            title = s
            break
    body_lines = [ln.strip() for ln in lines[first : last + 1]]
    body = "\n\n".join(ln for ln in body_lines if (ln and not META_LINE.search(ln)) or (ln and is_article_line(ln)))
    return require_content([make_note("", title or stem(name), "webtext", body, prose_chunks(body), meta)], name)
