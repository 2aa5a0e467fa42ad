"""Deadline phrases to dates: the last day the text implies, the year taken from the plan
when the phrase has none."""

from __future__ import annotations

import calendar
import re
from datetime import date
from functools import lru_cache

from app.extraction.models import Period
from app.extraction.text import fold

_CN_MONTH = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
             "十": 10, "十一": 11, "十二": 12}
_QUARTER = {"一": 3, "1": 3, "二": 6, "2": 6, "三": 9, "3": 9, "四": 12, "4": 12}
_ONGOING = re.compile(r"长期|持续|常态")
# A recurring duty (每年12月底前) is due for the last time in the plan's final year.
_RECURRING = re.compile(r"每年|逐年|每月|每季|每半年|定期|动态|滚动|年度")
_YEAR = r"(?<!\d)((?:19|20)\d{2})"
_RANGE = re.compile(_YEAR + r"\s*年?\s*[-~至到]?\s*((?:19|20)\d{2})(?!\d)\s*年?")
_FULL = re.compile(_YEAR + r"\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
# Spreadsheets and integrators write 2025-06-30, 2025/6/30 or 2025.6.30.
_NUMERIC = re.compile(_YEAR + r"([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")
_NUMERIC_MONTH = re.compile(_YEAR + r"[-/.](\d{1,2})(?![\d/.-])")
_YEAR_MONTH = re.compile(_YEAR + r"\s*年\s*(\d{1,2}|十[一二]?|[一二三四五六七八九])\s*月")
_YEAR_PART = re.compile(_YEAR + r"\s*年?\s*(?:第?([一二三四1234])季度|(上半年|年中)|(下半年))")
_YEAR_ONLY = re.compile(_YEAR + r"(?!\d)")
_MONTH_ONLY = re.compile(r"(?<![\d年])(\d{1,2}|十[一二]?|[一二三四五六七八九])\s*月(?:份)?(?:底|末|中旬|下旬|上旬)?")
_YEAR_END = re.compile(r"年底|年末|年内|今年|全年")


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _month(token: str) -> int:
    return int(token) if token.isdigit() else _CN_MONTH[token]


def parse_deadline(text: str, period: Period | None = None) -> tuple[date | None, bool]:
    """(the last day the text implies, whether it is an ongoing duty with no date)."""
    start, end = (None, None) if period is None else (period.start, period.end)
    # Short phrases (2025年, 6月底前) recur in every task and only the period's years matter;
    # long table cells are tried once each and would only crowd them out of the cache.
    parse = _parse_phrase if len(text) <= 40 else _parse_deadline
    return parse(text, start, end)


def _parse_deadline(text: str, start: int | None, end: int | None) -> tuple[date | None, bool]:
    t = fold(text).strip()
    if not t:
        return None, False
    candidates: list[date] = []
    for m in _FULL.finditer(t):
        try:
            candidates.append(date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError:
            pass
    for m in _NUMERIC.finditer(t):
        try:
            candidates.append(date(int(m[1]), int(m[3]), int(m[4])))
        except ValueError:
            pass
    for m in _NUMERIC_MONTH.finditer(t):
        if 1 <= int(m[2]) <= 12:
            candidates.append(month_end(int(m[1]), int(m[2])))
    for m in _YEAR_MONTH.finditer(t):
        month = _month(m[2])
        if 1 <= month <= 12:
            candidates.append(month_end(int(m[1]), month))
    for m in _YEAR_PART.finditer(t):
        month = _QUARTER[m[2]] if m[2] else 6 if m[3] else 12
        candidates.append(month_end(int(m[1]), month))
    if not candidates:
        for m in _RANGE.finditer(t):
            if int(m[1]) < int(m[2]):
                candidates.append(date(int(m[2]), 12, 31))
    if not candidates:
        candidates += [date(int(m[1]), 12, 31) for m in _YEAR_ONLY.finditer(t)]
    recurring = bool(_RECURRING.search(t))
    if not candidates and start is not None and end is not None:
        year = end if recurring else start
        for m in _MONTH_ONLY.finditer(t):
            month = _month(m[1])
            if 1 <= month <= 12:
                candidates.append(month_end(year, month))
        if not candidates and recurring:
            candidates.append(date(end, 12, 31))
        if not candidates and _YEAR_END.search(t):
            candidates.append(date(start, 12, 31))
    if candidates:
        return max(candidates), False
    return None, bool(_ONGOING.search(t) or recurring)


_parse_phrase = lru_cache(maxsize=4096)(_parse_deadline)


_DATE_RESIDUE = re.compile(r"[\d\s年月日底前末内中上下半季度第一二三四五六七八九十至到~\-、,./()完成以]")
_ANY_YEAR = Period(start=2000, end=2000)


def is_deadline_text(text: str) -> bool:
    """A cell that says only when: 2035年底前, 2022-2030年, 2024年6月, 长期坚持."""
    # Any year stands in for the plan's, so that 全年 or 6月底前 count as dates here.
    due, ongoing = parse_deadline(text, _ANY_YEAR)
    if ongoing:
        return len(text.strip()) <= 12
    return due is not None and len(_DATE_RESIDUE.sub("", fold(text))) <= 1


def parse_period(text: str) -> tuple[int, int] | None:
    """A plan period printed as 2022-2025年, 2024—2026年 or, with the dash lost, 20242026年."""
    m = _RANGE.search(fold(text))
    if m and int(m[1]) < int(m[2]) <= int(m[1]) + 30:
        return int(m[1]), int(m[2])
    return None


# Phrases that set a deadline inside running text: 6月底前, 2025年底前, 2026年6月30日前,
# 2025年底完成. A bare 2025年底 opens a target sentence instead (a milestone, not a deadline).
# The lookahead names every character a match can start with: without it the engine walks
# the optional groups at every character of the text.
_TEXT_DEADLINE = re.compile(
    r"(?=[\d十一二三四五六七八九底末前])"
    r"(?:(?:(?:19|20)\d{2}\s*年\s*)?(?:(?:\d{1,2}|十[一二]?|[一二三四五六七八九])\s*月\s*)?(?:\d{1,2}\s*日\s*)?"
    r"(?:底|末)?前|(?:19|20)\d{2}\s*年\s*(?:底|末)(?=完成|建成|实现))"
)
_DATED = re.compile(r"\d|月|年")


def text_deadlines(norm: str) -> list[re.Match[str]]:
    return [m for m in _TEXT_DEADLINE.finditer(norm) if _DATED.search(m[0])
            and not m[0].startswith("前")]
