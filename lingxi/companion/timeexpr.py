"""Relative time expressions resolved against the session date ("last Tuesday" → 2 May 2023).

Memories are written with absolute dates so that a question asked months later ("when did …?")
can be answered; the resolver covers the common English and Chinese forms and leaves anything
else untouched (the LLM extractor is also told the session date)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WEEKDAYS_EN = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS_ZH = "一二三四五六日"
ZH_NUM = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
UNITS = {"day": 1, "week": 7, "天": 1, "日": 1, "周": 7, "星期": 7, "个星期": 7}


@dataclass(frozen=True)
class Resolved:
    start: int
    end: int
    phrase: str
    value: str  # what to write: "7 May 2023", "the week of 1 May 2023", "May 2023", "2022"
    day: date | None
    span: str = "day"  # "day" | "weekend" | "week" | "month" | "year": what ``value`` names
    month: tuple[int, int] | None = None  # (year, month) for a month or a year ((year, 0))

    @property
    def iso(self) -> str:
        """A sortable date for the time it refers to: 2023-05-07, 2023-05 (a month) or 2023 (a year)."""
        if self.day is not None:
            return self.day.isoformat()
        if self.month is not None:
            y, m = self.month
            return f"{y:04d}-{m:02d}" if m else f"{y:04d}"
        return ""

    def render(self, lang: str = "en") -> str:
        """``value`` in the memory's language: "7 May 2023" or "2023年5月7日"."""
        if lang != "zh":
            return self.value
        if self.span == "day" and self.day:
            return fmt_day_zh(self.day)
        if self.span == "weekend" and self.day:
            return f"{fmt_day_zh(self.day)}那个周末"
        if self.span == "week" and self.day:
            return f"{fmt_day_zh(self.day)}那一周"
        if self.month is not None:
            y, m = self.month
            return f"{y}年{m}月" if m else f"{y}年"
        return self.value


def fmt_day(d: date) -> str:
    return f"{d.day} {d.strftime('%B')} {d.year}"


def fmt_day_zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _month_shift(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def _num(s: str) -> int:
    if s.isdigit():
        return int(s)
    if len(s) == 2 and s[0] == "十":
        return 10 + ZH_NUM.get(s[1], 0)
    if len(s) == 2 and s[1] == "十":
        return ZH_NUM.get(s[0], 1) * 10
    return ZH_NUM.get(s, 0) or {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                                "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a few": 3, "few": 3}.get(s.lower(), 0)


def _weekday(ref: date, target: int, which: str) -> date:
    """which: 'last' (previous week's), 'this' (this week's), 'next' (next week's)."""
    monday = ref - timedelta(days=ref.weekday())
    d = monday + timedelta(days=target)
    if which == "last":
        d -= timedelta(days=7)
    elif which == "next":
        d += timedelta(days=7)
    return d


_NUM_EN = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a few|few)"
_NUM_ZH = r"(\d+|[一两二三四五六七八九十]{1,2})"

PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(the day before yesterday)\b", re.I), "d-2"),
    (re.compile(r"\b(the day after tomorrow)\b", re.I), "d+2"),
    (re.compile(r"\b(yesterday|last night)\b", re.I), "d-1"),
    (re.compile(r"\b(today|tonight|this morning|this afternoon|this evening)\b", re.I), "d0"),
    (re.compile(r"\b(tomorrow)\b", re.I), "d+1"),
    (re.compile(r"\b(last|this|next) (" + "|".join(WEEKDAYS_EN) + r")\b", re.I), "wd"),
    (re.compile(r"\b(last|this|next|past) (weekend)\b", re.I), "weekend"),
    (re.compile(r"\b(last|this|next|past) (week)\b", re.I), "week"),
    (re.compile(r"\b(last|this|next|past) (month)\b", re.I), "month"),
    (re.compile(r"\b(last|this|next|past) (year)\b", re.I), "year"),
    (re.compile(r"\b" + _NUM_EN + r" (day|week|month|year)s? ago\b", re.I), "ago"),
    (re.compile(r"\bin " + _NUM_EN + r" (day|week|month|year)s?\b", re.I), "in"),
    (re.compile(r"(大前天)"), "d-3"),
    (re.compile(r"(前天)"), "d-2"),
    (re.compile(r"(昨天|昨晚|昨日)"), "d-1"),
    (re.compile(r"(今天|今晚|今早|今日)"), "d0"),
    (re.compile(r"(后天)"), "d+2"),
    (re.compile(r"(明天|明晚|明早)"), "d+1"),
    (re.compile(r"(上|这|本|下)(?:个)?(?:周|星期|礼拜)([一二三四五六日天])"), "zwd"),
    (re.compile(r"(上|这|本|下)(?:个)?(周末)"), "zweekend"),
    (re.compile(r"(上|这|本|下)(?:个)?(周|星期|礼拜)(?![一二三四五六日天末])"), "zweek"),
    (re.compile(r"(上|这|本|下)(?:个)?(月)"), "zmonth"),
    (re.compile(r"(去年|今年|明年|前年)"), "zyear"),
    (re.compile(_NUM_ZH + r"(天|个星期|星期|周|个月|年)(?:以)?前"), "zago"),
    (re.compile(_NUM_ZH + r"(天|个星期|星期|周|个月|年)(?:以)?后"), "zin"),
]


