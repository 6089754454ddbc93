"""Dates and periods in Chinese questions and catalog items: 九月份, 前年, 四季度, H1, 15年底, 2014年, 14年.

`split_dates` cuts the date expressions out of normalised text and returns them both as canonical tokens
(2014年, 三季度, 9月) for the index and as `Period`s for the abstain rule's "is this the year asked for".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = ["Period", "split_dates"]

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_QUARTER_NAMES = ("一季度", "二季度", "三季度", "四季度")


@dataclass(frozen=True, slots=True)
class Period:
    """A span of months a question or an item is about; `year` None when the text does not say."""

    year: int | None
    first_month: int = 1
    last_month: int = 12

    @property
    def whole_year(self) -> bool:
        return self.first_month == 1 and self.last_month == 12


_DATE = re.compile(
    r"(?P<y4>(?:19|20)\d{2})\s*年度?(?P<e4>底|末|初)?"
    r"|(?<!\d)(?P<y2>\d{2})\s*年度?(?P<e2>底|末|初)?(?!代|级|内|以|期|龄)"
    r"|(?P<ycn>[〇零一二三四五六七八九]{4})年(?P<ec>底|末|初)?"
    r"|(?P<yrel>大前年|前年|去年|上一年|上年|今年|本年|明年)度?(?P<er>底|末|初)?"
    r"|(?P<edge>年底|年末|年初)"
    r"|(?P<half>上半年|下半年|(?<![a-z0-9])h(?P<hn>[12])(?![0-9a-z]))"
    r"|第?(?P<qn>[一二三四1-4])季度|(?<![a-z0-9])q(?P<qd>[1-4])(?![0-9])"
    r"|(?P<mrel>上个月|上月|本月|这个月)"
    r"|(?P<ma>1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])\s*(?:月份?)?\s*(?:到|至|-|~|—|－)\s*"
    r"(?P<mb>1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])\s*月份?"
    r"|(?P<lead>头|(?:(?<=年)|(?<![\u4e00-\u9fff0-9]))(?:前|后|最后))(?P<ln>三|3|六|6|半)个?月"
    r"|(?P<m>1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])\s*月份?"
    r"|(?<!\d)\d{1,2}\s*[日号]"
)
_REL_YEAR = {"大前年": -3, "前年": -2, "去年": -1, "上一年": -1, "上年": -1, "今年": 0, "本年": 0, "明年": 1}
_EDGE = {"底": (10, 12), "末": (10, 12), "初": (1, 3), "年底": (10, 12), "年末": (10, 12), "年初": (1, 3)}


def _cn_number(text: str) -> int:
    """一 -> 1, 十二 -> 12, 二〇一四 -> 2014, 9 -> 9."""
    if text.isdigit():
        return int(text)
    if text.startswith("十"):
        return 10 + (_CN_DIGITS[text[1]] if len(text) > 1 else 0)
    return int("".join(str(_CN_DIGITS[ch]) for ch in text))


def _year_of(m: re.Match[str], today: date | None) -> tuple[int | None, str | None]:
    """The year a match names (None if it names none) and its edge word (底/初)."""
    if m["y4"]:
        return int(m["y4"]), m["e4"]
    if m["y2"]:
        return 2000 + int(m["y2"]), m["e2"]
    if m["ycn"]:
        return _cn_number(m["ycn"]), m["ec"]
    if m["yrel"]:
        return (today.year + _REL_YEAR[m["yrel"]] if today else None), m["er"] or ""
    return None, None


def _months_of(m: re.Match[str], today: date | None) -> tuple[int, int] | None:
    """The month span a match names below the year level, if any."""
    if m["edge"]:
        return _EDGE[m["edge"]]
    if m["half"]:
        first = m["half"] == "上半年" or m["hn"] == "1"
        return (1, 6) if first else (7, 12)
    if m["qn"] or m["qd"]:
        q = _cn_number(m["qn"] or m["qd"])
        return (3 * q - 2, 3 * q)
    if m["ma"]:  # a month range: 4月到6月, 1-3月
        first, last = _cn_number(m["ma"]), _cn_number(m["mb"])
        return (first, last) if 1 <= first <= last <= 12 else None
    if m["lead"]:  # 头三个月, 后六个月: the first or last quarter or half of the year
        n = 6 if m["ln"] in ("六", "6", "半") else 3
        return (1, n) if m["lead"][-1] in ("头", "前") else (13 - n, 12)
    if m["m"]:
        month = _cn_number(m["m"])
        return (month, month) if 1 <= month <= 12 else None
    if m["mrel"] and today:
        month = today.month if m["mrel"] in ("本月", "这个月") else (today.month - 2) % 12 + 1
        return (month, month)
    return None


def _span_tokens(first: int, last: int, expand: bool) -> list[str]:
    """Canonical tokens for a month span; an index also files a month under its quarter and half."""
    if first == last:
        quarter = _QUARTER_NAMES[(first - 1) // 3]
        return [f"{first}月"] + ([quarter, "上半年" if first <= 6 else "下半年"] if expand else [])
    if last - first == 2:
        return [_QUARTER_NAMES[first // 3]] + (["上半年" if first <= 6 else "下半年"] if expand else [])
    if last - first == 5:
        return ["上半年" if first == 1 else "下半年"]
    return []


def _add_span(periods: list[Period], year: int | None, span: tuple[int, int]) -> None:
    """A span refines the bare year just before it (2014年 + 3月 -> 2014-03) instead of adding to it."""
    if periods and periods[-1].year == year and periods[-1].whole_year:
        periods.pop()
    periods.append(Period(year, span[0], span[1]))


def split_dates(text: str, today: date | None = None, expand: bool = False
                ) -> tuple[list[str], list[str], list[Period]]:
    """Cut date expressions out of a normalised text: (the pieces left, date tokens, periods)."""
    pieces, tokens, periods = [], [], []
    pos, year = 0, None
    for m in _DATE.finditer(text):
        pieces.append(text[pos:m.start()])
        pos = m.end()
        found, edge = _year_of(m, today)
        if found is not None or edge is not None:
            year = found
            if found is not None:
                tokens.append(f"{found}年")
                periods.append(Period(found))
            span = _EDGE.get(edge or "")
        else:
            span = _months_of(m, today)
            if span and (m["m"] or m["ma"]) and year is None and today:
                year = today.year if span[0] <= today.month else today.year - 1
        if span:
            _add_span(periods, year, span)
            tokens.extend(_span_tokens(span[0], span[1], expand))
            if expand and m["ma"]:  # an item's 7至12月 is also filed under its end months, as before ranges
                for month in dict.fromkeys(span):
                    tokens.extend(_span_tokens(month, month, expand))
    pieces.append(text[pos:])
    return [p for p in pieces if p.strip()], tokens, periods
