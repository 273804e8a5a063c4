"""Citation grounding: a quote is kept only as a verbatim span of the chunk it cites.

Small models paraphrase when asked to copy. A quote that is not verbatim is re-grounded
to the chunk's sentence that overlaps it most (by character bigrams), if that overlap is
strong; otherwise the citation is dropped."""

from __future__ import annotations

import re

from lingxi.ingest.text import split_long, trim_span

_SENT = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?|\n")
MIN_OVERLAP = 0.5


def sentence_spans(text: str, max_chars: int = 240) -> list[tuple[int, int]]:
    spans = []
    for m in _SENT.finditer(text):
        s, e = trim_span(text, m.start(), m.end())
        if e - s == 0:
            continue
        # English sentences end with ". " which the pattern above does not split on.
        for part in re.finditer(r".+?(?:\.(?=\s)|$)", text[s:e], flags=re.S):
            ps, pe = trim_span(text, s + part.start(), s + part.end())
            if pe > ps:
                spans.extend(split_long(text, ps, pe, target=max_chars // 2, max_chars=max_chars, min_chars=20)
                             if pe - ps > max_chars else [(ps, pe)])
    return spans


def _bigrams(s: str) -> set[str]:
    s = "".join(s.lower().split())
    return {s[i : i + 2] for i in range(len(s) - 1)} or ({s} if s else set())


def overlap(a: str, b: str) -> float:
    """Share of a's character bigrams found in b."""
    ga, gb = _bigrams(a), _bigrams(b)
    return len(ga & gb) / len(ga) if ga else 0.0


def ground_quote(quote: str, chunk_text: str, hint: str = "") -> str | None:
    """A verbatim substring of ``chunk_text`` standing for ``quote`` (or the claim ``hint``), or None."""
    q = quote.strip().strip("\"'“”「」")
    if len(q) >= 4 and q in chunk_text:
        return q
    target = q or hint
    if not target.strip():
        return None
    best, best_score = None, 0.0
    for s, e in sentence_spans(chunk_text):
        sent = chunk_text[s:e]
        score = overlap(target, sent) if q else overlap(hint, sent)
        if hint and q:
            score = max(score, 0.8 * overlap(hint, sent))
        if score > best_score:
            best, best_score = sent, score
    return best if best is not None and best_score >= MIN_OVERLAP else None


_ZH_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10_000, "亿": 100_000_000}
_ZH_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")
_TIMES_BIG = re.compile(r"(\d+(?:\.\d+)?)\s*([万亿])")


def _zh_value(run: str) -> str:
    """A run of Chinese numerals as digits: "一百" → "100", "八十万" → "800000", "二〇二三" → "2023"."""
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
    """``text`` with its Chinese numerals, and digits followed by 万 or 亿, written as digits: "用一百度的水" →
    "用100度的水", "80 万条" → "800000条". Used on both sides of a comparison, so "100度" is said by "一百度"."""
    text = _TIMES_BIG.sub(lambda m: f"{float(m.group(1)) * _ZH_BIG[m.group(2)]:.0f}", text)
    return _ZH_RUN.sub(lambda m: _zh_value(m.group(0)), text) if _CJK.search(text) else text


_ORDINAL = re.compile(r"第\s*([0-9０-９零〇一二两三四五六七八九十百千]+)\s*(期|集|季|届|章|回|部|辑|篇|课|讲|卷|话|轮|版)")


def ordinals(text: str) -> set[str]:
    """The numbered items a Chinese text names, as digits: {"第13期"} for "《慢慢聊》第十三期的嘉宾是谁", "第 13 期"."""
    return {f"第{arabic(m.group(1))}{m.group(2)}" for m in _ORDINAL.finditer(text)}


def names_ordinal(question: str, text: str) -> bool:
    """Whether ``text`` (a passage with its title) names one of the numbered items the question names ("第13期"),
    or the question names none: the guest of episode 12 does not answer a question about episode 13."""
    want = ordinals(question)
    return not want or bool(want & ordinals(text))


def about(claim: str, quote: str, chunk_text: str) -> bool:
    """Whether a grounded quote can support ``claim``: the claim shares enough of its characters with the
    quote, or (for short extractive answers such as a name or a date) with the chunk the quote comes from.
    Numbers compare as digits ("100度" and "一百度")."""
    c, quote, chunk_text = arabic(claim.strip()), arabic(quote), arabic(chunk_text)
    if not c:
        return True
    if len("".join(c.split())) <= 3:
        return "".join(c.lower().split()) in "".join(chunk_text.lower().split()) or overlap(c, chunk_text) >= 0.5
    return overlap(c, quote) >= 0.3 or overlap(c, chunk_text) >= 0.5


