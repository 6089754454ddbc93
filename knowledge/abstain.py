"""When not to answer: the best-ranked item answers only if it really covers what the question asks.

The rule does not trust the score. An item answers only if it covers most of what the question asks (content
terms weighted by idf, unknown terms heavily), shares a topic word with it, holds the year or period asked for,
names any business named, and the question is not about one particular case. Each refusal has a reason, logged
with the enquiry, for tuning.
"""

from __future__ import annotations

import re

from knowledge.items import IndexedItem, is_date_token, routed, spelled
from knowledge.lexicon import lexicon
from knowledge.text import (
    Analysis,
    Period,
    is_dictionary_word,
    is_light,
    rarity,
    subterms,
)

__all__ = ["AbstainRule", "MIN_COVERAGE"]

MIN_COVERAGE = 0.3  # share of the question's content weight the best item must hold
UNKNOWN_SOFT = 0.3  # weight factor of unknown single characters and describing words (路边, 附近)
RARE_DF = 2  # a body word in at most this many items is specific enough to show the question is on topic
LIGHT_FACTOR = 0.3  # weight factor of an unknown verb, adverb, number, time or place-relation word (see is_light)
HEAD_SPELLED = 1.0  # share of a question word's weight held when the title or keywords spell it out (分词 differs)
BODY_SPELLED = 0.7  # ... when only the body spells it out
SPECIFIC_RARITY = 0.6  # a foreign noun at least this rare (jieba frequency < ~1500) names a specific thing
CHAR_HELD = 0.5  # share of an unknown word's weight held by an item whose title or keywords hold that character
ABSENT_SHARE = 0.3  # a domain word the item lacks entirely and that weighs this share of the question: not answered
ABSENT_SHARE_UNKNOWN = 0.45  # ... when the catalog lacks it too (月饼抽检结果; but 网上卖血压计 is a 医疗器械 item's)

# A question about one particular case (whose, which one) asking for its status, number or record: the catalog holds
# published documents, not case files, so the nearest guide is not an answer (DOMAIN.md §4; 条例 art.16, 36).
_PARTICULAR = re.compile("我的|我家|俺家|我们家|我们店|那家|这家|某某|楼下|隔壁|对面|昨天|前天|上个月|上周|刚才")
_CASE_ASK = re.compile("进度|到哪一步|到哪了|批了没|批下来没|办下来没|下来没|号是多少|证号|申请号|老板叫|叫什么"
                       "|是不是假|是真的吗|处理结果|结果出来没|报告在哪看|发一下|查出.{0,4}没|被查了?没|罚了没|叫啥")


