"""Question and catalog text: word splitting with the domain lexicon (knowledge/lexicon.py), synonyms, dates.

Everything heavy (jieba's dictionary, zhconv's tables, the data files) loads lazily on first use, and
jieba's prefix dictionary is read from a pruned marshal cache in the temp dir (built once), so that
`import knowledge` costs almost nothing and the first question costs ~0.15 s instead of ~0.7 s.
"""

from __future__ import annotations

import hashlib
import marshal
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from knowledge.lexicon import (
    ADDED_FREQ,
    Lexicon,
    expand_intents,
    import_quietly,
    lexicon,
    normalize,
)
from knowledge.periods import Period, split_dates

__all__ = [
    "Analysis",
    "Period",
    "analyze",
    "extract_periods",
    "is_dictionary_word",
    "is_light",
    "rarity",
    "subterms",
    "tokenize",
    "warm_up",
]

MIN_FREQ = 5  # jieba words rarer than this are dropped: 137k words load in a third of the time of 349k
_WORD = re.compile(r"[0-9a-z\u4e00-\u9fff]")
# jieba part-of-speech tags of words that do not name a thing: verbs, adverbs, numbers, measure words, time and
# place-relation words, pronouns, adjectives, idioms. A question word of these kinds that the catalog lacks says
# how or when, not what about (下面, 几个, 周六, 提前, 做饭), so it weighs less than a missing noun (驾校, 宠物).
LIGHT_TAGS = frozenset(["v", "vd", "vg", "vi", "d", "df", "dg", "m", "mq", "q", "qt", "qv", "t", "tg", "f", "r", "rr", "rz", "rg", "p", "c", "u", "uj", "ul", "uv", "uz", "ug", "ud", "y", "e", "o", "a", "ad", "ag", "z", "zg", "i", "l", "k", "g", "b", "s"])
NOUN_ENDINGS = frozenset("证照")  # one-character words that end a name when an unknown character precedes them
LIGHT_MIN_FREQ = 100  # a rarer word is content whatever its tag (jieba tags 驾照 a verb)
CACHE_VERSION = 3


@dataclass(slots=True)
class Analysis:
    """What the matcher needs from a text: canonical tokens, periods, and business names it mentions."""

    tokens: list[str] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)  # words a synonym replaced (农家乐 -> 餐饮): kept as weak terms
    text: str = ""  # the normalised text