_YES_NO = {"yes", "no", "是", "否", "不是", "对", "不对", "有", "没有"}


def _squash(s: str) -> str:
    return "".join(s.lower().split())


def mentions(text: str, answer: str) -> bool:
    """Whether ``text`` states ``answer`` (case, spaces and thousands separators ignored; Chinese numerals read as
    digits, so "一百度" states "100度")."""
    a = answer.replace(",", "").replace("，", "")
    return bool(_squash(a)) and _said(text.replace(",", "").replace("，", ""), a)


def restates(text: str, answer: str) -> bool:
    """Whether ``answer`` only says what ``text`` (a question) says: it is in it, or (Latin script) every word of it
    is ("Aladin helped organizations improve their performance as a consultant." for "Who was known by his stage
    name Aladin and helped organizations improve their performance as a consultant?")."""
    if mentions(text, answer):
        return True
    words = [w.lower() for w in _LATIN.findall(answer)] + re.findall(r"\d+", answer)
    if not words or _CJK.search(answer):
        return False
    have = {w.lower() for w in _LATIN.findall(text)} | set(re.findall(r"\d+", text))
    return all(w in have for w in words)


_NUMBER = re.compile(r"\d+(?:[,，.]\d+)*")


def numbers(text: str) -> set[str]:
    """The numbers a text states, thousands separators dropped ("3,677" and "3677" are one number)."""
    return {re.sub(r"[,，]", "", m) for m in _NUMBER.findall(text)}


def states_numbers(chunk_text: str, claim: str, given: str = "") -> bool:
    """Whether the chunk states every number of the claim that ``given`` (the question) did not already state:
    character overlap cannot tell "seats 4,000" from "seats 3,677", so a number needs the number itself."""
    need = numbers(claim) - numbers(given)
    return not need or need <= numbers(chunk_text) | numbers(arabic(chunk_text))


_PUNCT = re.compile(r"[\W_]+", re.U)


def short_of(short: str, said: str) -> str:
    """The bare answer to report for a verified answer text: the model's short answer when the text says it (or it
    is yes/no), else the text itself. A short answer the cited text does not state is not backed by anything."""
    text = _PUNCT.sub("", said.lower())
    # said when each of its parts is (one part, or a list such as "林舟，旅行作家" or "A and B")
    parts = [p for p in (_PUNCT.sub("", x) for x in re.split(r"[,，、;；/]|\band\b|和|与", short.lower())) if p]
    if parts and (_PUNCT.sub("", short.lower()) in _YES_NO or all(p in text for p in parts)):
        return short.strip()
    return said.strip() or short.strip()


_LATIN = re.compile(r"[a-z][a-z'’-]*", re.I)
_FILLER = {"the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "by", "de", "la", "le", "von", "van",
           "it", "its", "he", "his", "she", "her", "they", "their", "this", "that", "these", "those"}  # and pronouns


def bare(claim: str, short: str) -> bool:
    """Whether a claim is just its bare answer ("Ada Lovelace", "The Analytical Engine"), not a sentence."""
    c, s = _PUNCT.sub("", claim.lower()), _PUNCT.sub("", short.lower())
    return bool(s) and s not in _YES_NO and s in c and len(c) <= len(s) + 8


def name_only(claim: str) -> bool:
    """Whether a claim is only a name ("Hyde Park", "The Silver Chronicles"): a few Latin-script words,
    each capitalised or a filler word, and nothing else said. Its letter pairs overlap any English sentence, so only
    a passage that names it backs it, whatever the short answer is."""
    words = _LATIN.findall(claim)
    rest = _LATIN.sub("", claim)
    return 0 < len(words) <= 8 and not re.search(r"[^\W\d_]", rest) \
        and all(w[0].isupper() or w.lower() in _FILLER for w in words)


def names_all(answer: str, text: str) -> bool:
    """Whether ``text`` has every capitalised Latin-script word of ``answer``, the words of a name, each but the
    first as a capitalised word (an initial matches a word it begins; "City" is not the common noun "city");
    lower-case words
    may be paraphrased ("Ada Lovelace died in 1852" is backed by
    "Ada Lovelace (1815 – 1852)").

    Character-bigram overlap is a fair paraphrase test for Chinese, where bigrams carry meaning, but not for a short
    English name: "Far Away: The Kids" shares half its letter pairs with any long English sentence."""
    found = _LATIN.findall(answer)
    need = [(i, w) for i, w in ((i, x.lower().strip("'’-")) for i, x in enumerate(found) if x[0].isupper())
            if w and w not in _FILLER]
    if not need:
        return True
    words = {w.lower().strip("'’-") for w in _LATIN.findall(text)}
    # a name's word is matched by a capitalised word ("City" of "Springfield City" is not the common noun "city"),
    # except the answer's first word, capitalised as any answer's first word is ("Sovereignty")
    names = {w.lower().strip("'’-") for w in _LATIN.findall(text) if w[0].isupper()}
    for i, w in need:
        pool = words if i == 0 else names
        if w in pool:
            continue
        if len(w) == 1 and any(x.startswith(w) for x in pool):
            continue
        return False
    return _runs_in(found, _LATIN.findall(text))


