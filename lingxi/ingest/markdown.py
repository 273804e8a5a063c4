"""Markdown posts with YAML front matter and static-site template noise."""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Callable
from typing import Any

import yaml

from lingxi.errors import BadInput
from lingxi.ingest.base import FENCE, as_tags, headings, jsonable, make_note, require_content, section_chunks, stem
from lingxi.ingest.boilerplate import strip_boilerplate
from lingxi.types import Note

# Hexo also reads front matter that only ends with a --- line: fields from the first line on, a title or a date
# among them
_OPEN_FRONT_MATTER = re.compile(r"\A(?=(?:[^\n]*\n){0,30}?(?:title|date)[ \t]*:)((?:[A-Za-z_][\w-]*[ \t]*:[^\n]*\n"
                                r"(?:(?:[ \t-][^\n]*)?\n)*){2,})---[ \t]*(?:\n|\Z)")
# YAML between --- lines (Jekyll, Hexo, Hugo), or TOML between +++ lines (Hugo)
FRONT_MATTER = re.compile(r"\A(?:---[ \t]*\n(.*?)\n(?:---|\.\.\.)|\+\+\+[ \t]*\n(.*?)\n\+\+\+)[ \t]*(?:\n|\Z)", re.S)


def _cut(opener: re.Pattern[str], closer: Callable[[re.Match[str]], re.Pattern[str]]) -> Callable[[str], str]:
    """Removal of every span from an opener to its closer, in one pass over the text (a regex ``open.*?close`` scans
    to the end of the text from each opener that is never closed, quadratic on a page of them): an opener without
    a closer after it ends the search for that closer, as no later opener has one either."""
    def cut(text: str) -> str:
        out, pos, dead = [], 0, set()
        for m in opener.finditer(text):
            close = closer(m)
            if m.start() < pos or close.pattern in dead:
                continue
            c = close.search(text, m.end())
            if c is None:
                dead.add(close.pattern)
                continue
            out.append(text[pos: m.start()])
            pos = c.end()
        return "".join(out) + text[pos:]
    return cut


def _literal(text: str) -> Callable[[re.Match[str]], re.Pattern[str]]:
    pat = re.compile(re.escape(text))
    return lambda m: pat


# Whole blocks that are never shown (template comments and captures, scripts and styles, HTML comments), cut outside
# fenced code; then inline noise, cut outside any code. A {% raw %} or {% highlight %} block is shown: only its tags go.
_BLOCKS: list[Callable[[str], str]] = [
    _cut(re.compile(r"\{%-?\s*(comment|capture)\b"), lambda m: re.compile(r"\{%-?\s*end" + m.group(1) + r"\s*-?%\}")),
    _cut(re.compile(r"<(script|style|iframe|noscript)\b", re.I),
         lambda m: re.compile(r"</" + m.group(1).lower() + r"\s*>", re.I)),
    _cut(re.compile(re.escape("<!--")), _literal("-->")),
]
_NOISE: list[Callable[[str], str]] = [
    _cut(re.compile(re.escape("{%")), _literal("%}")),
    _cut(re.compile(re.escape("{{")), _literal("}}")),
]


def _drop(pattern: re.Pattern[str]) -> Callable[[str], str]:
    return lambda text: pattern.sub("", text)


_NOISE += [_drop(p) for p in [
    re.compile(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?"),  # image
    re.compile(r"!\[[^\]]*\]\[[^\]]*\]"),  # reference-style image
    re.compile(r"<img\b[^>]*>", re.I),
    re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M),  # link reference definitions
    re.compile(r"^\s*\{:[^}]*\}\s*$", re.M),  # kramdown attribute lists
    re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>"),  # remaining HTML tags, text kept
]]
_IMAGE_REF = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*)?\)|<img\b[^>]*\bsrc=[\"']([^\"']+)", re.I)
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML as front matter needs it: no aliases (``*a``: a few hundred bytes of nested aliases expand to gigabytes),
    and a date that is no date on the calendar (``2021-02-30``) kept as the text it is."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not read in front matter",
                                              event.start_mark)
        return super().compose_node(parent, index)

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", _FrontMatterLoader.construct_yaml_timestamp)


_FIELD = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:(.*)$")


def _one_line_fields(block: str) -> dict[str, Any]:
    """``key: value`` lines of front matter YAML cannot read (a value on the indented lines after its key joined);
    the rest is left out."""
    out: dict[str, Any] = {}
    key = ""
    for line in block.split("\n"):
        m = _FIELD.match(line)
        if m:
            key = m.group(1)
            out[key] = m.group(2).strip()
        elif key and line[:1] in " \t" and not out[key]:
            out[key] = " ".join(line.split())
        else:
            key = ""
    return {k: v.strip("\"'") for k, v in out.items() if v.strip("\"'")}