class AbstainRule:
    """The abstain rule over an index's tables; Knowledge (knowledge/index.py) supplies them."""

    _items: list[IndexedItem]
    _postings: dict[str, list[tuple[int, float]]]
    _idf: dict[str, float]
    _idf_unknown: float

    def _char_in(self, tok: str, text: str) -> bool:  # the index's character table (Knowledge._char_in)
        raise NotImplementedError

    def _abstain_reason(self, query: Analysis, content: list[str], item: IndexedItem, routes: list[str]) -> str:
        """Empty when the item answers the question, else why not (for the log and for tuning)."""
        if _PARTICULAR.search(query.text) and _CASE_ASK.search(query.text):
            # 我的申请批了没, 那家店老板叫什么, 我上周的投诉到哪了: a case record, not a published document
            return "particular_case"
        if routed(routes, item):
            return ""  # a complaint about anything goes to the complaint guide
        if content:
            coverage = self._coverage(content, item)
            if coverage < MIN_COVERAGE:
                missing = [t for t in dict.fromkeys(content) if t not in item.weights]
                return "low_coverage:" + ",".join(missing[:3])
            foreign = any(self._foreign(t, item) for t in content)
            if not any(self._topical(t, item, foreign) for t in content
                       if t in item.weights or spelled(t, item.head)) \
                    and not any(self._char_in(t, item.head) for t in content):
                return "off_domain"
            absent = self._absent_subject(content, item)
            if absent:
                return "specifics_missing:" + absent
            head = content[0]  # the topic comes first: 网吧几点关门, 违章停车罚款怎么交
            if self._foreign(head, item) and is_dictionary_word(head) and rarity(head) >= SPECIFIC_RARITY \
                    and not self._names_topic(content[1:], item, query.text):
                return "foreign_subject:" + head  # a specific thing the item never mentions is what is asked about
            if foreign and not any(t in item.topic and self._topical(t, item) for t in content if t in item.weights):
                return "foreign_subject:" + next(t for t in content if self._foreign(t, item))
        period = missing_period(query.periods, item)
        if period:
            return "specifics_missing:" + period
        for name in query.names:
            if name not in item.text:
                return "named_entity:" + name
        return ""

    def _absent_subject(self, content: list[str], item: IndexedItem) -> str:
        """A thing the question asks about that this item never mentions, when the item shares only process words.

        Two cases, both "the catalog holds a neighbour, not this" (化妆品备案 against the 预包装食品备案 guide,
        身份证丢了 against the 许可证遗失 guide): a regulated-product or licence word of the domain lexicon that
        the catalog knows but this item lacks entirely and that carries at least ABSENT_SHARE of the question; or a
        question whose every word the item holds is a process word (generic.txt) while a naming word of it is
        absent from the item."""
        lex = lexicon()
        words = [t for t in dict.fromkeys(content) if not is_date_token(t)]
        total = sum(self._term_weight(t) for t in words) or 1.0
        held, missing = [], []
        for tok in words:
            if self._absent(tok, item):
                if len(tok) > 1 and not is_light(tok) and tok not in lex.modifiers:
                    missing.append(tok)
            else:
                held.append(tok)
        for tok in missing:
            share = ABSENT_SHARE if tok in self._idf else ABSENT_SHARE_UNKNOWN
            if tok in lex.domain and tok not in lex.generic and self._term_weight(tok) >= share * total:
                return tok
        if missing and held and all(t in lex.generic or len(t) == 1 for t in held):
            return missing[0]
        return ""

    def _absent(self, tok: str, item: IndexedItem) -> bool:
        """The item neither holds the word, nor spells it out anywhere, nor holds a part of it."""
        if tok in item.weights or spelled(tok, item.head) or (len(tok) > 1 and tok in item.text):
            return False
        return not any(p in item.weights for p in subterms(tok))

    def _names_topic(self, content: list[str], item: IndexedItem, text: str) -> bool:
        """Does the question also name a specific thing this item is titled or keyworded on (叉车, 预付卡)? Then a
        foreign word before it says where or whose (厂里的叉车), not what about. The word must be the question's own,
        not a synonym's canonical form (网吧几点关门: 关门 -> 办公时间 does not make 网吧 a place of ours)."""
        lex = lexicon()
        rare = max(RARE_DF, len(self._items) // 500)
        return any(len(t) > 1 and t in item.topic and t in text and t not in lex.generic and not is_light(t)
                   and len(self._postings.get(t, ())) <= rare for t in content)

    def _foreign(self, tok: str, item: IndexedItem) -> bool:
        """A thing the question names that neither the catalog nor this item knows (户口本, 驾校): its subject."""
        lex = lexicon()
        return (len(tok) > 1 and tok not in self._idf and tok not in lex.modifiers and tok not in lex.generic
                and not is_light(tok) and not spelled(tok, item.text) and not is_date_token(tok))

    def _topical(self, term: str, item: IndexedItem, foreign: bool = False) -> bool:
        """A matched word that shows the question is about this item's subject, not a shared process word."""
        lex = lexicon()
        if len(term) == 1:
            return False
        if term in lex.generic:  # a document word is the subject of an item named after it (营业执照遗失补领)
            return not foreign and not is_light(term) and term in item.head
        if term not in item.weights:  # spelled out in the title or keywords, split otherwise
            return True
        df = len(self._postings.get(term, ()))
        return term in item.topic or term in lex.domain or df <= max(RARE_DF, len(self._items) // 500)

    def _coverage(self, content: list[str], item: IndexedItem) -> float:
        """Share of the question's content weight the item holds; words the catalog lacks weigh most."""
        total = held = 0.0
        for tok in dict.fromkeys(content):
            weight = self._term_weight(tok)
            total += weight
            if tok in item.weights:
                held += weight
                continue
            if spelled(tok, item.head):
                held += weight * HEAD_SPELLED
                continue
            if tok in item.text and len(tok) > 1:  # the body spells it out (abbreviations: title and keywords only)
                held += weight * BODY_SPELLED
                continue
            parts = [p for p in subterms(tok) if p in self._idf]
            share = 0.0
            if parts:
                got = sum(self._idf[p] for p in parts if p in item.weights)
                share = 0.7 * got / sum(self._idf[p] for p in parts)
            if tok not in self._idf and share < CHAR_HELD and self._char_in(tok, item.head):
                share = CHAR_HELD
            held += weight * share
        return held / total if total else 0.0

    def _term_weight(self, tok: str) -> float:
        """idf for a catalog word; the highest idf for an unknown one, unless it only describes."""
        if tok in self._idf:
            weight = self._idf[tok]
        else:
            weight = self._idf_unknown * rarity(tok)
            if tok in lexicon().modifiers or tok in lexicon().generic:
                weight *= UNKNOWN_SOFT
            elif is_light(tok):
                weight *= LIGHT_FACTOR
        return weight * (UNKNOWN_SOFT if len(tok) == 1 else 1.0)


def missing_period(periods: list[Period], item: IndexedItem) -> str:
    """The first year or month span asked for that the item does not hold, as 'year=2019'."""
    for p in periods:
        if p.year is None:
            continue
        if item.dated and p.year not in item.years:
            return f"year={p.year}"
        if not item.dated and item.years and p.year < min(item.years):
            return f"year={p.year}"
        same_year = [t for t in item.title_periods if t.year == p.year and not t.whole_year]
        if not p.whole_year and same_year and not any(overlaps(p, t) for t in same_year):
            return f"period={p.year}-{p.first_month:02d}..{p.last_month:02d}"
    return ""


def overlaps(a: Period, b: Period) -> bool:
    return a.first_month <= b.last_month and b.first_month <= a.last_month
