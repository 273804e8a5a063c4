"""Question sets for the QA evaluation, read from JSONL, and the checks that keep one honest.

Two row formats share one loader:

* generic: ``{"id", "q", "gold": [fact, ...]}`` where each fact is a string or a list of its
  forms; an answer is correct when it says every fact in one of its forms.
* evidence-backed (``bench/data/realworld_qa.jsonl``): ``{"id", "split", "lang", "hops", "q",
  "gold": [form, ...], "evidence": [{"file", "quote"}, ...], "kind"}`` where ``gold`` lists the
  forms of one answer; an optional ``"all": [[form, ...], ...]`` names the several items a list
  answer must all contain, and ``"alt_evidence"`` the same passage found in another file.
  ``file`` is relative to the corpus folder; ``quote`` is a verbatim substring of it.

:func:`verify` checks an evidence-backed set against its corpus: every quote occurs exactly once in
its file (in an HTML page, once outside ``<script>``/``<style>``, where pages keep machine copies of
their article), an answer form sits in or within :data:`WINDOW` characters of its evidence, and
every file's questions are in one split.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from lingxi.errors import BadInput

KINDS = ("fact", "number", "who", "when", "why", "list", "cross-lingual", "homophone")
LANGS = ("zh", "en")
SPLITS = ("dev", "test")
WINDOW = 300  # characters either side of a quote in which an answer form must appear
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SCRIPT = re.compile(r"(?is)<(script|style)\b[^>]*>.*?</\1\s*>")


@dataclass(frozen=True)
class Evidence:
    file: str
    quote: str


@dataclass(frozen=True)
class Question:
    id: str
    q: str
    facts: tuple[tuple[str, ...], ...]  # every fact must be said, each in one of its forms
    split: str | None = None
    lang: str | None = None
    hops: int | None = None
    kind: str | None = None
    evidence: tuple[Evidence, ...] = ()
    alt_evidence: tuple[Evidence, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return tuple(f for fact in self.facts for f in fact)


def _forms(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise TypeError(f"{what} must be a non-empty list of non-empty strings")
    return tuple(value)


def _evidence(value: Any, what: str, required: bool) -> tuple[Evidence, ...]:
    if value is None and not required:
        return ()
    if not isinstance(value, list) or (required and not value):
        raise TypeError(f"{what} must be a list of {{\"file\", \"quote\"}}")
    out = []
    for e in value:
        if not (isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("quote"), str)
                and e["file"] and e["quote"]):
            raise TypeError(f"each {what} item needs a \"file\" and a non-empty \"quote\"")
        if Path(e["file"]).is_absolute() or ".." in Path(e["file"]).parts:
            raise TypeError(f"{what} file {e['file']!r} must be relative to the corpus folder")
        out.append(Evidence(e["file"], e["quote"]))
    return tuple(out)


def _evidence_row(r: dict[str, Any]) -> Question:
    for key, kind in (("id", str), ("q", str), ("split", str), ("lang", str), ("kind", str), ("hops", int)):
        if not isinstance(r.get(key), kind):
            raise TypeError(f"{key!r} must be a {kind.__name__}")
    if not _ID.match(r["id"]) or not r["q"].strip():
        raise TypeError("'id' must be a plain identifier and 'q' non-empty")
    for key, allowed in (("split", SPLITS), ("lang", LANGS), ("kind", KINDS)):
        if r[key] not in allowed:
            raise TypeError(f"{key!r} is {r[key]!r}; expected one of {', '.join(allowed)}")
    gold = _forms(r.get("gold"), "'gold'")
    if "all" in r:
        if not isinstance(r["all"], list) or len(r["all"]) < 2:
            raise TypeError("'all' must list at least two items, each a list of forms")
        facts = tuple(_forms(item, "each item of 'all'") for item in r["all"])
    else:
        facts = (gold,)
    evidence = _evidence(r.get("evidence"), "'evidence'", required=True)
    if r["hops"] not in (1, 2) or len(evidence) < r["hops"]:
        raise TypeError(f"'hops' is {r['hops']}: must be 1 or 2, with at least that many evidence passages")
    return Question(r["id"], r["q"], facts, r["split"], r["lang"], r["hops"], r["kind"], evidence,
                    _evidence(r.get("alt_evidence"), "'alt_evidence'", required=False))


def _generic_row(r: dict[str, Any]) -> Question:
    golds = r["gold"]
    if not isinstance(golds, list):
        raise TypeError("gold must be a list")
    facts = tuple(tuple(str(a) for a in g) if isinstance(g, list) else (str(g),) for g in golds)
    if not facts or not all(facts):
        raise TypeError("gold must list at least one fact, and each list of forms at least one form")
    split = r.get("split")
    return Question(str(r["id"]), str(r["q"]), facts, split if isinstance(split, str) else None)


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """Reads a question file (either format, one JSON object per line); ``split`` keeps one split's rows."""
    out: list[Question] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                if not isinstance(r, dict):
                    raise TypeError("a line must be a JSON object")
                if "evidence" in r:
                    try:
                        q = _evidence_row(r)
                    except TypeError as e:
                        raise BadInput(f"{path}: line {n}: {e}") from e
                else:
                    q = _generic_row(r)
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise BadInput(f"{path}: line {n}: expected {{\"id\", \"q\", \"gold\": [fact or [form, ...], ...]}}"
                               f" ({e})") from e
            if q.id in seen:
                raise BadInput(f"{path}: line {n}: id {q.id!r} appears twice")
            seen.add(q.id)
            out.append(q)
    if split is None:
        return out
    present = sorted({q.split for q in out if q.split})
    if split not in present:
        raise BadInput(f"{path}: no split {split!r}; the file has " + (", ".join(present) or "no \"split\" field"))
    return [q for q in out if q.split == split]


