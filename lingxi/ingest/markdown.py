"""Markdown posts with YAML front matter and static-site template noise."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import yaml

from lingxi.errors import BadInput
from lingxi.ingest.base import HEADING, as_tags, jsonable, make_note, require_content, section_chunks, stem
from lingxi.ingest.boilerplate import strip_boilerplate
from lingxi.types import Note

FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)

# Order matters: whole blocks first, then inline noise.
_NOISE = [
    re.compile(r"\{%-?\s*(comment|raw|highlight|capture)\b.*?%\}.*?\{%-?\s*end\1\s*-?%\}", re.S),
    re.compile(r"<(script|style|iframe|noscript)\b.*?</\1\s*>", re.S | re.I),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"\{%-?.*?-?%\}", re.S),
    re.compile(r"\{\{.*?\}\}", re.S),
    re.compile(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?"),  # image
    re.compile(r"!\[[^\]]*\]\[[^\]]*\]"),  # reference-style image
    re.compile(r"<img\b[^>]*>", re.I),
    re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M),  # link reference definitions
    re.compile(r"^\s*\{:[^}]*\}\s*$", re.M),  # kramdown attribute lists
    re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>"),  # remaining HTML tags, text kept
]
_IMAGE_REF = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*)?\)|<img\b[^>]*\bsrc=[\"']([^\"']+)", re.I)
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")


def split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    m = FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        raise BadInput(f"{name}: front matter is not valid YAML{line}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{name}: front matter must be a mapping of fields, got {type(data).__name__}")
    return jsonable(data), text[m.end() :]


_CODE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,}).*?^[ \t]{0,3}\1[ \t]*$|`[^`\n]+`", re.S | re.M)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _unescape(text: str) -> str:
    """What a reader sees: HTML entities (``&#34;``, ``&amp;``) decoded, Markdown escapes (``balance\\_by``) undone."""
    return _ESCAPE.sub(r"\1", html.unescape(text)).replace("\xa0", " ")


def _outside_code(text: str, fn: Callable[[str], str]) -> str:
    out, pos = [], 0
    for m in _CODE.finditer(text):
        out += [fn(text[pos : m.start()]), m.group(0)]
        pos = m.end()
    return "".join(out) + fn(text[pos:])


def clean_markdown(text: str) -> str:
    for pat in _NOISE:
        text = pat.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _outside_code(text, _unescape)
    # Lines left empty by removed noise collapse into paragraph breaks.
    lines = [ln.rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n ")


_SOURCE_KEYS = ("source", "url", "link", "original", "source_url", "canonical")


def clipped_from(meta: dict[str, Any]) -> str:
    """The web address a clipped page came from (web clippers write it into the front matter), or ""."""
    for key in _SOURCE_KEYS:
        val = meta.get(key)
        if isinstance(val, str) and re.match(r"https?://", val.strip()):
            return val.strip()
    return ""


def parse(text: str, name: str) -> list[Note]:
    meta, content = split_front_matter(text, name)
    images = list(dict.fromkeys(m.group(1) or m.group(2) for m in _IMAGE_REF.finditer(content)))
    body = clean_markdown(content)
    if clipped_from(meta):
        # a page saved by a web clipper still carries the site's chrome (language switchers, tip jars, follow-us)
        body = strip_boilerplate(body, str(meta.get("title") or ""), clipped=True)
    title = str(meta.get("title") or "").strip()
    if not title:
        h = HEADING.search(body)
        title = h.group(2) if h else stem(name)
    chunks = section_chunks(body)
    tags = as_tags(meta.get("tags")) + [
        t for t in as_tags(meta.get("categories")) if t not in as_tags(meta.get("tags"))
    ]
    out_meta: dict[str, Any] = {k: v for k, v in meta.items() if k not in ("title", "tags", "categories")}
    if tags:
        out_meta["tags"] = tags
    if "date" in meta:
        out_meta["created_at"] = str(meta["date"])
    if images:
        # Read by lingxi.ingest.image.attach; a post that is only a photo has no text of its own yet.
        out_meta["images"] = images
        return [make_note("", title, "markdown", body, chunks, out_meta)]
    return require_content([make_note("", title, "markdown", body, chunks, out_meta)], name)
