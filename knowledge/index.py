"""The catalog index: BM25 with field weights over postings; when not to answer is knowledge/abstain.py.

Scores are precomputed per posting at build time (idf x saturated, length-normalised, field-weighted tf) and
each posting list is sorted best first, so a search reads only the head of each of its terms' lists
(champion lists) and rescores the few best candidates exactly from their forward weights. Before ranking, a
question's typos are put right and unknown words are widened to the catalog words they abbreviate or share a
rare character with.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import clock
from knowledge import Answer, Match
from knowledge.abstain import MIN_COVERAGE, AbstainRule
from knowledge.items import IndexedItem, abbreviated, is_date_token, is_guide, retired, routed
from knowledge.lexicon import READ_LIMIT, confusions, lexicon, normalize
from knowledge.text import (
    Analysis,
    analyze,
    is_dictionary_word,
    is_light,
    rarity,
    subterms,
)

__all__ = ["Knowledge"]

FIELD_WEIGHTS = {"title": 3.0, "keywords": 2.0, "body": 1.0, "meta": 0.3}
K1, B = 1.2, 0.75
SUBTERM_WEIGHT = 0.4  # a part of a long word (许可证 in 食品经营许可证) counts for less than the word
RETIRED_FACTOR = 0.7  # a 已废止 item ranks below a current one on the same subject
ALTERNATIVE_RATIO = 0.5  # a runner-up within this share of the best score is offered as 您是不是想问
CANDIDATES = 8  # items re-checked after ranking (retired penalty, coverage)
CHAMPIONS = 80  # postings per term read to find candidates (lists are sorted by weight, best first)
RESCORE = 24  # candidates scored exactly when some list was cut short
VARIANT_WEIGHT = 0.4  # the word a synonym replaced (农家乐) still counts a little, for the item that uses it
DATE_WEIGHT = 1.5  # a year or period asked for weighs more than an ordinary word
HOWTO_FACTOR = 1.15  # a how-to question (怎么办, 需要什么) leans to 办事指南 items
HOWTO_CUES = ("怎么", "如何", "咋", "怎样", "要什么", "要啥", "需要什么", "办理", "办啥", "办什么", "手续", "流程",
              "材料", "条件", "去哪办", "在哪办")
ABBREVIATION_WEIGHT = 0.7  # a catalog word an unknown question word abbreviates (乡厨 -> 乡村厨师)
ROUTE_TERMS = ("投诉",)  # a question holding one of these is routed to the guide that holds it whatever it is about
ROUTE_FACTOR = 1.5  # how much such a guide is lifted in the ranking
CHAR_WEIGHT = 0.35  # a catalog word sharing the rarest character of an unknown question word (摊 -> 摊贩, 秤 -> 电子秤)
CHAR_SHARE = 0.12  # a character in the titles/keywords of more than this share of items tells nothing
CHAR_TERMS = 4  # catalog words an unknown word's character brings into the search
STOP_CHARS = frozenset("人的了是在有和与及或不没我你他她它们这那个些么吗呢啊吧要想能会去来到说做弄办搞用拿找看问得地着过上下里中前后大小多少几一二三四五六七八九十年月日号时天")
GUIDE_RATIO = 0.6  # a how-to question's guide that covers it as well as the top item takes first place within this
GUIDE_COVERAGE = 0.5  # ... of its score, and when it covers at least this share of the question


def _field_texts(item: Mapping[str, Any]) -> dict[str, str]:
    """The searchable fields of a catalog item (keywords may be a list or a ;-separated string)."""
    keywords = item.get("keywords") or []
    if isinstance(keywords, str):
        keywords = keywords.split(";")
    return {"title": str(item.get("title") or ""), "keywords": " ".join(map(str, keywords)),
            "body": str(item.get("body") or "")}


def _with_subterms(analysis: Analysis) -> dict[str, float]:
    """Term counts of a field, parts of long words and replaced synonyms included at a reduced count."""
    counts: dict[str, float] = defaultdict(float)
    for tok in analysis.tokens:
        counts[tok] += 1.0
        for part in subterms(tok):
            counts[part] += SUBTERM_WEIGHT
    for variant in analysis.variants:
        counts[variant] += VARIANT_WEIGHT
    return counts


def _published_year(item: Mapping[str, Any]) -> int | None:
    value = str(item.get("published") or "")
    return int(value[:4]) if value[:4].isdigit() else None


class Knowledge(AbstainRule):
    """An immutable index over catalog items; build a new one when the catalog changes."""

    def __init__(self, items: list[IndexedItem], postings: dict[str, list[tuple[int, float]]],
                 idf: dict[str, float]) -> None:
        self._items = items
        self._postings = postings
        self._idf = idf
        n = len(items)
        self._idf_unknown = math.log(1 + (n + 0.5) / 0.5) if n else 1.0
        self._guides = frozenset(i for i, item in enumerate(items) if is_guide(item.match))
        self._vocab_chars: frozenset[str] | None = None  # characters of catalog words, for typo repair (lazy)
        self._by_first: dict[str, list[str]] | None = None  # catalog words by first character, built on first use
        # per character: how many items' titles/keywords hold it, and the title/keyword words holding it (lazy)
        self._chars: tuple[dict[str, int], dict[str, list[str]]] | None = None

    def __len__(self) -> int:
        return len(self._items)

    @classmethod
    def build(cls, items: Iterable[Mapping[str, Any]]) -> Knowledge:
        """Index items once: per-field token counts, then one precomputed BM25 weight per posting."""
        records, field_counts = [], []
        for raw in items:
            item, counts = _analyze_item(raw)
            records.append(item)
            field_counts.append(counts)
        postings, idf = _weigh(field_counts)
        del field_counts
        # Fresh objects for every posting, made in list order, so that each list's tuples and floats lie together in
        # memory rather than scattered among the build's garbage: a search reads the head of each of its terms'
        # lists, and at 10,000 items scattered postings made it cache-bound (the values are unchanged: w + 0.0 == w)
        postings = {term: [(doc, weight + 0.0) for doc, weight in plist] for term, plist in postings.items()}
        forward: list[dict[str, float]] = [{} for _ in records]
        for term, plist in postings.items():
            for doc, weight in plist:
                forward[doc][term] = weight
        for record, weights in zip(records, forward):
            record.weights.update(weights)  # one compact table each, not one grown a posting at a time
        return cls(records, postings, idf)

    def search(self, question: str, top_k: int = 3, today: date | None = None) -> Answer:
        """Rank items for a question and decide whether the best one really answers it. Of a long text, the first
        READ_LIMIT characters are read."""
        query = analyze(self._corrected(normalize(question[:READ_LIMIT])), today or date.today(), normalized=True)
        content = [t for t in query.tokens if not is_date_token(t)]
        if not content:
            return Answer(False, [], "no_terms")
        terms = _query_terms(query)
        for tok in content:
            if tok not in self._idf:
                for full in self._expansions(tok):
                    terms[full] = max(terms.get(full, 0.0), ABBREVIATION_WEIGHT)
            for near in self._char_terms(tok):
                terms[near] = max(terms.get(near, 0.0), CHAR_WEIGHT)
        scores = self._accumulate(terms)
        if not scores:
            return Answer(False, [], "no_match")
        routes = [t for t in ROUTE_TERMS if t in content]
        howto = _is_howto(query.text)
        ranked = self._rank(scores, howto, routes)
        best_idx, best_score = ranked[0]
        reason = self._abstain_reason(query, content, self._items[best_idx], routes)
        if howto and not reason and best_idx not in self._guides:
            ranked = self._guide_first(ranked, query, content, routes)
            best_idx, best_score = ranked[0]
        matches = [_rescored(self._items[i].match, s) for i, s in ranked[:top_k]]
        alternatives = sum(1 for i, s in ranked[1:top_k] if s >= ALTERNATIVE_RATIO * best_score
                           and self._coverage(content, self._items[i]) >= MIN_COVERAGE)
        return Answer(reason == "", matches, reason, alternatives)

    def _corrected(self, text: str) -> str:
        """The question with typed-for characters put right (许可正 -> 许可证, 明厨量灶 -> 明厨亮灶): a character of
        data/confusions.txt is replaced where that spells a catalog word of 2-5 characters across it and the
        original spelling there is neither a catalog word nor a common word."""
        table = confusions()
        if table.keys().isdisjoint(text):
            return text
        vocab = self._idf
        if self._vocab_chars is None:
            self._vocab_chars = frozenset(ch for term in vocab if 2 <= len(term) <= 5 for ch in term)
        for i, ch in enumerate(text):
            alts = table.get(ch)
            if alts:
                for alt in alts:
                    if alt not in self._vocab_chars:
                        continue
                    if _fixes(text, i, alt, vocab):
                        text = text[:i] + alt + text[i + 1:]
                        break
        return text

    def _expansions(self, tok: str) -> list[str]:
        """Catalog words an unknown question word abbreviates (乡厨 -> 乡村厨师, 电动车 -> 电动自行车)."""
        if not 2 <= len(tok) <= 4 or not "\u4e00" <= tok[0] <= "\u9fff" or is_light(tok):
            return []
        if self._by_first is None:
            by_first: dict[str, list[str]] = defaultdict(list)
            for term in self._idf:
                if len(term) >= 3 and not term[-1].isdigit():
                    by_first[term[0]].append(term)
            self._by_first = by_first
        found = [t for t in self._by_first.get(tok[0], ()) if len(t) > len(tok) and abbreviated(tok, t, full=True)]
        return found[:3]

    def _char_index(self) -> tuple[dict[str, int], dict[str, list[str]]]:
        """Characters of the catalog's titles and keywords: in how many items each occurs, and the words with it."""
        if self._chars is None:
            df: dict[str, int] = defaultdict(int)
            vocab: set[str] = set()
            for item in self._items:
                for ch in set(item.head):
                    df[ch] += 1
                vocab.update(item.topic)
            words: dict[str, list[str]] = defaultdict(list)
            for term in vocab:
                if len(term) >= 2 and "\u4e00" <= term[0] <= "\u9fff" and not is_date_token(term):
                    for ch in set(term):
                        words[ch].append(term)
            for found in words.values():
                found.sort(key=lambda t: (len(t), -self._idf.get(t, 0.0), t))
            self._chars = (dict(df), dict(words))
        return self._chars

    def _key_char(self, tok: str) -> str:
        """A question word of one character (早餐|摊, 秤, 续) standing for the catalog words that hold it (摊贩, 电子秤,
        延续), when few items' titles or keywords use it (else it tells nothing); else ''."""
        lex = lexicon()
        if not tok or tok in lex.modifiers or tok in lex.generic or is_date_token(tok):
            return ""
        if len(tok) != 1:
            return ""  # 护照, 结婚证, 驾校 are things in their own right, not kinds of 照/证/校 the catalog knows
        ch = tok
        if not "\u4e00" <= ch <= "\u9fff" or ch in STOP_CHARS or ch in lex.stopwords:
            return ""
        df, _ = self._char_index()
        return ch if 0 < df.get(ch, 0) <= max(1, int(CHAR_SHARE * len(self._items))) else ""

    def _char_in(self, tok: str, text: str) -> bool:
        """Does the text hold the head character of an unknown word (see _key_char)?"""
        ch = self._key_char(tok)
        return bool(ch) and ch in text

    def _char_terms(self, tok: str) -> list[str]:
        """Catalog words an unknown question word may mean, by its rarest character (摊 -> 摊贩, 秤 -> 电子秤)."""
        ch = self._key_char(tok)
        return self._char_index()[1].get(ch, [])[:CHAR_TERMS] if ch else []

    def _accumulate(self, terms: dict[str, float]) -> dict[int, float]:
        """Gather candidates from each term's champion postings (highest weights first), then score the
        best of them exactly from their own term weights; exact outright when every list is short."""
        partial: dict[int, float] = {}
        get = partial.get
        postings = self._postings
        truncated = False
        for term, weight in terms.items():
            plist = postings.get(term)
            if not plist:
                continue
            reach = CHAMPIONS if weight >= 1.0 else CHAMPIONS // 4  # parts and variants find fewer candidates
            if len(plist) > reach:
                truncated = True
                plist = plist[:reach]
            if not partial:
                partial = {doc: weight * w for doc, w in plist}
                get = partial.get
            elif weight == 1.0:
                for doc, w in plist:
                    partial[doc] = get(doc, 0.0) + w
            else:
                for doc, w in plist:
                    partial[doc] = get(doc, 0.0) + weight * w
        if not truncated:
            return partial
        if len(partial) > RESCORE:
            return self._exact(sorted(partial, key=get, reverse=True)[:RESCORE], terms)
        return self._exact(partial, terms)

    def _exact(self, docs: Iterable[int], terms: dict[str, float]) -> dict[int, float]:
        """Full BM25 scores of a few items, read from their forward term weights."""
        items = self._items
        postings = self._postings
        pairs = [(term, weight) for term, weight in terms.items() if term in postings]  # others weigh nothing
        out: dict[int, float] = {}
        for doc in docs:
            get = items[doc].weights.get
            total = 0.0
            for term, weight in pairs:
                w = get(term)
                if w:
                    total += weight * w
            out[doc] = total
        return out

    def _rank(self, scores: dict[int, float], howto: bool, routes: list[str]) -> list[tuple[int, float]]:
        """The best candidates, retired items pushed down, guides lifted for how-to questions and routed ones."""
        top = heapq.nlargest(CANDIDATES, scores.items(), key=lambda kv: kv[1])
        adjusted = []
        for i, score in top:
            item = self._items[i]
            score *= RETIRED_FACTOR if item.retired else 1.0
            if i in self._guides:
                score *= HOWTO_FACTOR if howto else 1.0
                score *= ROUTE_FACTOR if routes and routed(routes, item) else 1.0
            adjusted.append((i, score))
        adjusted.sort(key=lambda kv: -kv[1])
        return adjusted

    def _guide_first(self, ranked: list[tuple[int, float]], query: Analysis, content: list[str],
                     routes: list[str]) -> list[tuple[int, float]]:
        """A how-to question answered by a rule or notice goes to the guide just below it instead, when that guide
        also answers it and holds every question word the top item is titled or keyworded on (做豆腐的小作坊要办啥证:
        the 小作坊 licence guide, not the 小作坊 办法 whose body happens to name 豆腐; but 食物中毒预案是啥 stays
        with the 预案)."""
        top_idx, top_score = ranked[0]
        titled = [t for t in dict.fromkeys(content) if t in self._items[top_idx].topic]
        for pos, (i, score) in enumerate(ranked[1:4], 1):
            item = self._items[i]
            if i in self._guides and score >= GUIDE_RATIO * top_score \
                    and all(t in item.weights for t in titled) \
                    and self._coverage(content, item) >= GUIDE_COVERAGE \
                    and not self._abstain_reason(query, content, item, routes):
                return [ranked[pos]] + ranked[:pos] + ranked[pos + 1:]
        return ranked