Out = tuple[str, date | None, str, tuple[int, int] | None]  # value, day, span, (year, month)


def _shift(ref: date, n: int, unit: str) -> Out:
    if unit in ("month", "个月"):
        d = _month_shift(ref, n)
        return d.strftime("%B %Y"), None, "month", (d.year, d.month)
    if unit in ("year", "年"):
        return str(ref.year + n), None, "year", (ref.year + n, 0)
    days = n * UNITS.get(unit, 1)
    d = ref + timedelta(days=days)
    return fmt_day(d), d, "day", None


def resolve(text: str, ref: date | datetime) -> list[Resolved]:
    """Every relative time expression in ``text`` with its absolute value, left to right, non-overlapping."""
    r = ref.date() if isinstance(ref, datetime) else ref
    found: list[Resolved] = []
    taken: list[tuple[int, int]] = []
    for pat, kind in PATTERNS:
        for m in pat.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            out = _one(m, kind, r)
            if out is None:
                continue
            value, day, span, month = out
            found.append(Resolved(m.start(), m.end(), m.group(0), value, day, span, month))
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda x: x.start)


def _one(m: re.Match[str], kind: str, r: date) -> Out | None:
    g = m.groups()
    if kind.startswith("d") and kind[1:].lstrip("+-").isdigit():
        d = r + timedelta(days=int(kind[1:]))
        return fmt_day(d), d, "day", None
    which = {"last": "last", "past": "last", "this": "this", "next": "next", "上": "last", "这": "this", "本": "this",
             "下": "next"}.get(g[0].lower() if g else "", "this")
    step = {"last": -1, "this": 0, "next": 1}[which]
    if kind == "wd":
        d = _weekday(r, WEEKDAYS_EN.index(g[1].lower()), which)
        return fmt_day(d), d, "day", None
    if kind == "zwd":
        idx = 6 if g[1] in "日天" else WEEKDAYS_ZH.index(g[1])
        d = _weekday(r, idx, which)
        return fmt_day(d), d, "day", None
    if kind in ("weekend", "zweekend"):
        d = _weekday(r, 5, which)
        return f"the weekend of {fmt_day(d)}", d, "weekend", None
    if kind in ("week", "zweek"):
        monday = r - timedelta(days=r.weekday()) + timedelta(days=7 * step)
        return f"the week of {fmt_day(monday)}", monday, "week", None
    if kind in ("month", "zmonth"):
        d = _month_shift(r, step)
        return d.strftime("%B %Y"), None, "month", (d.year, d.month)
    if kind in ("year", "zyear"):
        y = r.year + (step if kind == "year" else {"去年": -1, "今年": 0, "明年": 1, "前年": -2}[g[0]])
        return str(y), None, "year", (y, 0)
    if kind in ("ago", "in", "zago", "zin"):
        n = _num(g[0])
        if n <= 0:
            return None
        sign = -1 if kind in ("ago", "zago") else 1
        return _shift(r, sign * n, g[1].lower())
    return None


def annotate(text: str, ref: date | datetime, lang: str = "en") -> str:
    """``text`` with each relative expression followed by its absolute value: "yesterday (7 May 2023)",
    or with ``lang="zh"`` "下周（2026年11月23日那一周）"."""
    out, last = [], 0
    for x in resolve(text, ref):
        out.append(text[last:x.end])
        out.append(f"（{x.render('zh')}）" if lang == "zh" else f" ({x.value})")
        last = x.end
    out.append(text[last:])
    return "".join(out)


def parse_session_date(raw: str) -> datetime:
    """LoCoMo-style '1:56 pm on 8 May, 2023', ISO dates, or '2023-05-08 13:56'."""
    s = raw.strip()
    for f in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(s, f)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(s)
    except ValueError as e:
        from lingxi.errors import BadInput

        raise BadInput(f"session date {raw!r} is not a date lingxi understands") from e
