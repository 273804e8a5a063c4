"""HTML articles and saved web pages: the main text via trafilatura, boilerplate dropped."""

from __future__ import annotations

import re
from collections import Counter
from contextvars import ContextVar
from typing import Any

from lingxi.errors import BadInput
from lingxi.ingest.base import as_tags, make_note, require_content, section_chunks, stem
from lingxi.ingest.boilerplate import strip_boilerplate
from lingxi.text import is_cjk
from lingxi.types import Note

_REFERENCE = re.compile(r"<sup>\s*\\?\[[^\]<]{1,20}\\?\]\s*</sup>")
_SCRIPT_TAG = re.compile(r"</?(?:sup|sub)>")
STATED_COVER = 0.3  # chosen on the snippet dev pages: F1 0.9142 off, 0.9147 at 0.3, 0.9144 at 0.5, 0.9140 at 0.7
# Trim what trafilatura leaves at the edges of the main text with the boilerplate classifier. Off: on 490 pages
# of trafilatura's evaluation corpus (bench/boilerplate_snippets.py, dev split) it lost 4 points of the article
# snippets to drop 1.6 more of the chrome ones (F1 0.898 vs 0.914 without), on the realworld pages it changed one.
EDGE_TRIM: ContextVar[bool] = ContextVar("lingxi_html_edge_trim", default=False)
_SITE_SEPARATOR = re.compile(r"\s+[|\-–—·»]\s+|\s*[｜_]\s*|\s+::\s+")
_CLASS = "contains(concat(' ', @class, ' '), ' {} ')"


def _tokens(text: str) -> list[str]:
    """Words of Latin script, and each CJK character, lower-cased."""
    return [w for w in re.findall(r"[^\W_]+", text.lower()) if not is_cjk(w[0])] + [c for c in text if is_cjk(c)]


def _agrees(a: str, b: str) -> bool:
    wa, wb = set(_tokens(a)), set(_tokens(b))
    return bool(wa and wb) and len(wa & wb) >= 0.5 * min(len(wa), len(wb))


def _tree(page: str) -> Any:
    """The page as lxml reads it (trafilatura's own parser), or None."""
    from lxml import etree  # type: ignore[import-untyped]
    from lxml import html as lxml_html

    try:
        return lxml_html.fromstring(page)
    except (ValueError, TypeError, etree.ParserError):
        return None


def page_title(extracted: str, tree: Any) -> str:
    """trafilatura's title (a page's only ``<h1>`` wins over its ``<title>``), unless it shares no words with what
    the page calls itself (``og:title``, ``twitter:title``, ``<title>``): then that heading is the site's ("About
    This Site", "Health Center") and the page's own title is used — ``<title>`` without the site's name."""
    if tree is None:
        return extracted
    own = [str(m.get("content") or "").strip() for key in ("og:title", "twitter:title")
           for m in tree.iter("meta") if (m.get("property") or m.get("name") or "").lower() == key]
    head = " ".join((tree.findtext(".//title") or "").split())
    # "Article - Site", "标题_频道_网站": the site's name comes after the page's own
    head = next((part.strip() for part in _SITE_SEPARATOR.split(head) if _tokens(part)), "")
    own = [" ".join(t.split()) for t in own + [head] if _tokens(t)]
    if not own or (extracted and any(_agrees(extracted, t) for t in own)):
        return extracted
    return own[0]


def code_tables(tree: Any) -> bool:
    """Code blocks written as a table of line numbers beside the code (Hexo's ``figure.highlight``, Pygments'
    ``linenos="table"``) made one ``<pre>`` of the code, in ``tree``: the extractor reads such a table as data and
    drops the code. Whether there was one."""
    from lxml import html as lxml_html

    found = False
    for table in tree.xpath(f"//table[.//td[{_CLASS.format('gutter')} or {_CLASS.format('linenos')}]]"):
        code = table.xpath(f".//td[{_CLASS.format('code')}]")
        if not code:
            continue
        for br in code[0].iter("br"):
            br.tail = "\n" + (br.tail or "")
        lines = [ln.text_content() for ln in code[0].xpath(f".//*[{_CLASS.format('line')}]")]
        pre = lxml_html.Element("pre")
        pre.text = "\n".join(lines) if lines else code[0].text_content()
        holder = table.getparent() if table.getparent() is not None and table.getparent().tag == "figure" else table
        holder.getparent().replace(holder, pre)
        found = True
    return found


def stated_body(tree: Any) -> str:
    """The article's text as the page states it for machines (schema.org ``articleBody`` in JSON-LD), or ""."""
    import json

    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            body = v.get("articleBody")
            if isinstance(body, str):
                found.append(body)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for script in tree.xpath("//script[contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json')]"):
        try:
            walk(json.loads(script.text or ""))
        except ValueError:
            continue
    return max(found, key=len, default="").strip()


def covers(body: str, stated: str) -> float:
    """The share of ``stated``'s words that ``body`` holds."""
    want, have = Counter(_tokens(stated)), Counter(_tokens(body))
    return sum(min(n, have[w]) for w, n in want.items()) / max(1, sum(want.values()))


def parse(text: str, name: str) -> list[Note]:
    import trafilatura  # heavy import, only when an HTML file arrives

    if not re.search(r"<[A-Za-z!]", text):
        raise BadInput(f"{name}: no HTML markup found")
    tree = _tree(text)
    if tree is not None and code_tables(tree):
        from lxml import html as lxml_html

        text = lxml_html.tostring(tree, encoding="unicode")
    try:
        doc = trafilatura.bare_extraction(
            text,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            favor_precision=True,
            deduplicate=False,
            include_formatting=True,
        )
    except Exception as e:  # trafilatura surfaces lxml errors of every kind on broken input
        raise BadInput(f"{name}: HTML could not be parsed ({type(e).__name__}: {e})") from e
    if doc is None:
        raise BadInput(f"{name}: no main text found in the HTML page")
    get = doc.get if isinstance(doc, dict) else lambda k, d=None: getattr(doc, k, d)
    body = (get("text") or "").strip()
    # a page whose markup the extractor lost the thread of (a figure never closed swallows the rest) may state its
    # article for machines: when the extracted text holds less than STATED_COVER of that (little of it: the stated
    # text can be a summary or another edition), the stated text is the body
    stated = stated_body(tree) if tree is not None else ""
    if len(stated) >= 500 and covers(body, stated) < STATED_COVER:
        body = stated
    # trafilatura separates paragraphs with single newlines; make them paragraphs for chunking.
    body = re.sub(r"\n+", "\n\n", body)
    # its formatted text keeps superscripts and subscripts as tags: a reference mark ("[12]") goes, "km<sup>2</sup>"
    # reads "km2"
    body = _REFERENCE.sub("", body)
    body = _SCRIPT_TAG.sub("", body)
    title = page_title((get("title") or "").strip(), tree) or stem(name)
    if EDGE_TRIM.get():  # what trafilatura leaves at the edges (follow-us lines, teaser lists, report hotlines)
        body = strip_boilerplate(body, title, clipped=True) or body
    meta: dict[str, Any] = {}
    for key in ("author", "date", "sitename", "url", "description"):
        val = get(key)
        if val:
            meta[key] = str(val)
    if "date" in meta:
        meta["created_at"] = meta["date"]
    tags = as_tags(get("tags")) + as_tags(get("categories"))
    if tags:
        meta["tags"] = list(dict.fromkeys(tags))
    return require_content([make_note("", title, "html", body, section_chunks(body), meta)], name)
