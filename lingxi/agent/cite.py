"""Verified citations: every cited claim is checked against its passage, moved to a passage that backs it, or dropped.

A passage backs a claim when it states the claim's numbers (those the question does not), names the names the claim
adds to the question, and either says the bare answer or shares enough of the claim's characters with one of its
sentences; the quote is that sentence, verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lingxi.ingest.text import sentence_spans
from lingxi.llm.passages import MARKER, neutralize
from lingxi.text import names, numbers, overlap, sentence_like, squash, states
from lingxi.types import Citation, Hit

_NAMES = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+")  # two or more capitalised words
_YES_NO = {"yes", "no", "是", "否", "不是", "对", "不对", "有", "没有"}
MARKS = re.compile(r"\[(\d+(?:\s*[,，]\s*\d+)*)\]")
_RUN = re.compile(r"(?:\s*\[\d+(?:\s*[,，]\s*\d+)*\])+")
_END = re.compile(rf"{_RUN.pattern}[，,。.；;！!？?]?|(?:[。！？!?；;]|\.(?=\s|$))(?:{_RUN.pattern})?|\n")


def ground_quote(quote: str, chunk_text: str, hint: str = "") -> str | None:
    """A verbatim span of ``chunk_text`` standing for ``quote`` (or the claim ``hint``): itself, else the sentence
    sharing most of its character pairs (at least half), else None."""
    q = quote.strip().strip("\"'“”「」")
    if len(q) >= 4 and q in chunk_text:
        return q
    target = q or hint
    scored = [(overlap(target, chunk_text[s:e]), chunk_text[s:e]) for s, e in sentence_spans(chunk_text)]
    best = max(scored, default=(0.0, ""))
    return best[1] if target.strip() and best[0] >= 0.5 else None


@lru_cache(maxsize=256)
def shown(text: str) -> str:
    """A chunk as the model saw it (instruction-like sentences replaced)."""
    return neutralize(text)[0]


def backing(hit: Hit, claim: str, short: str, question: str) -> str | None:
    """The verbatim sentence of the hit's chunk that backs ``claim`` (whose bare answer is ``short``), or None."""
    text, titled = hit.chunk.text, f"{hit.title}\n{hit.chunk.text}"
    # a passage of a recording also states where it is in it (what is said at 00:57:49 is backed by that time)
    placed = f"{hit.chunk.locator.label()}\n{text}" if hit.chunk.locator.start_s is not None else text
    if not numbers(claim) - numbers(question) <= numbers(placed):
        return None  # character overlap cannot tell "seats 4,000" from "seats 3,677"
    if any(not names(question, n) and not names(titled, n) for n in _NAMES.findall(claim)):
        return None  # a claim about Anna Berg is not backed by Anna Lund's passage
    s = squash(short)
    # a "short" answer that is a sentence is checked as a claim (by what it shares with a sentence), not word for word
    has_short = len(s) >= 2 and s not in _YES_NO and s in squash(claim or short) and not sentence_like(short)
    if has_short and not (states(placed, short) or names(titled, short)):
        return None  # a claim stating the answer needs a passage that says it
    seen = shown(text)
    best, score = None, -1.0
    for a, b in sentence_spans(seen):
        sent = seen[a:b]
        if sent not in text or MARKER in sent:
            continue
        sc = overlap(claim, sent) + (1.0 if has_short and states(sent, short) else 0.0)
        if sc > score:
            best, score = sent, sc
    if best is None or (not has_short and overlap(claim, best) < 0.3 and overlap(claim, text) < 0.5):
        return None
    return best


def verify(hits: list[Hit], named: object, claim: str, short: str, question: str,
           need: list[str] | None = None) -> tuple[Hit, str] | None:
    """The passage (and quote) backing a claim: the one the model named, else another (small models misnumber
    passages); with ``need``, only a passage naming one of those names (a chain hop's input)."""
    first = [hits[named - 1]] if isinstance(named, int) and 1 <= named <= len(hits) else []
    for hit in first + [h for h in hits if h not in first]:
        if need and not any(names(f"{hit.title}\n{hit.chunk.text}", n) for n in need):
            continue
        if (quote := backing(hit, claim, short, question)) is not None:
            return hit, quote
    return None


def citation(n: int, hit: Hit, quote: str) -> Citation:
    assert quote in hit.chunk.text  # never emit an unverifiable quote
    c = hit.chunk
    return Citation(n, c.note_id, c.id, hit.title, hit.source, c.locator, quote)


@dataclass
class Cited:
    text: str
    citations: tuple[Citation, ...]


def cite(text: str, short: str, pool: list[Hit], question: str, whole: bool = True) -> Cited:
    """Each sentence's [n] checked against passage n of ``pool``: kept, moved to the best-ranked passage that backs the
    claim, or the claim removed; citations renumbered 1..m in order of appearance. With ``whole``, an answer none of
    whose markers held is backed as a whole by the best passage that supports it."""
    chosen: list[tuple[Hit, str]] = []

    def number(hit: Hit, quote: str) -> int:
        for i, (h, _) in enumerate(chosen, 1):
            if h.chunk.id == hit.chunk.id:
                return i
        chosen.append((hit, quote))
        return len(chosen)

    def ground(claim: str, nums: list[int]) -> list[int]:
        got = [number(pool[n - 1], q) for n in nums
               if 1 <= n <= len(pool) and (q := backing(pool[n - 1], claim, short, question)) is not None]
        if not got and (where := verify(pool, None, claim, short, question)) is not None:
            got.append(number(*where))
        return list(dict.fromkeys(got))

    text = text.strip()
    if not MARKS.sub("", text).strip(" \t\n.。"):
        text = short or text  # only markers: the short answer is the claim
    out, prev = [], short
    for a, b in segments(text):
        seg = text[a:b]
        m = _RUN.search(seg)
        if m is None:
            out.append(seg)
            continue
        nums = [int(x) for k in MARKS.finditer(m.group(0)) for x in re.split(r"\s*[,，]\s*", k.group(1))]
        claim = prev = (seg[: m.start()] + seg[m.end():]).strip(" \t\n，,") or prev
        if got := ground(claim, nums):
            lead = " " if m.group(0)[:1].isspace() else ""
            out.append(seg[: m.start()] + lead + "".join(f"[{n}]" for n in got) + seg[m.end():])
    result = re.sub(r"[ \t]+", " ", "".join(out)).strip()
    if not chosen and not whole:
        return Cited(MARKS.sub("", text).strip(), ())
    if not chosen:  # nothing cited held: the whole answer, backed by the best passage that supports it, if any
        claim = MARKS.sub("", text).strip()
        got = ground(claim or short, [])
        if not got:
            return Cited(claim, ())
        result = claim.rstrip() + " " + "".join(f"[{n}]" for n in got)
    order = list(dict.fromkeys(int(x) for x in re.findall(r"\[(\d+)\]", result)))
    renum = {old: new for new, old in enumerate(order, 1)}
    result = re.sub(r"\[(\d+)\]", lambda x: f"[{renum[int(x.group(1))]}]", result)
    kept = [citation(renum[i], h, q) for i, (h, q) in enumerate(chosen, 1) if i in renum]
    return Cited(result, tuple(sorted(kept, key=lambda c: c.n)))


def segments(text: str) -> list[tuple[int, int]]:
    """Claim-sized pieces of an answer: sentences, each with the markers that follow its end."""
    spans, start = [], 0
    for m in _END.finditer(text):
        if m.end() > start:
            spans.append((start, m.end()))
            start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans
