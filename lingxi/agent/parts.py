"""Questions that ask the same thing of two items, split into one question per item.

A small planner model often returns "2021年香港和澳门的GDP增长率" as a single sub-question; searched as one,
the best passages tend to cover one item and the answer drops the other. When the planner does not split such a
question, the agent asks one question per item: "2021年香港的GDP增长率" and "2021年澳门的GDP增长率".
"""

from __future__ import annotations

import re

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
