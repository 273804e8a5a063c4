"""Boilerplate removal by what boilerplate looks like, not by marker words.

A page (a text dump, an HTML extraction, a clipped Markdown page) is cut into blocks:
a paragraph (hard-wrapped lines joined again), a list item, a menu line, a code block.
Each block gets a score from named features (``FEATURES``): how long it is, whether it
is written in sentences, whether it is mostly numbers or prices, whether the page
repeats it, whether it is only an image slot or a link target, whether it is a bar of
``|``-separated items, whether it shares words with the rest of the article.

The article is then the run of consecutive blocks with the largest total score
(``region``): a short heading, a caption or a line of a poem between paragraphs belongs
to it, a prose island among the chrome (a comment, a teaser for another story) does not.
Once the article is located, similarity is measured against it alone and the region
found again. ``bridge`` carries the article over a few merely-short lines (a subheading
and a short list) to the paragraph beyond them. A page a clipper already cut to its main
content (``clipped=True``) is only trimmed at its edges.

Every feature and step is a switch: ``Classifier(disabled={...})`` (or the context
variable ``DISABLED``) turns any of them off, and ``bench/boilerplate.py`` prints an
on/off row for each.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache

from lingxi.ingest.text import SENTENCE_END

# East Asian wide and full-width characters (Unicode's W and F classes, the ranges that occur in text).
_WIDE = re.compile(
    "[\u1100-\u115f\u231a-\u231b\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
    "\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6"
    "\U0001f300-\U0001f64f\U0001f900-\U0001f9ff\U00020000-\U0003fffd]"
)


def visual_len(line: str) -> int:
    """Display width: wide (CJK, full-width) characters count two, as they carry about as much as two Latin ones."""
    s = line.strip()
    return len(s) + len(_WIDE.findall(s))


@dataclass(frozen=True)
class Block:
    """A unit of the page: lines ``first..last`` (inclusive) of the input, and their text joined."""

    first: int
    last: int
    text: str
    verbatim: bool = False  # a fenced code block: its shape says nothing, only its place does


@dataclass
class Page:
    """What features may look at besides the block itself."""

    blocks: list[Block]
    counts: Counter[str] = field(default_factory=Counter)
    core: Counter[str] = field(default_factory=Counter)  # bigram -> number of core blocks holding it
    in_core: frozenset[int] = frozenset()  # first lines of the core blocks
    title: str = ""


# --- segmentation -------------------------------------------------------------

_HEADING = re.compile(r"^\s*(?:#{1,6}\s+\S.*|\*\*[^*\n]+\*\*)\s*$")  # Markdown heading, or a bold-only line
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_BULLET = re.compile(r"^\s*(?:[-*+•●○◦▪·]|\d{1,3}[.)、]|[（(]?\d{1,3}[)）])\s+")
# Bracketed placeholders that text browsers print for images, ads and form fields: [logo], [INS::INS], [    ].
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]{0,80}\]|<img\b[^>]*>|!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_LYNX_REF = re.compile(r"\[\d{1,4}\]")
_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]{1,15}://|\bwww\.)\S+", re.I)


def _wrap_width(widths: list[int]) -> int:
    """The column at which a text browser hard-wrapped the page, or 0 when lines were not wrapped.

    Wrapped dumps have many lines ending within a few columns of the same width."""
    long = Counter(w for w in widths if w >= 40)
    total = sum(long.values())
    if total < 5:
        return 0
    # the width most lines end just short of (a few over-long lines, URLs, do not move it)
    near, top = max((sum(long[w] for w in range(t - 6, t + 1)), t) for t in long)
    return top if near >= max(5, total // 5) else 0


def _join(a: str, b: str) -> str:
    if not a:
        return b
    if (a[-1].isascii() and a[-1].isalnum()) and (b[:1].isascii() and b[:1].isalnum()):
        return a + " " + b
    return a + b


def segment(text: str) -> list[Block]:
    """Lines → blocks. A hard-wrapped paragraph (``w3m -dump``, ``lynx -dump``) becomes one block again."""
    lines = text.split("\n")
    widths = [visual_len(ln) for ln in lines]
    wrap = _wrap_width(widths)
    blocks: list[Block] = []
    cur: list[int] = []

    def close() -> None:
        if cur:
            joined = ""
            for i in cur:
                joined = _join(joined, lines[i].strip())
            blocks.append(Block(cur[0], cur[-1], joined))
            cur.clear()

    fence, start = "", 0
    for i, ln in enumerate(lines):
        if fence:
            if ln.strip().startswith(fence):
                blocks.append(Block(start, i, "\n".join(lines[start : i + 1]), verbatim=True))
                fence = ""
            continue
        opener = _FENCE.match(ln)
        if opener:
            close()
            fence, start = opener.group(1), i
            continue
        if not ln.strip():
            close()
            continue
        continues = (
            cur
            and wrap
            and widths[cur[-1]] >= wrap - 6
            and not _BULLET.match(ln)
            and (ln.startswith(" ") is lines[cur[0]].startswith(" ") or lines[cur[0]].lstrip().startswith("　"))
        )
        if not continues:
            close()
        cur.append(i)
    close()
    if fence:
        blocks.append(Block(start, len(lines) - 1, "\n".join(lines[start:]), verbatim=True))
    return blocks


# --- features -------------------------------------------------------------------

Feature = Callable[[Block, Page], float]
_CLAUSE = "，,、；;"
# prices, discounts, promo codes ("code SAVE20": the code in capitals or digits, so "code review" is no promo)
_PRICE = re.compile(r"[¥￥$€£]\s?\d|\d\s?(?:元|美元|块钱)|\d+%\s?off|\d折|\bcode\s+(?-i:[A-Z0-9]{3,})\b", re.I)
_SEPARATOR = re.compile(r"\s[|｜/·•]\s|[|｜]")


@lru_cache(maxsize=8192)
def content(block: Block) -> str:
    """The block's text without placeholders, links' targets and list markers."""
    s = _PLACEHOLDER.sub(" ", _MD_LINK.sub(r"\1", block.text))
    s = _LYNX_REF.sub("", _URL.sub(" ", s))
    return _BULLET.sub("", s).strip()


def f_length(block: Block, page: Page) -> float:
    """Long blocks are prose; very short ones are menu items, buttons, labels."""
    n = visual_len(content(block))
    if n >= 160:
        return 2.0
    if n >= 80:
        return 1.0
    if n >= 40:
        return 0.0
    return -1.0 if n >= 12 else -2.0


def f_punctuation(block: Block, page: Page) -> float:
    """Article text is written in sentences and clauses; chrome is bare noun phrases."""
    s = content(block)
    if not s:
        return -1.5
    # colons are left out: "关键字 : …", "Sponsors:" are labels, not clauses
    marks = sum(1 for c in s if c in SENTENCE_END + _CLAUSE or (c == "." and not s.endswith("...")))
    ends = s[-1] in SENTENCE_END + ".\"”』」" or s.rstrip("”』」\"'")[-1:] in SENTENCE_END
    if ends:
        return 2.0
    if marks * 40 >= len(s):
        return 1.5
    return -1.5 if marks == 0 else 0.0


def f_numerals(block: Block, page: Page) -> float:
    """Counters, dates, prices and promo codes: short lines made mostly of numbers or money."""
    s = content(block)
    if not s or visual_len(s) >= 120:
        return 0.0
    digits = sum(c.isdigit() for c in s)
    if _PRICE.search(s) and s[-1] not in SENTENCE_END:
        return -1.5
    return -1.5 if digits / len(s) >= 0.25 else 0.0


def f_repeated(block: Block, page: Page) -> float:
    """Site chrome repeats: the same line several times on a page, or a caption printed twice side by side."""
    key = _norm(content(block))
    if len(key) < 2:
        return 0.0
    half = len(key) // 2
    doubled = len(key) % 2 == 0 and key[:half] == key[half:]
    return -2.0 if page.counts[key] >= 2 or doubled else 0.0


def f_placeholder(block: Block, page: Page) -> float:
    """Blocks that are only image alts, ad slots, form fields, link targets (URLs) or symbols."""
    s = content(block)
    return -3.0 if not any(c.isalnum() for c in s) else 0.0


def f_separators(block: Block, page: Page) -> float:
    """Navigation bars: several short items between | or / separators."""
    s = content(block)
    parts = [p for p in re.split(r"\s[|｜/·•]\s|[|｜]", s) if p.strip()]
    if len(parts) >= 3 and sum(visual_len(p) for p in parts) / len(parts) <= 16:
        return -2.0
    return 0.0


def f_similarity(block: Block, page: Page) -> float:
    """Shares words with the article's core (the clearly-prose blocks): an article heading or caption does, an
    unrelated headline does not."""
    grams = bigrams(content(block))
    if not grams or not page.core:
        return 0.0
    own = 1 if block.first in page.in_core else 0  # a core block is compared with the others, not itself
    share = sum(1 for g in grams if page.core[g] > own) / len(grams)
    if share >= 0.35:
        return 1.5
    if share < 0.1:
        return -1.0
    return 0.0


FEATURES: dict[str, Feature] = {
    "length": f_length,
    "punctuation": f_punctuation,
    "numerals": f_numerals,
    "repeated": f_repeated,
    "placeholder": f_placeholder,
    "separators": f_separators,
    "similarity": f_similarity,
}
# Steps after scoring, switchable like the features.
STEPS = ("region", "bridge")
SHAPE = ("length", "punctuation", "similarity", "placeholder")  # what a short line of the article also shows
BRIDGE_GAP = 8  # at most this many short lines (a list) between two stretches of article prose are bridged
ANCHOR = 3.0
# A block is decided by its own score alone when the region step is off: above zero is article text.
# Inside the article region, only blocks that carry no text at all (image slots, bare link targets) go.
FLOOR = -2.5
CLIP_SHORT = 36  # a clipped note's edges lose their lines shorter than this (a language switcher, a tip jar)


def _norm(s: str) -> str:
    return re.sub(r"\W+", "", s).lower()


@lru_cache(maxsize=8192)
def bigrams(s: str) -> frozenset[str]:
    """The terms similarity is measured on: CJK character bigrams, and Latin words of four letters or more cut to
    five (a crude stem: network/networks; word bigrams would be too sparse on short lines, and shorter words are
    mostly function words)."""
    out: set[str] = set()
    prev = ""
    for w in re.findall(r"[a-z0-9]+|[^\W\da-z_]", s.lower()):
        if len(w) == 1 and not w.isascii():
            if prev and len(prev) == 1 and not prev.isascii():
                out.add(prev + w)
        elif len(w) >= 4 and not w.isdigit():
            out.add(w[:5])
        prev = w
    return frozenset(out)


# --- the classifier -------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    block: Block
    score: float
    keep: bool
    parts: dict[str, float]


# Rules switched off for parsers running in this context (the benchmark's ablation rows set it).
DISABLED: ContextVar[frozenset[str]] = ContextVar("lingxi_boilerplate_disabled", default=frozenset())


class Classifier:
    """Scores blocks with the enabled features and decides which are article text."""

    def __init__(self, disabled: Iterable[str] | None = None) -> None:
        disabled = set(DISABLED.get() if disabled is None else disabled)
        unknown = disabled - set(FEATURES) - set(STEPS)
        if unknown:
            raise ValueError(f"unknown boilerplate rules {sorted(unknown)}; known: {', '.join([*FEATURES, *STEPS])}")
        self.features = {k: f for k, f in FEATURES.items() if k not in disabled}
        self.region = "region" not in disabled
        self.bridge = "bridge" not in disabled

    def classify(self, blocks: list[Block], title: str = "", clipped: bool = False) -> list[Decision]:
        """Decide every block. ``clipped``: the text is already a page's main content (a web clipper's output),
        so chrome can only be left at its edges; the article is everything from the first strong run to the
        last, valleys (a long list of settings, a table) included."""
        page = Page(blocks, Counter(_norm(content(b)) for b in blocks), title=title)
        # First pass: similarity is measured against every block that is prose by shape alone.
        prose = [b for b in blocks if f_length(b, page) >= 1.0 and f_punctuation(b, page) > 0]
        self._set_core(page, prose)
        scored = self._score(page)
        if not (self.region and scored):
            return [Decision(b, s, s > 0, p) for b, s, p in scored]
        inside = article_region(_run_scores(scored), clipped)
        if "similarity" in self.features and inside:
            # Second pass: now that the article is located, "similar" means similar to the article itself, so a
            # teaser for another story (prose, but about something else) no longer counts as its kin, and the
            # article's own short lines (a changelog, a list of settings) do.
            self._set_core(page, [scored[i][0] for i in sorted(inside) if scored[i][1] > 0])
            scored = self._score(page)
            inside = article_region(_run_scores(scored), clipped)
        if self.bridge and not clipped:
            inside = bridge(scored, inside)
        if clipped:
            inside = clipped_region(scored)
        keep = [i in inside and not p.get("placeholder") for i, (_, _, p) in enumerate(scored)]
        return [Decision(b, s, k, p) for (b, s, p), k in zip(scored, keep)]

    @staticmethod
    def _set_core(page: Page, core_blocks: list[Block]) -> None:
        core: Counter[str] = Counter(bigrams(page.title))
        for b in core_blocks:
            core.update(bigrams(content(b)))
        page.core, page.in_core = core, frozenset(b.first for b in core_blocks)

    def _score(self, page: Page) -> list[tuple[Block, float, dict[str, float]]]:
        out = []
        for b in page.blocks:
            parts = {} if b.verbatim else {k: f(b, page) for k, f in self.features.items()}
            out.append((b, sum(parts.values()), parts))
        return out


def clipped_region(scored: list[tuple[Block, float, dict[str, float]]]) -> set[int]:
    """A clipper already chose the page's main text, so only its edges can hold chrome: from each end, the lines
    shorter than CLIP_SHORT (in the width CJK text takes) that are no heading ("本文亦提供以下语言版本", "打赏", "PayPal") and the blocks that
    show chrome by more than their shape (numbers, separators, repeats) go, up to the first block that is neither.
    Everything between stays: a note of short steps, labels and commands scores low everywhere and is still the
    article."""
    def edge(i: int) -> bool:
        b, _, p = scored[i]
        short = visual_len(content(b)) < CLIP_SHORT and not _HEADING.match(b.text)
        return short or bool(p.get("placeholder")) or any(v < 0 for k, v in p.items() if k not in SHAPE)

    lo, hi = 0, len(scored)
    while lo < hi and edge(lo):
        lo += 1
    while hi > lo and edge(hi - 1):
        hi -= 1
    return set(range(lo, hi))


def bridge(scored: list[tuple[Block, float, dict[str, float]]], inside: set[int]) -> set[int]:
    """Extend the article over a few short lines (a subheading, a short list) to the prose that follows or
    precedes them, when those lines are only short (no other feature counts against them) and what lies beyond is prose (long, in
    sentences): a list inside an article costs the region more than the paragraph after it earns back."""
    out = set(inside)
    changed = True
    while changed and out:
        changed = False
        for step, edge in ((1, max(out)), (-1, min(out))):
            i, gap = edge + step, 0
            while 0 <= i < len(scored) and i not in out and gap <= BRIDGE_GAP:
                _, s, p = scored[i]
                if any(v < 0 for k, v in p.items() if k not in SHAPE):
                    break  # chrome by more than its shape: numbers, separators, repeats
                if s > 0 and p.get("length", 0) >= 1 and p.get("punctuation", 0) > 0:
                    lo, hi = sorted((edge, i))
                    out |= set(range(lo, hi + 1))
                    changed = True
                    break
                gap += 0 if p.get("placeholder") else 1
                i += step
    return out


def _run_scores(scored: list[tuple[Block, float, dict[str, float]]]) -> list[float]:
    """Scores as the region sees them. Blocks with no text at all (image slots, empty bullets) neither make nor
    break a run; a short line's shape says little on its own (a heading, "Note:"), so one block costs a run at
    most FLOOR: it takes a run of chrome, not one odd line, to end the article."""
    return [0.0 if p.get("placeholder") else max(s, FLOOR) for _, s, p in scored]


def _best_run(scores: list[float], lo: int, hi: int) -> tuple[float, int, int]:
    """The contiguous run of scores[lo:hi] with the largest sum (Kadane): (sum, start, end)."""
    best, best_a, best_b = 0.0, lo, lo
    run, a = 0.0, lo
    for i in range(lo, hi):
        if run <= 0:
            run, a = 0.0, i
        run += scores[i]
        if run > best:
            best, best_a, best_b = run, a, i + 1
    return best, best_a, best_b


def article_region(scores: list[float], clipped: bool = False) -> set[int]:
    """Blocks of the article: the run of blocks with the largest total score, plus further runs at least
    half as strong (an article split by an ad or a long list). Short headings, captions and list items
    inside a run belong to it; prose islands among chrome (a comment, a teaser) do not."""
    best, a, b = _best_run(scores, 0, len(scores))
    if best <= 0:
        return set()
    out = set(range(a, b))
    todo = [(0, a), (b, len(scores))]
    while todo:
        lo, hi = todo.pop()
        if hi - lo <= 0:
            continue
        got, a2, b2 = _best_run(scores, lo, hi)
        if got > (2 * ANCHOR if clipped else max(2 * ANCHOR, best / 2)):
            out |= set(range(a2, b2))
            todo += [(lo, a2), (b2, hi)]
    return set(range(min(out), max(out) + 1)) if clipped else out


def article_blocks(
    text: str, title: str = "", disabled: Iterable[str] | None = None, clipped: bool = False
) -> list[Block]:
    """The blocks of ``text`` that are article text, in order."""
    return [d.block for d in Classifier(disabled).classify(segment(text), title, clipped) if d.keep]


def strip_boilerplate(
    text: str, title: str = "", disabled: Iterable[str] | None = None, clipped: bool = False
) -> str:
    """``text`` with boilerplate blocks removed; kept blocks joined by blank lines."""
    return "\n\n".join(b.text for b in article_blocks(text, title, disabled, clipped))
