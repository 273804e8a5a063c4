"""Questions that ask the same thing of two items, split into one question per item.

A small planner model often returns "2021年香港和澳门的GDP增长率" as a single sub-question; searched as one,
the best passages tend to cover one item and the answer drops the other. When the planner does not split such a
question, the agent asks one question per item: "2021年香港的GDP增长率" and "2021年澳门的GDP增长率".
"""

from __future__ import annotations

import re
from typing import Any

from lingxi.agent.grounding import anchors
from lingxi.index.tokenize import jieba_module

_CONJ = {"和", "与", "及", "以及", "跟"}
_PRONOUNS = {"我", "你", "您", "他", "她", "它", "我们", "你们", "他们", "她们", "它们", "咱们", "大家", "自己"}
# A comparison needs both items in one reading ("熊猫和小熊猫有什么区别"), not one answer per item.
_COMPARE = ("区别", "不同", "差别", "差异", "比较", "对比", "相比", "哪个", "哪一个", "哪种", "哪家", "谁更", "还是", "一样",
            "关系", "之间")
_UNIT = {"年", "月", "日", "号", "季度", "世纪"}
_NUM = re.compile(r"^[0-9０-９一二三四五六七八九十百千万零两]+$")
_WORD = re.compile(r"^\w+$", re.U)


def _is_num(tok: str) -> bool:
    return bool(_NUM.match(tok))


def split_parallel(question: str) -> list[str]:
    """The question once per coordinated item (``A和B`` → A, then B; ``分别`` dropped), or [] when it is not a
    Chinese question of that shape: the items are one word each, or a number with its unit ("2022年"), of the
    same kind on both sides, at least two characters each; never pronouns ("我和朋友…"); never a comparison ("…有什么区别")."""
    if not re.search(r"[\u4e00-\u9fff]", question) or any(w in question for w in _COMPARE):
        return []
    toks = jieba_module().lcut(question)
    starts = [0]
    for t in toks:
        starts.append(starts[-1] + len(t))
    for i, t in enumerate(toks):
        if t not in _CONJ or i == 0 or i + 1 >= len(toks):
            continue
        # left item: the word before; a unit with its number ("2022" "年")
        lo = i - 1
        if toks[lo] in _UNIT and lo > 0 and _is_num(toks[lo - 1]):
            lo -= 1
        # right item: the word after; a number with its unit
        hi = i + 1
        if _is_num(toks[hi]) and hi + 1 < len(toks) and toks[hi + 1] in _UNIT:
            hi += 1
        left, right = "".join(toks[lo:i]), "".join(toks[i + 1 : hi + 1])
        # one-character items are mostly pieces of a word jieba did not know ("英特尔和英伟达" → "英" "伟达")
        if (len(left) < 2 or len(right) < 2 or not _WORD.match(left) or not _WORD.match(right)
                or left in _PRONOUNS or right in _PRONOUNS
                or _is_num(toks[lo]) != _is_num(toks[i + 1]) or left == right):
            continue
        a, b = starts[lo], starts[hi + 1]
        return [re.sub(r"分别", "", question[:a] + item + question[b:]).strip() for item in (left, right)]
    return []


# A question written as several questions ("…来自哪位嘉宾？她是做什么的？", "Who wrote Dune? Where was he born?"):
# each is asked, and a later one's personal pronoun is the answer to an earlier one asking for a person.
_ASK_END = re.compile(r"[？?]")
_OPEN, _CLOSE = "“‘《「『(（\"", "”’》」』)）\""
_ZH_PERSON_ASK = re.compile(r"谁|哪一?位|哪个人|哪些人|什么人|哪名")
_EN_PERSON_ASK = re.compile(
    r"^\s*whom?\b|\bwhom?\s*$|\b(?:which|what)\s+(?:\w+\s+)?(?:person|people|man|woman|guest|author|writer|actor|actress"
    r"|director|singer|player|founder|artist|composer|host|presenter|scientist|politician|poet|novelist|musician"
    r"|athlete|coach|chef)\b", re.I)
_ZH_HE = re.compile(r"他们|她们|他|她")
_EN_HE = re.compile(r"\b(?:he|she|they|him|her|them|his|their)\b", re.I)
_ZH_IT = re.compile(r"它们|它")
_EN_IT = re.compile(r"\bits?\b", re.I)
_ZH_TITLE = re.compile(r"《[^》]{1,40}》|“[^”]{1,40}”")


def _possessive(pronoun: str, rest: str) -> str:
    """"'s" where an English pronoun is possessive ("his best known film" → "#1's best known film")."""
    p = pronoun.lower()
    nxt = re.match(r"\s*(\w+)", rest)
    return "'s" if p in ("his", "their") or (p == "her" and nxt is not None and nxt.group(1).lower() not in _NOT_OWNED) \
        else ""


_NOT_OWNED = {"about", "to", "for", "with", "in", "on", "at", "from", "by", "and", "or", "as", "when", "after", "before"}


def _sentences(question: str) -> list[str]:
    """The question cut after each question mark that is not inside quotes or a title (《Old and in the Way?》)."""
    out, start, depth = [], 0, 0
    for i, ch in enumerate(question):
        if ch in _OPEN and not (ch == '"' and depth):
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        elif depth == 0 and _ASK_END.match(ch):
            out.append(question[start : i + 1].strip())
            start = i + 1
    tail = question[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if len(re.sub(r"\W", "", s)) >= 2]


def split_asks(question: str, limit: int = 3) -> list[dict[str, Any]]:
    """Sub-questions for a question written as several ("成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？"): one per
    question, each ``asked`` (its answer belongs in the answer); a later question whose personal pronoun follows
    an earlier one asking for a person rests on it, the pronoun becoming "#k" ("#1是做什么的"); an "它" ("it")
    stands for what the earlier question names, its title (《李茂扮太子》) or name ("Jaws"). [] for a question of
    one sentence, or of more than ``limit``."""
    parts = _sentences(question)
    if not 2 <= len(parts) <= limit:
        return []
    out: list[dict[str, Any]] = []
    for i, text in enumerate(parts, 1):
        deps: list[int] = []
        zh = bool(re.search(r"[\u4e00-\u9fff]", text))
        he = (_ZH_HE if zh else _EN_HE).search(text)
        if i > 1 and he:
            asker = next((j for j in range(i - 1, 0, -1)
                          if (_ZH_PERSON_ASK if zh else _EN_PERSON_ASK).search(parts[j - 1].rstrip("？? "))), 0)
            if asker:
                text = f"{text[: he.start()]}#{asker}{'' if zh else _possessive(he.group(0), text[he.end():])}{text[he.end():]}"
                deps = [asker]
        if zh and not deps and _ZH_IT.search(text):
            title = next((m.group(0) for p in parts[: i - 1][::-1] for m in [_ZH_TITLE.search(p)] if m), "")
            if title:
                text = _ZH_IT.sub(title, text, count=1)
        elif not zh and not deps and _EN_IT.search(text) and not anchors(text):
            # "What genre is Jaws? Who directed it?": "it" is what the earlier question names
            name = next((a[0] for p in parts[: i - 1][::-1] for a in [anchors(p)] if a), "")
            if name:
                text = _EN_IT.sub(lambda m: f"{name}'s" if m.group(0).lower() == "its" else name, text, count=1)
        out.append({"id": i, "question": text.rstrip("？? ").strip(), "depends_on": deps, "asked": True})
    return out