def _extra_words() -> dict[str, int]:
    """Lexicon words jieba must keep whole: the userdict, every synonym and multi-character stop word."""
    lex = lexicon()
    extra = {w: ADDED_FREQ for w in lex.synonyms if len(w) > 1}
    extra.update({w: ADDED_FREQ // 4 for w in lex.stopwords if len(w) > 1})
    extra.update(lex.user_words)
    return extra


def _cache_path(jieba_dict: Path, extra: dict[str, int]) -> Path:
    """A cache name that changes whenever jieba's dictionary or our lexicon does."""
    st = jieba_dict.stat()
    key = f"{CACHE_VERSION}:{st.st_size}:{st.st_mtime_ns}:{MIN_FREQ}:{sorted(extra.items())}"
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"gongkai-jieba-{digest}.cache"


def _build_freq(jieba_dict: Path, extra: dict[str, int]) -> tuple[dict[str, int], int, str]:
    """jieba's prefix dictionary, pruned of rare words, with our lexicon added; and the light words."""
    words: dict[str, int] = {}
    light = []
    with open(jieba_dict, encoding="utf-8") as f:
        for line in f:
            parts = line.split(" ")
            if len(parts) >= 2 and int(parts[1]) >= MIN_FREQ:
                words[parts[0]] = int(parts[1])
                if len(parts) > 2 and parts[2].strip() in LIGHT_TAGS and int(parts[1]) >= LIGHT_MIN_FREQ:
                    light.append(parts[0])
    for word, freq in extra.items():
        words[word] = max(freq, words.get(word, 0))
    freq_map = dict(words)
    for word in words:
        for i in range(1, len(word)):
            freq_map.setdefault(word[:i], 0)
    return freq_map, sum(words.values()), "\n".join(light)


def _load_freq(jieba_dict: Path) -> tuple[dict[str, int], int, str]:
    """Read the cached prefix dictionary in one go; build and write it (atomically) on a miss."""
    extra = _extra_words()
    path = _cache_path(jieba_dict, extra)
    try:
        freq, total, light = marshal.loads(path.read_bytes())
        return freq, total, light
    except (OSError, ValueError, EOFError, TypeError):
        pass
    freq, total, light = _build_freq(jieba_dict, extra)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_bytes(marshal.dumps((freq, total, light)))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
    return freq, total, light


@cache
def _tokenizer() -> Any:
    """A jieba Tokenizer primed from our cache, bypassing its own slower initialisation."""
    jieba = import_quietly("jieba")
    tk = jieba.Tokenizer()
    tk.FREQ, tk.total, light = _load_freq(Path(jieba.__file__).with_name("dict.txt"))
    tk.initialized = True
    _LIGHT_TEXT[0] = light
    return tk


_LIGHT_TEXT = [""]  # the light words, one a line, as read from the cache


@cache
def _light_words() -> frozenset[str]:
    _tokenizer()
    return frozenset(_LIGHT_TEXT[0].split("\n"))


def is_dictionary_word(word: str) -> bool:
    """A word jieba's dictionary (or our lexicon) holds, not a run of unknown characters glued together."""
    return _tokenizer().FREQ.get(word, 0) > 0


def is_light(word: str) -> bool:
    """A word that says how, when or how much rather than what about (see LIGHT_TAGS)."""
    return word in _light_words()


def warm_up() -> None:
    """Load every table now (at start-up) rather than on the first question."""
    _tokenizer()
    _light_words()
    normalize("藥")


def extract_periods(text: str, today: date | None = None) -> list[Period]:
    """The periods a text asks about: 九月份, 前年, 四季度, H1, 15年底, 2014年, 14年 ..."""
    return split_dates(normalize(text), today)[2]


def _merge_single_chars(words: list[str], lex: Lexicon) -> list[str]:
    """Glue runs of unknown single characters (王 记 -> 王记): names and rare words stay one token."""
    out: list[str] = []
    run = ""
    for w in words + [" "]:
        plain = len(w) == 1 and "\u4e00" <= w <= "\u9fff" and w not in lex.stopwords and w not in lex.synonyms
        if plain:
            run += w
            continue
        if w in NOUN_ENDINGS and len(run) == 1:  # 狗证, 鸟证: a document of some thing, not our 许可证
            out.append(run + w)
            run = ""
            continue
        if run:
            out.append(run)
            run = ""
        out.append(w)
    return out[:-1]


_HAN_BLOCK = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)")  # jieba's re_han_default
_ENG_CHAR = re.compile("[a-zA-Z0-9]")  # jieba's re_eng
_LOGP: dict[str, float] = {}  # word -> log(frequency / total) as jieba computes it, filled as words are met


def _cut(text: str) -> list[str]:
    """jieba's `lcut(text, HMM=False)` word for word, in one pass with the log-probabilities cached: the
    question's hot path (jieba rebuilds a DAG dict and recomputes each logarithm on every call)."""
    tk = _tokenizer()
    freq = tk.FREQ
    logp = _LOGP
    log_total = math.log(tk.total)
    out: list[str] = []
    for blk in _HAN_BLOCK.split(text):
        if not blk:
            continue
        if not _HAN_BLOCK.match(blk):
            out.extend(blk)  # jieba yields the other characters one by one (and whitespace runs split apart)
            continue
        n = len(blk)
        scores = [0.0] * (n + 1)  # best log-probability of blk[idx:], and where its first word ends
        ends = [0] * (n + 1)
        for idx in range(n - 1, -1, -1):
            best: float | None = None
            best_end = idx
            i = idx
            frag = blk[idx]
            while i < n and frag in freq:
                if freq[frag]:
                    lp = logp.get(frag)
                    if lp is None:
                        lp = logp[frag] = math.log(freq[frag]) - log_total
                    score = lp + scores[i + 1]
                    if best is None or score >= best:  # jieba's max over (score, end): a tie goes to the longer
                        best, best_end = score, i
                i += 1
                frag = blk[idx:i + 1]
            if best is None:
                word = blk[idx]
                lp = logp.get(word)
                if lp is None:
                    lp = logp[word] = math.log(freq.get(word) or 1) - log_total
                best = lp + scores[idx + 1]
            scores[idx] = best
            ends[idx] = best_end
        x = 0
        buf = ""
        while x < n:
            y = ends[x] + 1
            word = blk[x:y]
            if y - x == 1 and _ENG_CHAR.match(word):
                buf += word
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(word)
            x = y
        if buf:
            out.append(buf)
    return out


def _raw_words(text: str) -> list[str]:
    """jieba words of a normalised text (no HMM: unknown words come out as single characters)."""
    words = [w for w in _cut(text) if _WORD.match(w)]
    return _merge_single_chars(words, lexicon())


def _business_names(words: list[str], lex: Lexicon) -> list[str]:
    """Names of businesses a question mentions: 王记 (餐馆), 鑫源 (超市), 华联商厦, 好又多 (餐饮公司)."""
    names = []
    for i, w in enumerate(words):
        suffix = next((w[-k:] for k in (4, 3, 2, 1) if w[-k:] in lex.suffixes), None)
        if suffix is None:
            continue
        if len(w) - len(suffix) >= 2 and _is_name(w, lex):
            names.append(w)
            continue
        back = [words[j] for j in (i - 1, i - 2) if j >= 0]
        if back and back[0] in lex.synonyms and len(back) > 1:
            back = back[1:]  # 好又多 [餐饮] 公司: skip one generic business word
        if back and _is_name(back[0], lex):
            names.append(back[0])
    return names


def _is_name(word: str, lex: Lexicon) -> bool:
    """Not a stop word, lexicon word, catalog word or frequent dictionary word: likely a proper name."""
    if len(word) < 2 or word in lex.stopwords or word in lex.synonyms or word in lex.domain \
            or word in lex.modifiers:
        return False
    return not _common_word(word)


def _common_word(word: str) -> bool:
    """A frequent dictionary word (学校, 大型) describes a business; a rare or unknown one names it."""
    return _tokenizer().FREQ.get(word, 0) >= 3000


def rarity(word: str) -> float:
    """0.2 (everyday word: 意思, 出来) .. 1.0 (rare or unknown: 医保卡), from jieba's word frequencies."""
    tk = _tokenizer()
    surprise = math.log(tk.total / (tk.FREQ.get(word) or 1))
    return min(1.0, max(0.2, (surprise - 7.0) / 6.0))


def analyze(text: str, today: date | None = None, *, for_index: bool = False, normalized: bool = False) -> Analysis:
    """Tokens (synonyms mapped, stop words dropped, dates as canonical tokens), periods and names."""
    lex = lexicon()
    norm = text if normalized else normalize(text)
    if not for_index:
        norm = expand_intents(norm)
    rest, date_tokens, periods = split_dates(norm, today, expand=for_index)
    words = [w for piece in rest for w in _raw_words(piece)]
    kept = [w for w in words if w not in lex.stopwords]
    tokens = [lex.synonyms.get(w, w) for w in kept]
    variants = [w for w in kept if len(w) > 1 and lex.synonyms.get(w, w) != w]
    names = [] if for_index else _business_names(words, lex)
    return Analysis([t for t in tokens if t not in lex.stopwords] + date_tokens, periods, names, variants, norm)


def tokenize(text: str, today: date | None = None) -> list[str]:
    """The canonical tokens of a text, as the index sees them."""
    return analyze(text, today).tokens


@lru_cache(maxsize=65536)
def subterms(token: str) -> tuple[str, ...]:
    """The words a long word splits into when it may not stay whole (食品经营许可证 -> 食品, 经营, 许可证),
    synonyms mapped: lets 许可证 in a question meet 食品经营许可证 in a title, and the reverse."""
    if len(token) < 3 or not "\u4e00" <= token[0] <= "\u9fff":
        return ()
    lex = lexicon()
    pieces = [p for p in _best_split(token) if len(p) > 1 and p not in lex.stopwords]
    nested = [q for p in pieces for q in (lex.synonyms.get(p, p), *(subterms(p) if len(p) < len(token) else ()))]
    return tuple(dict.fromkeys(p for p in nested if p != token))


def _best_split(word: str) -> list[str]:
    """Most probable split of a word into shorter dictionary words (jieba's unigram model, whole word barred)."""
    tk = _tokenizer()
    freq, log_total = tk.FREQ, math.log(tk.total)
    n = len(word)
    best: list[tuple[float, int]] = [(0.0, 0)] * (n + 1)
    for end in range(1, n + 1):
        options = []
        for start in range(max(0, end - 6), end):
            if end - start == n:
                continue
            piece = word[start:end]
            logp = math.log(freq.get(piece) or 1) - log_total
            if freq.get(piece) or end - start == 1:
                options.append((best[start][0] + logp, start))
        best[end] = max(options)
    parts, end = [], n
    while end > 0:
        start = best[end][1]
        parts.append(word[start:end])
        end = start
    return parts[::-1]