def _analyze_item(raw: Mapping[str, Any]) -> tuple[IndexedItem, dict[str, dict[str, float]]]:
    """Tokens per field and the facts the abstain rule checks, for one catalog item."""
    fields = _field_texts(raw)
    analyses = {name: analyze(text, for_index=True) for name, text in fields.items()}
    counts = {name: _with_subterms(a) for name, a in analyses.items()}
    year = _published_year(raw)
    counts["meta"] = {f"{year}年": 1.0} if year else {}
    text_years = {p.year for a in analyses.values() for p in a.periods if p.year}
    match = Match(str(raw.get("id", "")), fields["title"], str(raw.get("category") or ""),
                  str(raw.get("url") or ""), str(raw.get("published") or ""), 0.0)
    topic = frozenset(counts["title"]) | frozenset(counts["keywords"])
    item = IndexedItem(match, {}, topic, normalize(fields["title"] + " " + fields["keywords"]),
                 normalize(" ".join(fields.values())),
                 frozenset(text_years | ({year} if year else set())), bool(text_years),
                 tuple(analyses["title"].periods), retired(raw, clock.now().date()))
    return item, counts


def _weigh(field_counts: list[dict[str, dict[str, float]]]) -> tuple[dict[str, list[tuple[int, float]]],
                                                                        dict[str, float]]:
    """BM25F: field-weighted, length-normalised tf, saturated once, times idf; one float per posting."""
    n = len(field_counts)
    avg = {f: (sum(sum(c[f].values()) for c in field_counts) / n if n else 0.0) or 1.0 for f in FIELD_WEIGHTS}
    tf: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for doc, counts in enumerate(field_counts):
        for fname, fcounts in counts.items():
            norm = FIELD_WEIGHTS[fname] / (1 - B + B * sum(fcounts.values()) / avg[fname])
            for term, count in fcounts.items():
                tf[term][doc] += count * norm
    idf = {t: math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5)) for t, docs in tf.items()}
    postings = {t: sorted(((d, idf[t] * v * (K1 + 1) / (v + K1)) for d, v in docs.items()), key=lambda p: -p[1])
                for t, docs in tf.items()}
    return postings, idf


