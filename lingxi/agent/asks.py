"""What a question asks for, where the wording says so: a number (a year, a date, a count, an amount).

A small model answering a chain ("the manga's author was born in what year?") often names the bridge entity
(the author's name) instead of the hop it was asked for. A question that asks for a number is not answered by
an answer that holds none."""

from __future__ import annotations

import re

from lingxi.agent.prompts import is_chinese

_EN = re.compile(
    r"\b(?:what|which)\s+(?:year|years|decade|century|date|month|day|percentage|percent|number|amount|age)\b"
    r"|\bhow\s+(?:many|much|old|long|far|tall|high|big|large|deep|wide|often)\b"
    r"|^\s*(?:since\s+|until\s+)?when\b|\b(?:since|until|till)\s+when\b", re.I)
_ZH = re.compile(
    r"多少|几(?:个|年|月|日|号|次|位|名|岁|天|枚|部|点|时|倍|家|所|场|届|米|公里|万|千|百|十)|哪一?年|哪一?天|哪个月|哪一?日"
    r"|什么时候|何时|几时|什么时间|多久|多长时间"
    r"|(?:时间|日期|年份|数量|人数|率|比例|占比|票房|销量|交付量|营收|收入|产量|价格|金额)(?:分别)?(?:是|为)?(?:什么|多少)?[？?。]?\s*$")
_DIGIT = re.compile(r"[0-9０-９]|[零〇一二三四五六七八九十百千万亿两]")
_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand"
    r"|million|billion|trillion|dozen|half)\b", re.I)


def asks_number(question: str) -> bool:
    """True when the question's wording asks for a number, a year or a date ("what year", "how many", "多少")."""
    return bool(_EN.search(question) or _ZH.search(question))


def has_number(text: str) -> bool:
    """True when the text holds a number in digits, Chinese numerals or English number words."""
    return bool(_DIGIT.search(text) or _WORDS.search(text))


# What kind of thing an English question asks for ("What is the name of the fight song of ...", "in what city",
# "What screenwriter with credits for ...", "who"), and which of its common nouns a wrong answer carries.
_VERB = r"(?:is|was|are|were|did|does|do|has|had|have|can|could|would|will|should|may|might)"
_ENDS_KIND = {
    "of", "in", "on", "at", "to", "for", "by", "from", "with", "that", "which", "who", "whom", "whose", "where",
    "when", "is", "was", "are", "were", "did", "does", "do", "has", "had", "have", "can", "could", "would", "will",
    "and", "or", "as", "than", "between", "both", "the", "a", "an", "this", "these", "those", "its", "his", "her",
    "their", "born", "became", "played"}
_NAME_OF = re.compile(rf"\bwhat\s+{_VERB}\s+the\s+(?:name|title)s?\s+(?:of|for)\s+(?:the\s+|a\s+|an\s+)?(.+)", re.I)
_WH_X = re.compile(r"\b(?:what|which)(?:\s+other)?\s+(?=(.+))", re.I)  # each question word, with what follows it
_RELATIVE = re.compile(r"\b(?:in|of|by|during|on|at|for|to|from|with|under)\s+$", re.I)
_KIND_OF = re.compile(r"^(?:type|kind|sort|form)s?\s+of\s+", re.I)
_NOUN = re.compile(r"\b[a-z][a-z'’-]+")  # whole lower-case words, not the tail of "New"


def asked_kind(question: str) -> str:
    """The noun phrase an English question asks for, lower-cased: "fight song" ("What is the name of the fight song
    of the university whose ...?"), "city" ("...located in what city?"), "screenwriter" ("What screenwriter with
    credits for ...?"), "person" for "who", "thing" for "what" with a verb ("What was X voted to be?"); "" when the
    wording does not say (a Chinese question, "when", "how many", no question word)."""
    if is_chinese(question) or re.match(r"\s*(?:when|where|how)\b", question, re.I):
        return ""
    m = _NAME_OF.search(question)
    # "what"/"which" followed by a verb asks no noun; a relative "in which <someone> ..." asks nothing
    rest = m.group(1) if m else next((x.group(1) for x in _WH_X.finditer(question)
                                      if not re.match(rf"{_VERB}\b", x.group(1), re.I)
                                      and not (x.group(0)[:5].lower() == "which" and x.group(1)[:1].isupper()
                                               and _RELATIVE.search(question[: x.start()]))),
                                     None)
    if rest is None:
        if re.match(r"\s*whom?\b", question, re.I) or re.search(r"\bwhom?\s*[?？]?\s*$", question, re.I):
            return "person"
        return "thing" if re.search(rf"\bwhat\s+{_VERB}\b", question, re.I) else ""
    words: list[str] = []
    for w in re.findall(r"[\w'’-]+", _KIND_OF.sub("", re.split(r"[,;:?!()\"“”]|\.\s", rest)[0].strip())):
        # a kind ends at a function word, or where a name starts after it ("what conference Vermont ...")
        if w.lower() in _ENDS_KIND or (words and ((w[0].isupper() and not words[-1][0].isupper()) or _verb(w))) \
                or len(words) >= 6:
            break
        words.append(w)
    return " ".join(words).lower() or "thing"  # "...known as what?"


_IRREGULAR = {"made", "won", "wrote", "written", "began", "begun", "built", "held", "led", "sang", "sung", "took",
              "taken", "gave", "given", "ran", "sold", "bought", "left", "lost", "met", "came", "went", "saw", "seen",
              "got", "became", "become", "did", "done", "had", "said", "told", "kept", "brought", "taught", "drew",
              "drawn", "grew", "flew", "fly", "flies", "shot", "hosts", "host", "hosted", "contains", "features", "uses"}


def _verb(word: str) -> bool:
    """A word that ends a noun phrase as its verb: a past form ("founded", "released") or a common verb ("made")."""
    w = word.lower()
    return w in _IRREGULAR or (len(w) > 4 and w.endswith("ed") and "-" not in w
                               and w not in {"hundred", "speed", "breed", "seed"})


def described_by(question: str, answer: str) -> set[str]:
    """The question's common nouns (lower-case words there) that the answer's name carries, other than what the
    question asks for: "university" for "The University of X" as the answer to "What is the name of the song of the
    university whose campus is in Y?" — an answer naming what the question describes (its bridge) rather than
    what it asks."""
    if is_chinese(question):
        return set()
    common = set(_NOUN.findall(question)) - _ENDS_KIND
    words = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'’-]+", answer)}
    return (words & common) - set(asked_kind(question).split())


def other_kind(question: str, hop: str) -> bool:
    """Whether a sub-question asks for another kind of thing than the question: "What university did X
    work at?" towards "...a university that is located in what city?", "Who was the father of X?" towards
    "What was the father of X voted to be ...?". Unknown kinds are not other;
    "what" with a verb ("thing") is other only than "who"."""
    q, h = asked_kind(question), asked_kind(hop)
    if not q or not h or ("thing" in (q, h) and "person" not in (q, h)):
        return False
    return q.split()[-1] != h.split()[-1]
