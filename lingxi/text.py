"""Language, numerals and names, for every package: the one place lingxi asks "is this Chinese?", reads numbers and
matches names.

``is_cjk`` (a character) and ``CJK`` (a pattern) are the ideograph ranges; ``is_chinese`` says whether a text has
any, ``written_in`` which language most of it is written in. Three predicates carry every check of an answer against
a text: ``states`` (the text says it, give or take case, spaces, thousands separators and Chinese numerals), ``names``
(the text names it, perhaps written another way) and ``restates`` (an answer that only repeats the question);
``adds_nothing`` is ``restates`` for what a hop was given."""

from __future__ import annotations

import re

CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
LATIN = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_NUMBER = re.compile(r"\d+(?:[,，.]\d+)*")
_ZH_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10_000, "亿": 100_000_000}
_ZH_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")
_TIMES_BIG = re.compile(r"(\d+(?:\.\d+)?)\s*([万亿])")
_FILLER = {"the", "a", "an", "of", "and", "de", "la", "le", "von", "van"}


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FFFF


def is_chinese(text: str) -> bool:
    return bool(CJK.search(text))


def language(text: str) -> str:
    return "zh" if is_chinese(text) else "en"


def written_in(text: str) -> str:
    """The language most of a text is written in: "zh" when CJK ideographs are a fifth or more of its letters
    and characters (an English passage quoting one Chinese name stays "en"), else "en"."""
    cjk = len(CJK.findall(text))
    return "zh" if cjk and cjk * 5 >= cjk + len(re.findall(r"[A-Za-z]", text)) else "en"


def language_rule(question: str) -> str:
    return "用中文回答。" if is_chinese(question) else "Answer in English."


def _zh_value(run: str) -> str:
    if not any(ch in _ZH_UNIT or ch in _ZH_BIG for ch in run):
        return "".join(str(_ZH_DIGIT[ch]) for ch in run)
    total = section = digit = 0
    for ch in run:
        if ch in _ZH_DIGIT:
            digit = _ZH_DIGIT[ch]
        elif ch in _ZH_UNIT:
            section += (digit or 1) * _ZH_UNIT[ch]
            digit = 0
        else:
            total += (section + digit or 1) * _ZH_BIG[ch]
            section = digit = 0
    return str(total + section + digit)


def arabic(text: str) -> str:
    """Chinese numerals, and digits before 万/亿, as digits: "用一百度的水" → "用100度的水", "80 万条" → "800000条"."""
    text = _TIMES_BIG.sub(lambda m: f"{float(m.group(1)) * _ZH_BIG[m.group(2)]:.0f}", text)
    return _ZH_RUN.sub(lambda m: _zh_value(m.group(0)), text) if CJK.search(text) else text


def numbers(text: str) -> set[str]:
    """The numbers a text states, in digits, thousands separators dropped ("3,677" and "三千六百七十七" alike)."""
    return {re.sub(r"[,，]", "", m) for m in _NUMBER.findall(arabic(text))}


def squash(s: str) -> str:
    return "".join(arabic(s).replace(",", "").replace("，", "").lower().split())


def overlap(a: str, b: str) -> float:
    """Share of a's units found in b: character pairs for Chinese (they carry meaning), else words and numbers (any
    two English sentences share many letter pairs)."""
    def grams(s: str) -> set[str]:
        if not latin:
            s = "".join(s.lower().split())
            return {s[i: i + 2] for i in range(len(s) - 1)} or ({s} if s else set())
        return {w[:6] for w in re.findall(r"[a-z]{3,}|\d+", s.lower())}
    latin = not is_chinese(a) and bool(re.search(r"[A-Za-z]{3}", a))
    ga = grams(a)
    return len(ga & grams(b)) / len(ga) if ga else 0.0


_RANGE_WORDS = re.compile(r"\b(?:from|to|until|till|through|and|between)\b|[至到和与—–~～/-]", re.I)


def numeric(answer: str) -> bool:
    """Whether an answer is numbers alone, with what joins them into a range or a list ("1990–1995", "1961 until
    1968", "3,677")."""
    return bool(numbers(answer)) and not re.sub(r"[\d\s,，.:]", "", _RANGE_WORDS.sub("", arabic(answer)))


def states(text: str, answer: str) -> bool:
    """Whether ``text`` says ``answer`` verbatim, case, spaces, thousands separators and numerals aside; an answer of
    numbers alone is said where each of its numbers is ("1990–1995" by "from 1990 to 1995")."""
    a = squash(answer)
    if not a:
        return False
    return a in squash(text) or (numeric(answer) and numbers(answer) <= numbers(text))