def _query_terms(query: Analysis) -> dict[str, float]:
    """Question terms with their weights: the words, and parts of long words and replaced synonyms for less."""
    terms: dict[str, float] = {}
    for tok in query.tokens:
        terms[tok] = terms.get(tok, 0.0) + (DATE_WEIGHT if is_date_token(tok) else 1.0)
        for part in subterms(tok):
            terms[part] = max(terms.get(part, 0.0), SUBTERM_WEIGHT)
    for variant in query.variants:
        terms[variant] = max(terms.get(variant, 0.0), VARIANT_WEIGHT)
    return terms


def _is_howto(question: str) -> bool:
    """Does the question ask how to get something done (then a 办事指南 item is the likelier answer)?"""
    return any(cue in question for cue in HOWTO_CUES)


def _fixes(text: str, i: int, alt: str, vocab: Mapping[str, float]) -> bool:
    """Does putting alt at i spell a catalog word (2-5 characters) whose original spelling is no known word?"""
    n = len(text)
    for length in range(5, 1, -1):
        for start in range(max(0, i - length + 1), min(i, n - length) + 1):
            new = text[start:i] + alt + text[i + 1:start + length]
            if new in vocab:
                old = text[start:start + length]
                if old not in vocab and not _common(old):
                    return True
    return False


def _common(word: str) -> bool:
    """A word jieba's dictionary knows well (需要, 保证): not to be taken for a typo."""
    return is_dictionary_word(word) and rarity(word) < 0.8


def _rescored(match: Match, score: float) -> Match:
    return Match(match.id, match.title, match.category, match.url, match.published, score)