def split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    """The front matter's fields and the text after it. YAML that does not read keeps the note: its one-line
    ``key: value`` fields are read, and ``skipped`` names the error (reported as a bad line is)."""
    m = FRONT_MATTER.match(text) or _OPEN_FRONT_MATTER.match(text)
    if not m:
        return {}, text
    if m.re is FRONT_MATTER and m.group(2) is not None:
        try:
            return jsonable(tomllib.loads(m.group(2))), text[m.end() :]
        except tomllib.TOMLDecodeError as e:
            raise BadInput(f"{name}: front matter (between +++ lines) is not valid TOML: {e}") from e
    try:
        data = yaml.load(m.group(1), Loader=_FrontMatterLoader)  # a SafeLoader
    except yaml.composer.ComposerError as e:
        where = e.problem_mark
        line = f" at line {where.line + 2}" if where is not None else ""
        raise BadInput(f"{name}: front matter{line}: {e.problem}") from e
    except yaml.YAMLError as e:  # clippers write summaries YAML cannot read: the note is kept, the error reported
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        fields = _one_line_fields(m.group(1))
        fields["skipped"] = [f"{name}: front matter is not valid YAML{line}; only its one-line fields were read"]
        return fields, text[m.end() :]
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


def _outside_code(text: str, fn: Callable[[str], str], code: re.Pattern[str] = _CODE) -> str:
    """``fn`` applied to the text between the matches of ``code`` (fenced blocks and inline spans)."""
    out, pos = [], 0
    for m in code.finditer(text):
        out += [fn(text[pos : m.start()]), m.group(0)]
        pos = m.end()
    return "".join(out) + fn(text[pos:])


# What note apps write around the text a reader sees (Obsidian, Logseq, Dataview): a callout's marker ("> [!note]+
# Title" shows "Title"), block ids ("^abc-123"), wikilinks ("[[page|shown]]" shows "shown", "![[embed]]" nothing),
# property lines ("collapsed:: true"; a page's leading ones become fields), "key::" fields, empty outline bullets;
# and reference-style links ("[text][ref]" shows "text").
_APP: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^([ \t]*(?:>[ \t]?)+)\[![\w-]+\][+-]?[ \t]*", re.M), r"\1"),
    (re.compile(r"(?:^|[ \t]+)\^[A-Za-z0-9][\w-]{2,}[ \t]*$", re.M), ""),
    (re.compile(r"!\[\[[^\]\n]*\]\]"), ""),
    (re.compile(r"\[\[[^\]|\n]*\|([^\]\n]+)\]\]"), r"\1"),
    (re.compile(r"\[\[([^\]#|\n]*)(?:#[^\]\n]*)?\]\]"), r"\1"),
    (re.compile(r"^[ \t]*(?:[-*][ \t]+)?[A-Za-z][\w.-]*::[ \t].*$\n?", re.M), ""),
    (re.compile(r"(\*\*[^*\n]+\*\*)::"), r"\1:"),
    (re.compile(r"^[ \t]*[-*][ \t]*$", re.M), ""),
    (re.compile(r"(?<!!)\[([^\]\n]+)\]\[[^\]\n]*\]"), r"\1"),
]
_PROPERTY = re.compile(r"\A(?:[ \t]*([A-Za-z][\w.-]*)::[ \t]*(.*)\n)+")


def page_properties(text: str) -> tuple[dict[str, str], str]:
    """A Logseq page's leading ``key:: value`` lines as fields, and the text after them."""
    m = _PROPERTY.match(text)
    if not m:
        return {}, text
    fields = dict(re.findall(r"^[ \t]*([A-Za-z][\w.-]*)::[ \t]*(.*)$", m.group(0), re.M))
    return {k.lower(): v.strip() for k, v in fields.items() if v.strip()}, text[m.end():]


def _app_syntax(text: str) -> str:
    for pattern, repl in _APP:
        text = pattern.sub(repl, text)
    return text


def clean_markdown(text: str) -> str:
    """The text a reader sees. Code (fenced blocks, inline spans) is kept as written: a code sample's tags,
    template syntax and escapes are its content."""
    for strip in _BLOCKS:
        text = _outside_code(text, strip, FENCE)
    for strip in [*_NOISE, _app_syntax]:
        text = _outside_code(text, strip)
    text = _outside_code(text, lambda t: _unescape(_LINK.sub(r"\1", t)))
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


def _outline(body: str) -> bool:
    """An outliner's page (Logseq): most lines are bullets, its headings are blocks of it, not its title."""
    lines = [ln for ln in body.split("\n") if ln.strip() and not ln.startswith((" ", "\t"))]
    return len(lines) >= 3 and sum(ln.startswith(("- ", "* ")) for ln in lines) * 2 >= len(lines)


def parse(text: str, name: str) -> list[Note]:
    meta, content = split_front_matter(text, name)
    fields, content = page_properties(content)
    meta = {**{("tags" if k in ("tag", "tags") else k): v for k, v in fields.items()}, **meta}
    images = list(dict.fromkeys(m.group(1) or m.group(2) for m in _IMAGE_REF.finditer(content)))
    body = clean_markdown(content)
    if clipped_from(meta):
        # a page saved by a web clipper still carries the site's chrome (language switchers, tip jars, follow-us)
        body = strip_boilerplate(body, str(meta.get("title") or ""), clipped=True)
    title = str(meta.get("title") or "").strip()
    if not title:  # a top-level heading the text opens with; else the file's name, as note apps title a note
        h = next(headings(body), None)
        opens = h is not None and len(h.group(1)) == 1 and not body[: h.start()].strip() and not _outline(body)
        title = h.group(2) if h is not None and opens else stem(name)
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