def adds_nothing(answer: str, given: str, asked: str) -> bool:
    """Whether ``answer`` only hands back ``given`` (what a hop was told): it states it, and what is left of it once
    ``given`` is taken out is words (Chinese: characters) of ``asked``, or nothing ("林舟是林舟" for "林舟是做什么的")."""
    if not given.strip() or not states(answer, given):
        return False
    if is_chinese(answer):
        rest = re.sub(r"\W", "", squash(answer).replace(squash(given), ""))
        return set(rest) <= set(squash(asked))
    have = set(_words(given) + _words(asked)) | numbers(given) | numbers(asked)
    return all(w in have for w in _words(answer) + sorted(numbers(answer)))


def sentence_like(answer: str) -> bool:
    """Whether an answer is a sentence rather than a name or a phrase (eight words, or sixteen CJK ideographs)."""
    return len(_words(answer)) >= 8 or sum(map(is_cjk, answer)) >= 16


def states_all(text: str, answer: str) -> bool:
    """``states`` for each part of a list answer ("林舟，旅行作家", "A and B")."""
    parts = [p for p in re.split(r"[,，、;；/]|\band\b|和|与", answer) if p.strip()]
    return bool(parts) and all(states(text, p) for p in parts)


def _words(text: str) -> list[str]:
    return [w.lower().strip("'’-") for w in LATIN.findall(text)]


def names(text: str, name: str) -> bool:
    """Whether ``text`` names ``name``: states it, or (a Latin-script name written another way: "Mara T. Vell" for
    "Mara Tove Vell") has its first and last words and most of its words, or (Chinese) most of its character
    pairs. A passage about Anna Lund does not name Anna Berg."""
    if states(text, name):
        return True
    if is_chinese(name):
        return overlap(name, text) >= 0.6
    order = [w for w in _words(name) if (len(w) >= 3 or w.isupper()) and w not in _FILLER]
    need = set(order) | numbers(name)
    if not order:
        return False
    have = set(_words(text)) | numbers(text)
    return {order[0], order[-1]} <= have and len(need & have) * 2 > len(need)


def restates(question: str, answer: str) -> bool:
    """Whether ``answer`` only says what ``question`` says: it is in it, or every word and number of it is."""
    if states(question, answer):
        return True
    words = _words(answer) + re.findall(r"\d+", answer)
    if not words or is_chinese(answer):
        return False
    have = set(_words(question)) | set(re.findall(r"\d+", question))
    return all(w in have for w in words)


_CAPITALISED = re.compile(r"[A-Z][\w'’.&-]*(?:\s+(?:(?:of|the|and|de|in|on|for)\s+)*[A-Z][\w'’.&-]*)*")
_QUOTED = re.compile(r'"([^"\n]{2,80})"|“([^”\n]{2,80})”|《([^》\n]{1,40})》|「([^」\n]{1,40})」')
_ASKED_KIND = re.compile(r"\b(?:what|which|whose)(?:\s+other)?\s+$", re.I)
# a sentence's first word is capitalised for starting it: a question or function word is no part of a name
_OPENER = re.compile(r"(?:what|which|who|whom|whose|when|where|why|how|in|on|at|the|a|an|of|for|from|by|to|as|aside|"
                     r"after|before|during|since|is|was|are|were|did|does|do|has|have|had|can|could|this|that|these|"
                     r"those|it|he|she|they|name|besides|between|other|than|with)$", re.I)


def anchors(question: str) -> list[str]:
    """What a question names: quoted titles ("Big Stone Gap", 《三体》) and runs of capitalised words, without a
    sentence's opening question or function word, and none inside the phrase that says what kind of answer is asked
    ("in what New York city")."""
    out = []
    for m in _CAPITALISED.finditer(question):
        text, start = m.group(0).rstrip("."), m.start()
        if (start == 0 or re.search(r"[.?!]\s*$", question[:start])) and _OPENER.match(text.split(" ", 1)[0]):
            text = text.split(" ", 1)[1] if " " in text else ""
        if text and not _ASKED_KIND.search(question[:start]):
            out.append(text)
    out += [next(g for g in m.groups() if g) for m in _QUOTED.finditer(question)]
    return list(dict.fromkeys(a.strip() for a in out if len(a.strip()) >= 2))
