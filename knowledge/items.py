"""What the index keeps of each catalog item, and the spelling tests that ranking and the abstain rule share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from knowledge import Match
from knowledge.text import Period

__all__ = ["IndexedItem", "GUIDE_TITLE_WORDS", "ENDED", "is_guide", "retired", "routed", "is_date_token", "spelled",
           "abbreviated", "abbreviation"]

GUIDE_TITLE_WORDS = ("指南", "须知", "程序", "办理", "流程")  # titles that read as instructions
# 有效性 values of an item no longer in force, whole values only: 未废止 and 部分失效 are still in force.
ENDED = frozenset({"废止", "已废止", "失效", "已失效", "全文失效", "全部失效"})


def retired(item: Mapping[str, Any], today: date) -> bool:
    """No longer in force: its 有效性 says so, or its 废止日期 has come."""
    repealed = str(item.get("repealed") or "")
    return str(item.get("validity") or "").strip() in ENDED or bool(repealed) and repealed <= today.isoformat()


@dataclass(frozen=True, slots=True)
class IndexedItem:
    """What the abstain rule needs to know about one indexed item."""

    match: Match
    weights: dict[str, float]  # term -> its BM25 weight in this item: the forward index (coverage, rescoring)
    topic: frozenset[str]
    head: str  # title and keywords, normalised
    text: str
    years: frozenset[int]
    dated: bool
    title_periods: tuple[Period, ...]
    retired: bool


def is_guide(match: Match) -> bool:
    """A 办事指南 item, or one whose title says it explains how (指南, 须知, 程序 ...)."""
    return match.category == "办事指南" or any(w in match.title for w in GUIDE_TITLE_WORDS)


def routed(routes: list[str], item: IndexedItem) -> bool:
    """Is the item the guide a routed question (投诉) goes to?"""
    return bool(routes) and is_guide(item.match) and any(t in item.topic for t in routes)


def is_date_token(tok: str) -> bool:
    """Tokens made by the date parser (2014年, 9月, 四季度, 上半年) are checked by period, not coverage."""
    return tok.endswith(("年", "月")) and tok[:-1].isdigit() or tok.endswith("季度") or tok in ("上半年", "下半年")


def spelled(tok: str, text: str) -> bool:
    """A word of two or more characters written out in the text though the splitter cut it otherwise, or
    abbreviated: its characters in order inside one word of the text (乡厨 in 乡村厨师, 电动车 in 电动自行车)."""
    if len(tok) < 2:
        return False
    if tok in text:
        return True
    return len(tok) <= 4 and "\u4e00" <= tok[0] <= "\u9fff" and abbreviated(tok, text)


_HAN_ONLY = re.compile("[\u4e00-\u9fff]+")
_NOT_HAN = re.compile("[^\u4e00-\u9fff]")


def abbreviated(tok: str, text: str, full: bool = False) -> bool:
    """Does the text hold (or, full, is it) the word abbreviated: its characters in order, up to two Chinese
    characters between each (see abbreviation)? A word of Chinese characters only is matched, with the cheap
    pattern of han_abbreviation, against the text with every other character masked as a line break."""
    if _HAN_ONLY.fullmatch(tok):
        pattern, text = han_abbreviation(tok), han_masked(text)
    else:
        pattern = abbreviation(tok)
    return (pattern.fullmatch(text) if full else pattern.search(text)) is not None


@lru_cache(maxsize=4096)
def abbreviation(tok: str) -> re.Pattern[str]:
    """乡厨 -> 乡[一-鿿]{0,2}厨: the characters of a word with up to two others between each, within one word."""
    return re.compile(tok[0] + "".join(f"[\u4e00-\u9fff]{{0,2}}{re.escape(ch)}" for ch in tok[1:]))


@lru_cache(maxsize=4096)
def han_abbreviation(tok: str) -> re.Pattern[str]:
    """abbreviation for a word of Chinese characters over a masked text (han_masked): the same matches, but
    compiled in microseconds (the character range of abbreviation takes ~1.5 ms to compile, once per word)."""
    return re.compile(tok[0] + "".join(f"[^\n]{{0,2}}{re.escape(ch)}" for ch in tok[1:]))


@lru_cache(maxsize=16384)
def han_masked(text: str) -> str:
    """The text with every character but Chinese ones replaced by a line break (same length, same positions)."""
    return _NOT_HAN.sub("\n", text)
