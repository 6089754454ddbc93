"""The disclosure catalog and the matcher that answers questions from it.

`Knowledge.build(items)` indexes catalog items (dicts with id, title, category, published, url, keywords (list),
body, and the optional index_no, doc_no, publisher, validity); `knowledge.search(question, top_k)` returns an
`Answer`: the ranked matches and whether the best one really answers the question (the abstain rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Match", "Answer", "Knowledge", "CATEGORIES"]

# The seed report's catalog columns (2013), plus the 2019 regulation's statutory column.
CATEGORIES: tuple[str, ...] = (
    "机构职能",
    "规范性文件",
    "监督管理专项业务",
    "工作动态",
    "应急管理",
    "办事指南",
    "其它信息",
    "预警信息",
    "法定主动公开内容",
)


@dataclass(frozen=True, slots=True)
class Match:
    id: str
    title: str
    category: str
    url: str
    published: str
    score: float

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "category": self.category, "url": self.url,
                "score": round(self.score, 4)}


@dataclass(frozen=True, slots=True)
class Answer:
    """`answered` is False when no item answers the question; `matches` may still hold near misses."""

    answered: bool
    matches: list[Match] = field(default_factory=list)
    reason: str = ""  # why it abstained, for the log and for tuning: no_terms, no_match, specifics_missing ...
    alternatives: int = 0  # how many matches after the first are close enough to offer as 您是不是想问


from knowledge.index import Knowledge  # noqa: E402