def searchable_text(path: Path) -> str:
    """The text a quote must be unique in: the file, less script and style elements of an HTML page."""
    text = path.read_text(encoding="utf-8")
    return _SCRIPT.sub("", text) if path.suffix.lower() in (".html", ".htm") else text


def _near(text: str, quote: str, forms: Iterable[str]) -> bool:
    at = text.index(quote)
    window = text[max(0, at - WINDOW):at + len(quote) + WINDOW].lower()
    return any(f.lower() in window for f in forms)


def verify(questions: list[Question], corpus: Path) -> list[str]:
    """Problems with an evidence-backed set over ``corpus`` (empty when it is sound)."""
    problems: list[str] = []
    cache: dict[str, str | None] = {}

    def text(rel: str) -> str | None:
        if rel not in cache:
            p = corpus / rel
            cache[rel] = searchable_text(p) if p.is_file() else None
        return cache[rel]

    split_of: dict[str, tuple[str, str]] = {}
    for q in questions:
        if not q.evidence:
            problems.append(f"{q.id}: no evidence")
            continue
        near_any = {i: False for i in range(len(q.facts))}
        for ev, alt in [(e, False) for e in q.evidence] + [(e, True) for e in q.alt_evidence]:
            t = text(ev.file)
            if t is None:
                problems.append(f"{q.id}: {ev.file} is not in {corpus}")
                continue
            if ev.quote not in t:
                raw = (corpus / ev.file).read_text(encoding="utf-8")
                where = "only inside <script>/<style>" if ev.quote in raw else "not"
                problems.append(f"{q.id}: quote {ev.quote!r} occurs {where} in {ev.file}")
                continue
            if (c := t.count(ev.quote)) != 1:
                problems.append(f"{q.id}: quote {ev.quote!r} occurs {c} times in {ev.file}; it must be unique")
                continue
            if alt:
                continue
            for i, fact in enumerate(q.facts):
                near_any[i] = near_any[i] or _near(t, ev.quote, fact)
            if q.split:
                first = split_of.setdefault(ev.file, (q.split, q.id))
                if first[0] != q.split:
                    problems.append(f"{q.id}: {ev.file} is in split {q.split!r} here but {first[0]!r} in {first[1]}")
        for i, ok in near_any.items():
            if not ok and all(text(e.file) is not None and e.quote in (text(e.file) or "") for e in q.evidence):
                problems.append(f"{q.id}: none of {list(q.facts[i])} is within {WINDOW} characters of its evidence")
    return problems


def _letters(text: str) -> str:
    """Letters and digits only, NFKC-folded and lower-cased: what survives any parser's reflowing."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


def holds(passage: str, quote: str, share: float = 0.6) -> bool:
    """Whether an indexed passage holds an evidence quote. Parsers reflow whitespace, drop markup and
    punctuation, and may cut a quote at a chunk boundary, so the test compares letters and digits only and
    accepts a passage that holds an unbroken ``share`` of the quote."""
    q, p = _letters(quote), _letters(passage)
    if not q:
        return False
    if q in p:
        return True
    m = SequenceMatcher(None, q, p, autojunk=False).find_longest_match(0, len(q), 0, len(p))
    return m.size >= max(4, share * len(q))


__all__ = ["KINDS", "LANGS", "SPLITS", "WINDOW", "Evidence", "Question", "holds", "load_questions", "searchable_text",
           "verify"]
