"""What a question asks for, where the wording says so: a number (a year, a date, a count, an amount).

A small model answering a chain ("the manga's author was born in what year?") often names the bridge entity
("Masakazu Katsura") instead of the hop it was asked for. A question that asks for a number is not answered by
an answer that holds none."""

from __future__ import annotations

import re

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