def _runs_in(answer_words: list[str], text_words: list[str]) -> bool:
    """Whether each run of capitalised words of the answer (filler words aside: "Salem, Oregon", "Ada
    Lovelace") is a run of words of the text too: a name is a phrase, and "Salem, Jamaica; ... Brooklyn, New
    York" has its words but does not name Salem, Oregon ("University of Oregon–Salem City" does not name
    the University of Oregon). Runs with an initial ("Anna M. Holt") are not checked."""
    def key(w: str) -> str:
        return w.lower().strip("'’-")

    runs: list[list[str]] = [[]]
    for w in answer_words:
        if key(w) in _FILLER:
            continue
        if w[0].isupper():
            runs[-1].append(key(w))
        elif runs[-1]:
            runs.append([])
    have = [key(w) for w in text_words if key(w) not in _FILLER]
    for run in runs:
        if len(run) < 2 or any(len(w) == 1 for w in run):
            continue
        if not any(have[i:i + len(run)] == run for i in range(len(have) - len(run) + 1)):
            return False
    return True


_CJK = re.compile(r"[\u3400-\u9fff]")


def names_entity(text: str, name: str) -> bool:
    """Whether ``text`` names ``name`` (a chain's bridge: "Tom Reed", "Anna Maria Holt", "林舟"): it states it,
    or (a Latin-script name written another way: "Anna M. Holt", "Pete Lund") more than half of its words
    and numbers, its first and last words among them, or (Chinese) most of its character pairs. A passage about Tom
    Black does not name Tom Reed."""
    if mentions(text, name):
        return True
    if _CJK.search(name):
        return overlap(name, text) >= 0.6
    order = [w.lower().strip("'’-") for w in _LATIN.findall(name) if len(w) >= 3 or w.isupper()]
    order = [w for w in order if w not in _FILLER]
    need = set(order) | numbers(name)
    if not need:
        return False
    have = {w.lower().strip("'’-") for w in _LATIN.findall(text)} | numbers(text)
    # its first and last words are a name's core; the middle may vary ("Anna M. Holt" for "Anna Maria Holt")
    # and "Big Stone County" is not "Big Stone Gap"
    ends = {order[0], order[-1]} if order else set()
    return ends <= have and len(need & have) * 2 > len(need)


# a name in a claim: two or more capitalised Latin-script words in a row ("Tom Reed", "Dr. Quill")
_NAMES = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+")


def supporting_sentence(chunk_text: str, claim: str, short: str = "", shown: str | None = None,
                        exclude: str = "", given: str = "", title: str = "") -> str | None:
    """The verbatim sentence of ``chunk_text`` that best backs ``claim`` (whose bare answer is ``short``), or None
    when the chunk does not back it: the chunk must state every number of the claim not already in ``given`` (the
    question), name the answer's name words when the claim states the answer (``names_all``: the claim's words
    restating the question do not back it), name every name of the claim the question does not name (a claim
    about Tom Reed is not backed by Tom Black's passage), and contain the short answer or share enough of the
    claim's characters (see ``about``). ``shown``
    is the text the model saw (instruction-like sentences replaced); a sentence containing ``exclude`` (that
    replacement marker) is never quoted."""
    shown = chunk_text if shown is None else shown
    if not states_numbers(chunk_text, claim, given):
        return None
    named = f"{title}\n{chunk_text}"
    if (bare(claim or short, short) or name_only(claim)) and not names_all(claim or short, named):
        return None  # a bare answer (or a claim that is only a name) is backed only by a passage that names it
    if any(not names_entity(given, n) and not names_entity(named, n) for n in _NAMES.findall(claim)):
        return None  # a name the claim states and the question does not ("Tom Reed") must be the passage's too
    if given.strip() and not _states_new_words(named, claim, f"{given}\n{short}"):
        return None  # what the claim adds to the question ("...secured the island's independence") must be the passage's
    s = _squash(short)
    if len(s) >= 2 and s in _squash(claim or short) and not _said(chunk_text, short) and not names_all(short, named):
        return None  # so is a sentence that states the answer: its words restating the question do not back it
    # the bare answer counts only for a claim that states it
    has_short = len(s) >= 2 and s not in _YES_NO and _said(chunk_text, short) and s in _squash(claim or short)
    best, best_score = None, -1.0
    for a, b in sentence_spans(shown):
        sent = shown[a:b]
        if sent not in chunk_text or (exclude and exclude in sent):
            continue
        score = overlap(claim, sent) + (1.0 if has_short and _said(sent, short) else 0.0)
        if score > best_score:
            best, best_score = sent, score
    if best is None:
        return None
    return best if has_short or about(claim, best, chunk_text) else None


