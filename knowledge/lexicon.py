"""The staff-editable word lists under knowledge/data/, and the one spelling every text is brought to.

Synonyms, stop words, business-name suffixes, modifiers, generic (process) words, the user dictionary, question
intents and typo confusions are read once, on first use. `normalize` folds width, traditional characters and case.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["Lexicon", "lexicon", "expand_intents", "confusions", "normalize", "import_quietly", "ADDED_FREQ",
           "DATA_DIR", "READ_LIMIT"]

DATA_DIR = Path(__file__).with_name("data")
ADDED_FREQ = 2000  # frequency given to lexicon words that the userdict gives none
# How much of a message the bot reads to answer it: a question is far shorter, and reading a pasted page whole
# would hold up every other chat (matching grows faster than the text). The log and a possible request keep it all.
READ_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Lexicon:
    """The staff-editable word lists under knowledge/data/."""

    synonyms: dict[str, str]
    stopwords: frozenset[str]
    suffixes: frozenset[str]
    modifiers: frozenset[str]
    generic: frozenset[str]
    domain: frozenset[str]
    user_words: dict[str, int]


def _words(path: Path) -> list[list[str]]:
    """Non-comment lines of a data file, split on whitespace."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            rows.append(line.split())
    return rows


@cache
def lexicon() -> Lexicon:
    """Load synonyms, stop words, business-name suffixes and the user dictionary once."""
    synonyms: dict[str, str] = {}
    for row in _words(DATA_DIR / "synonyms.txt"):
        canon = normalize(row[0])
        for variant in row:
            synonyms.setdefault(normalize(variant), canon)
    stop = frozenset(w for row in _words(DATA_DIR / "stopwords.txt") for w in row)
    suffixes = frozenset(w for row in _words(DATA_DIR / "entities.txt") for w in row)
    modifiers = frozenset(w for row in _words(DATA_DIR / "modifiers.txt") for w in row)
    listed = {w for row in _words(DATA_DIR / "generic.txt") for w in row}
    # a listed word stands for its synonym line only if the line's own term is listed too: 网上 (网上申请) is a
    # process word, but its line's 网络销售 is a subject
    generic = frozenset(c for c in (synonyms.get(w, w) for w in listed) if c in listed)
    user = {row[0]: int(row[1]) if len(row) > 1 else ADDED_FREQ for row in _words(DATA_DIR / "userdict.txt")}
    domain = (frozenset(user) | frozenset(synonyms.values())) - generic
    return Lexicon(synonyms, stop, suffixes, modifiers, generic, domain, user)


@cache
def _intents() -> tuple[tuple[re.Pattern[str], str, frozenset[str] | None], ...]:
    """The question-intent patterns of data/intents.txt: (pattern, catalog words it stands for, the characters
    one of which every match begins with, None if that cannot be told): a question holding none is skipped."""
    rows = []
    for line in (DATA_DIR / "intents.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "\t" not in line:
            continue
        pattern, words = line.split("\t", 1)
        compiled = re.compile(pattern.strip())
        rows.append((compiled, words.strip(), _first_chars(compiled)))
    return tuple(rows)


def _first_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """The characters a match of the pattern must begin with, when its syntax says so plainly; else None."""
    if pattern.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    try:
        import re._parser as sre_parse  # only on first use; private, so any failure means None
        from re._constants import (
            AT,
            BRANCH,
            IN,
            LITERAL,
            MAX_REPEAT,
            MIN_REPEAT,
            SUBPATTERN,
        )

        def firsts(seq: Any) -> set[str] | None:
            for op, av in seq:
                if op is AT:
                    continue
                if op is LITERAL:
                    return {chr(av)}
                if op is IN:
                    if all(o is LITERAL for o, _ in av):
                        return {chr(v) for _, v in av}
                    return None
                if op is SUBPATTERN:
                    return firsts(av[-1])
                if op is BRANCH:
                    out: set[str] = set()
                    for alt in av[1]:
                        got = firsts(alt)
                        if got is None:
                            return None
                        out |= got
                    return out
                if op in (MAX_REPEAT, MIN_REPEAT) and av[0] >= 1:
                    return firsts(av[2])
                return None
            return None  # the pattern may match the empty string

        found = firsts(sre_parse.parse(pattern.pattern))
    except Exception:  # noqa: BLE001
        return None
    return frozenset(found) if found else None


def expand_intents(norm: str) -> str:
    """A normalised question with the catalog words its everyday phrasing stands for appended
    (想要你们的文件 -> 依申请公开, 没报年报 -> 经营异常名录, 公司年检 -> 年度报告)."""
    added = []
    for pattern, words, starts in _intents():
        if starts is not None and starts.isdisjoint(norm):
            continue
        if words.startswith("="):
            norm = pattern.sub(words[1:], norm)
        elif pattern.search(norm):
            added.append(words)
    return norm + " " + " ".join(added) if added else norm


@cache
def confusions() -> dict[str, str]:
    """Character -> the characters it is often typed for (data/confusions.txt)."""
    table: dict[str, str] = {}
    for row in _words(DATA_DIR / "confusions.txt"):
        chars = "".join(row)
        for ch in chars:
            table[ch] = table.get(ch, "") + "".join(c for c in chars if c != ch and c not in table.get(ch, ""))
    return table


def import_quietly(name: str) -> ModuleType:
    """Import jieba/zhconv without pkg_resources (~0.2 s), which they use only to open their own files."""
    hidden = "pkg_resources" not in sys.modules
    if hidden:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # ImportError -> they fall back to open()
    try:
        return __import__(name)
    finally:
        if hidden:
            del sys.modules["pkg_resources"]


@cache
def _zhconv() -> ModuleType:
    return import_quietly("zhconv")


_BEYOND_LATIN = re.compile("[^\x00-\u2e7f]")  # a character zhconv might convert (CJK and beyond)


@cache
def _zh_starts() -> frozenset[str]:
    """Characters some zh-cn conversion of zhconv begins with: a text holding none of them converts to itself."""
    zhconv = _zhconv()
    zhconv.convert("", "zh-cn")  # loads the table and its prefix set
    return frozenset(p for p in zhconv.zhconv.pfsdict["zh-cn"] if len(p) == 1)


def normalize(text: str) -> str:
    """Full width to half width, traditional to simplified, lower case: one spelling per word."""
    # Each handler of a message reads it normalized: remember messages, not the long texts of catalog items.
    return _normalize_message(text) if len(text) <= READ_LIMIT else _normalize(text)


@lru_cache(maxsize=4096)
def _normalize_message(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    if _BEYOND_LATIN.search(text) and not _zh_starts().isdisjoint(text):
        text = _zhconv().convert(text, "zh-cn")
    return text