def _said(text: str, short: str) -> bool:
    """Whether ``text`` has the short answer (spaces and case aside; a Chinese one with numerals read as digits)."""
    s = _squash(short)
    return s in _squash(text) or (bool(_CJK.search(text + short)) and _squash(arabic(short)) in _squash(arabic(text)))


_PLAIN = {"what", "which", "who", "whose", "when", "where", "that", "this", "with", "from", "were", "have", "been",
          "their", "there", "than", "then", "into", "over", "about", "also", "they", "them", "does", "said"}


def _states_new_words(text: str, claim: str, given: str) -> bool:
    """Whether ``text`` has most of the words a Latin-script claim adds to ``given`` (the question and the short
    answer): words of four or more letters, matched on their first five letters so that "initiated" is the question's
    "initiate". A claim that adds nothing passes."""
    def key(w: str) -> str:
        return w.lower().removesuffix("'s").removesuffix("’s")[:5]
    known = {key(w) for w in _LATIN.findall(given)}
    new = {key(w) for w in _LATIN.findall(claim) if len(w) >= 4 and w.lower() not in _PLAIN} - known
    if not new or _CJK.search(claim):
        return True
    have = text.lower()
    return sum(k not in have for k in new) * 2 <= len(new)


# words that start a question or a sentence, capitalised without being a name
_LEADING = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "in", "on", "at", "the", "a",
            "an", "this", "that", "these", "those", "is", "was", "are", "were", "did", "do", "does", "aside", "from",
            "of", "for", "by", "to", "and", "or", "as", "if", "it", "he", "she", "they", "i", "we", "you", "after",
            "before", "during", "since", "between", "besides", "apart", "other", "than", "with", "can", "could",
            "has", "have", "had", "name", "tell", "give", "list", "according"}
_CAPITALISED = re.compile(r"[A-Z][\w'’.&-]*(?:\s+(?:(?:of|the|and|de|to|in|on|for)\s+)*[A-Z][\w'’.&-]*)*")
# a name inside the phrase that says what is asked is the answer's kind, not what the question is about
# ("in what New York city", "under which United States Vice President")
_ASKED_KIND = re.compile(r"\b(?:what|which|whose|how\s+many|how\s+much)(?:\s+other)?\s+$", re.I)
_QUOTED = re.compile(r'"([^"\n]{2,80})"|“([^”\n]{2,80})”|《([^》\n]{1,40})》|「([^」\n]{1,40})」|『([^』\n]{1,40})』')


def capitalised(text: str) -> list[tuple[int, str]]:
    """The capitalised Latin-script names of a text with where each starts: runs of capitalised words, joined by
    "of", "the", "and", ... ("Committee on the Employment of Minority Groups"), without a leading question word
    or other word capitalised only for starting a sentence."""
    out = []
    for m in _CAPITALISED.finditer(text):
        start = m.start()
        for part in re.split(r"(?<=\w{3})\.\s+", m.group(0)):  # "Springfield City. It" is two (not "Anna M. Holt")
            words = part.split()
            while words and words[0].lower().strip("'’.") in _LEADING:
                words = words[1:]
            if words:
                out.append((start, " ".join(words).rstrip(".")))
            start += len(part) + 1
    return out


def anchors(question: str) -> list[str]:
    """What a question is about, as names: its quoted titles ("Big Stone Gap", 《三体》) and its capitalised
    Latin-script names ("Ada Lovelace", "Silver Remote"), leaving out question words and a name in the phrase that
    says what kind of answer is asked ("what New York city"). Empty for a question that names nothing this way
    (most Chinese questions): then nothing is required of a passage."""
    out = [name for start, name in capitalised(question) if not _ASKED_KIND.search(question[:start])]
    out += [next(g for g in m.groups() if g) for m in _QUOTED.finditer(question)]
    return list(dict.fromkeys(a.strip() for a in out if len(a.strip()) >= 2))


def anchored(text: str, names: list[str]) -> bool:
    """Whether ``text`` (a passage with its title) names one of ``names``; true when there are none."""
    return not names or any(names_entity(text, n) for n in names)
