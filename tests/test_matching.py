"""Behaviour of the catalog matcher: normalisation, synonyms, dates, ranking, abstention, accuracy."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from knowledge import CATEGORIES, Answer, Knowledge
from knowledge.lexicon import normalize
from knowledge.text import Period, extract_periods, tokenize

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "knowledge" / "data" / "demo_catalog.jsonl"
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
SEED_CATEGORIES = set(CATEGORIES) - {"法定主动公开内容"}  # the 2013 report's columns: the demo catalog's


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _labelled_set(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A catalog and its labelled questions, checked for shape: real categories, expectations that exist."""
    items, rows = _jsonl(folder / "catalog.jsonl"), _jsonl(folder / "questions.jsonl")
    assert {i["category"] for i in items} <= set(CATEGORIES)
    assert {r["expect"] for r in rows} - {None} <= {i["id"] for i in items}
    return items, rows


def _scored_set(name: str, items: int, rows: int, unanswerable: int,
                both_kinds: bool = False) -> tuple[float, float]:
    """tests/data/<name> checked for size (and, both_kinds, for off_domain and specifics_missing unanswerable
    questions), then scored as _score does."""
    catalog, questions = _labelled_set(ROOT / "tests" / "data" / name)
    assert len(catalog) >= items and len(questions) >= rows
    assert sum(r["expect"] is None for r in questions) >= unanswerable
    if both_kinds:
        assert {r.get("why") for r in questions if r["expect"] is None} == {"off_domain", "specifics_missing"}
    return _score(Knowledge.build(catalog), questions)


def _score(kb: Knowledge, rows: list[dict[str, Any]]) -> tuple[float, float]:
    """(share of answerable questions whose first match is the expected item, share of unanswerable abstained)."""
    right = abstained = answerable = unanswerable = 0
    for row in rows:
        today = date.fromisoformat(row["today"]) if row.get("today") else None
        ans = kb.search(row["q"], today=today)
        if row["expect"] is None:
            unanswerable += 1
            abstained += not ans.answered
        else:
            answerable += 1
            right += ans.answered and ans.matches[0].id == row["expect"]
    return right / answerable, abstained / unanswerable


@pytest.fixture(scope="module")
def kb() -> Knowledge:
    return Knowledge.build(_jsonl(CATALOG))


def _top(kb: Knowledge, question: str, today: date | None = None) -> Answer:
    return kb.search(question, top_k=3, today=today)


def test_demo_catalog_is_complete() -> None:
    items = _jsonl(CATALOG)
    assert len(items) >= 45
    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        assert item["category"] in SEED_CATEGORIES and item["demo"] is True
        assert item["title"] and item["body"] and isinstance(item["keywords"], list)
        assert item["validity"] in ("有效", "已废止") and item["url"].startswith("https://example.gov.cn/")
    assert any("投诉举报" in i["title"] for i in items)


@pytest.mark.parametrize("raw, expected", [
    ("ＧＳＰ检查", "gsp检查"),
    ("藥品經營許可證", "药品经营许可证"),
    ("１２３１５", "12315"),
    ("健康證，在哪裡辦？", "健康证,在哪里办?"),
])
def test_normalize_width_traditional_case(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_tokenize_drops_particles_and_maps_synonyms() -> None:
    assert tokenize("请问健康证在哪里办啊") == ["健康证"]
    assert tokenize("你们头儿是谁") == ["领导"]
    assert "许可证" in tokenize("开奶茶店要办啥证")
    assert tokenize("食品经营许可症") == tokenize("食品經營許可證")


def test_typos_and_homophones_map_to_the_right_word() -> None:
    assert tokenize("小饭桌备按") == tokenize("小饭桌备案")
    assert tokenize("健康正在哪里办") == ["健康证"]


@pytest.mark.parametrize("text, today, expected", [
    ("九月份的抽检", date(2015, 10, 10), [Period(2015, 9, 9)]),
    ("九月份的抽检", date(2015, 3, 10), [Period(2014, 9, 9)]),
    ("前年的抽检结果", date(2015, 6, 1), [Period(2013)]),
    ("2014年四季度抽检", None, [Period(2014, 10, 12)]),
    ("去年第四季度", date(2015, 3, 1), [Period(2014, 10, 12)]),
    ("2014年H1餐饮检查", None, [Period(2014, 1, 6)]),
    ("15年底的通知", None, [Period(2015, 10, 12)]),
    ("2014年的年报", None, [Period(2014)]),
    ("14年的处罚", None, [Period(2014)]),
    ("二〇一三年三月", None, [Period(2013, 3, 3)]),
    ("有效期5年", None, []),
])
def test_extract_periods(text: str, today: date | None, expected: list[Period]) -> None:
    assert extract_periods(text, today) == expected


def test_relative_year_follows_today(kb: Knowledge) -> None:
    assert _top(kb, "前年的抽检结果", date(2015, 6, 1)).matches[0].id == "demo-019"
    assert not _top(kb, "前年的抽检结果", date(2026, 6, 1)).answered


def test_traditional_question_is_answered(kb: Knowledge) -> None:
    ans = _top(kb, "藥品經營許可證怎麼辦理")
    assert ans.answered and ans.matches[0].id == "demo-034"


def test_words_absent_from_titles_reach_the_item(kb: Knowledge) -> None:
    assert _top(kb, "开奶茶店要办啥证").matches[0].id == "demo-032"
    assert _top(kb, "你们老大是谁").matches[0].id == "demo-002"
    assert _top(kb, "微商卖面膜要注意什么").matches[0].id == "demo-009"


@pytest.mark.parametrize("question", ["买到假货怎么举报", "健身房跑路了卡里还有钱咋办", "在商场被强制消费了找哪个",
                                      "装修公司收了定金就联系不上了咋办"])
def test_complaint_guide_answers_complaints(kb: Knowledge, question: str) -> None:
    """Consumer disputes said without 投诉 (跑路, 强制消费, 收了钱联系不上) go to the complaint guide too."""
    ans = _top(kb, question)
    assert ans.answered and ans.matches[0].id == "demo-050"


@pytest.mark.parametrize("question, reason", [
    ("2019年的抽检结果", "specifics_missing:year=2019"),
    ("王记餐馆的检查结果", "named_entity"),
    ("驾照换证去哪办", ""),
    ("社保怎么交", ""),
    ("户口迁移需要什么材料", ""),
    ("吗？", "no_terms"),
])
def test_abstains_on_what_the_catalog_does_not_hold(kb: Knowledge, question: str, reason: str) -> None:
    ans = _top(kb, question)
    assert not ans.answered
    assert ans.reason.startswith(reason) and ans.reason


def test_named_business_in_the_item_is_answered(kb: Knowledge) -> None:
    ans = _top(kb, "东方红小吃店有许可证吗")
    assert ans.answered and ans.matches[0].id == "demo-017"


def test_inverted_index_scores_only_items_sharing_a_term() -> None:
    items = [{"id": "a", "title": "小饭桌备案", "category": "工作动态", "published": "2013-07-08", "url": "u",
              "keywords": ["小饭桌"], "body": "小饭桌应当备案。"},
             {"id": "b", "title": "野生蘑菇中毒提示", "category": "预警信息", "published": "2014-06-20", "url": "u",
              "keywords": ["蘑菇"], "body": "不要采食野生蘑菇。"}]
    ans = Knowledge.build(items).search("小饭桌怎么备案", top_k=5)
    assert [m.id for m in ans.matches] == ["a"]
    assert ans.answered and ans.alternatives == 0


def test_empty_catalog_abstains() -> None:
    kb = Knowledge.build([])
    assert len(kb) == 0
    ans = kb.search("健康证在哪办")
    assert not ans.answered and ans.matches == [] and ans.reason == "no_match"


def test_retired_item_ranks_below_current_one(kb: Knowledge) -> None:
    ids = [m.id for m in _top(kb, "饭店许可证怎么申请").matches]
    assert "demo-033" not in ids[:1]


def test_accuracy_on_labelled_questions(kb: Knowledge) -> None:
    rows = _jsonl(QUESTIONS)
    assert len(rows) >= 100 and sum(r["expect"] is None for r in rows) >= 25
    right, abstained = _score(kb, rows)
    assert right >= 0.93  # 94/98 = 0.959 with the intent patterns and the typo table (was 0.929)
    assert abstained >= 0.95


@pytest.mark.parametrize("question", ["宠物医院执业许可怎么办理", "驾校报名怎么办", "孩子上学怎么报名", "网吧几点关门"])
def test_abstains_when_the_subject_is_not_in_the_catalog(kb: Knowledge, question: str) -> None:
    assert not _top(kb, question).answered


def test_accuracy_on_held_out_catalog_and_questions() -> None:
    """A second district's catalog and citizen questions written before any tuning on them (bench_accuracy.py).

    Target 0.90 / 0.85. Reached 101/123 = 0.821 right item first (95/123 = 0.772 from general mechanisms
    alone, the rest from domain synonyms added after seeing the misses) and 38/38 abstentions; then 106/123 = 0.862
    with the one-character fallback, the guide-first and the topic-word rules (whose misses here were looked at, so
    no longer a true held-out set: see the fresh set below); then 110/123 = 0.894 with the absent-subject rule and a
    few colloquial words (卖药, 年保, 告, 摆地摊 -> 摊贩); then 115/123 = 0.935 and 38/38 with the question-intent
    patterns (intents.txt), the typo table (confusions.txt) and colloquial and everyday-context words. The bar below is the reached figure
    minus a small margin, not the target."""
    right, abstained = _scored_set("heldout", items=45, rows=120, unanswerable=35)
    assert right >= 0.90
    assert abstained >= 0.95


def test_accuracy_on_fresh_catalog_and_questions() -> None:
    """A third district's catalog (东湖区) and citizen questions (bench_accuracy.py fresh).

    Before the character fallback, guide-first and topic-word rules: 86/103 = 0.835 right item first and 27/34 = 0.794
    abstentions; after: 87/103 = 0.845 and 27/34 = 0.794. Its misses were then looked at to design the absent-subject
    rule (so it is no longer a held-out set; the fourth set below is): 88/103 = 0.854 and 32/34 = 0.941; then, with
    the intent patterns, typo table and colloquial words (designed on its misses too), 95/103 = 0.922 and 32/34. The bars
    below are the reached figures minus a small margin, not the target (0.90 / 0.85)."""
    right, abstained = _scored_set("fresh", items=45, rows=110, unanswerable=30)
    assert right >= 0.88
    assert abstained >= 0.91


def test_accuracy_on_fourth_catalog_and_questions() -> None:
    """A fourth district's catalog (南山区) and citizen questions, written before the absent-subject rule and the
    colloquial words it measures, and read only as totals and per-kind figures (bench_accuracy.py fourth -q), never
    its misses: the honest figure. Its unanswerable questions are of two kinds ("why"): off_domain (社保卡, 护照)
    and specifics_missing (a year, quarter, business or licence the catalog does not hold).

    Before: 73/88 = 0.830 right item first, 31/38 = 0.816 abstentions (off_domain 18/19, specifics_missing 13/19).
    After: 74/88 = 0.841 and 35/38 = 0.921 (18/19, 17/19). Target 0.90 / 0.85: abstention reached, answerable not.
    Its misses were then read to design the intent patterns, typo table and colloquial words (so it is no longer
    held out; the fifth set is): 83/88 = 0.943 and 35/38 = 0.921. The bars below are the reached figures minus a
    small margin, not the target."""
    right, abstained = _scored_set("fourth", items=45, rows=110, unanswerable=35, both_kinds=True)
    assert right >= 0.90
    assert abstained >= 0.89


def test_accuracy_on_fifth_catalog_and_questions() -> None:
    """A fifth district's catalog (西城区) and citizen questions, heavy on group-chat colloquial wording, written before
    the intent patterns (intents.txt), the typo table (confusions.txt) and the colloquial words they measure. It was
    read only as totals and per-kind figures until the sixth set was written; the month-range/intent/vocabulary work
    after that read its misses, so it is no longer held out: the sixth set is the honest one.

    Before: 70/87 = 0.805 right item first (colloquial 24/36, typo 6/8), 30/31 = 0.968 abstentions.
    After the intent/typo work: 75/87 = 0.862 (colloquial 27/36) and 30/31 = 0.968.
    After the month-range/colloquial work (tuned on its misses): 81/87 = 0.931 and 30/31 = 0.968."""
    right, abstained = _scored_set("fifth", items=45, rows=110, unanswerable=30, both_kinds=True)
    assert right >= 0.90
    assert abstained >= 0.93


def test_accuracy_on_sixth_catalog_and_questions() -> None:
    """A sixth district's catalog (江北区) and citizen questions (group-chat colloquial, typos, traditional, body-only,
    dates, complaints; 30 unanswerable), written before the month-range/colloquial work and read only as totals and
    per-kind figures (bench_accuracy.py sixth -q), never its misses: the honest figure.

    Before: 76/87 = 0.874 right item first (colloquial 34/40, body_only 13/14, synonym 6/8, complaint 4/6),
    20/30 = 0.667 abstentions (off_domain 14/15, specifics_missing 6/15).
    After: unchanged, 76/87 = 0.874 and 20/30 = 0.667. Target 0.90 / 0.85: neither reached; abstention on questions
    naming a specific shop, person or case the catalog's items also mention is the weak kind. Its unanswered misses
    were then read (so it is no longer held out) to design the particular-case rule (我的…批了没, 那家…老板叫什么):
    76/87 and 27/30 = 0.900, no other set changed. The seventh set's round brought it to 78/87 = 0.897 and
    28/30 = 0.933. The bars below are the reached figures minus a small margin, not the target."""
    right, abstained = _scored_set("sixth", items=40, rows=105, unanswerable=28, both_kinds=True)
    assert right >= 0.85
    assert abstained >= 0.86


def test_accuracy_on_seventh_catalog_and_questions() -> None:
    """A seventh district's catalog (临江区) and 120 citizen questions, written by someone who had not read the
    matcher, after all the tuning above, and read first only as totals and per-kind figures.

    First sight: 72/89 = 0.809 right item first (colloquial 28/40, synonym 6/9, traditional 4/5, complaint 5/6;
    body_only, date and typo all right), 24/31 = 0.774 abstentions (off_domain 15/15, specifics_missing 9/16).
    Its misses were then read (so it is no longer held out; the eighth set is) to design the particular-case rule's
    precedence over complaint routing, 被查出问题没-style case asks, the consumer-dispute intent (跑路, 强制消费,
    收了钱联系不上) and 注销/变更 synonyms: 76/89 = 0.854 and 26/31 = 0.839, no other set lower.
    The bars below are the first-sight figures minus a small margin."""
    right, abstained = _scored_set("seventh", items=45, rows=115, unanswerable=30, both_kinds=True)
    assert right >= 0.78
    assert abstained >= 0.74


def test_accuracy_on_eighth_catalog_and_questions() -> None:
    """An eighth district's catalog (白沙区) and 120 citizen questions, written by someone who had read neither the
    matcher nor the seventh set, and read only as totals and per-kind figures (bench_accuracy.py never prints its
    misses): the held-out figure for an unseen catalog.

    First sight, after the seventh set's round: 71/89 = 0.798 right item first (colloquial 25/40, synonym 7/9,
    body_only 13/14; date, typo, traditional and complaint all right), 28/31 = 0.903 abstentions (off_domain
    14/16, specifics_missing 14/15). Without that round: 71/89 and 27/31. Target 0.90 / 0.85: abstention
    reached, right item first not; colloquial questions are the gap. The bars are these figures minus a margin."""
    right, abstained = _scored_set("eighth", items=45, rows=115, unanswerable=30, both_kinds=True)
    assert right >= 0.77
    assert abstained >= 0.87


@pytest.mark.parametrize(("question", "answered"), [
    ("我家楼下药店的许可证号是多少", False),  # one case's record, not a published document
    ("我的小饭桌备案批了没", False),
    ("那家火锅店的检查结果出来没", False),
    ("我家想开个药店要什么证", True),  # 我家 alone is not a case: a how-to question
    ("我的健康证过期了怎么办", True),
    ("我上周投诉的那个单子处理到哪了", False),  # a case's status, even when the question names a complaint
    ("我家楼下那家奶茶店被查出问题没", False),
])
def test_particular_case_questions_are_not_answered_with_a_guide(kb: Knowledge, question: str,
                                                                  answered: bool) -> None:
    result = _top(kb, question)
    assert result.answered is answered
    assert answered or result.reason == "particular_case"


@pytest.mark.parametrize("question, expected", [
    ("想要你们的文件怎么申请", "demo-039"),  # a document request goes to the 依申请公开 guide
    ("没报年报会怎样", "demo-044"),
    ("公司年检怎么弄", "demo-044"),  # a company's 年检 is its annual report
])
def test_everyday_phrasing_reaches_its_document(kb: Knowledge, question: str, expected: str) -> None:
    ans = _top(kb, question)
    assert ans.answered and ans.matches[0].id == expected


def test_typed_for_characters_are_corrected_only_into_catalog_words() -> None:
    items = [{"id": "a", "title": "推进明厨亮灶建设", "category": "工作动态", "published": "2024-04-18", "url": "u",
              "keywords": ["明厨亮灶"], "body": "后厨公开。"},
             {"id": "b", "title": "餐饮量化分级结果公示", "category": "监督管理专项业务", "published": "2024-12-10",
              "url": "u", "keywords": ["量化分级"], "body": "量化分级。"}]
    kb = Knowledge.build(items)
    assert kb.search("明厨量灶是什么").matches[0].id == "a"  # 量 -> 亮 makes a catalog word
    assert kb.search("量化分极结果").matches[0].id == "b"  # 极 -> 级
    assert kb._corrected("需要保证金吗") == "需要保证金吗"  # no catalog word across it: left alone


def test_one_character_document_word_after_an_unknown_one_stays_whole() -> None:
    assert tokenize("狗证在哪办") == ["狗证"]
    assert "许可证" in tokenize("开奶茶店要办啥证")


_GUIDES = [{"id": "g1", "title": "仅销售预包装食品备案指南", "category": "办事指南", "published": "2024-01-02", "url": "u",
            "keywords": ["预包装食品", "备案"], "body": "仅销售预包装食品的，开业前备案，提交营业执照。"},
           {"id": "g2", "title": "食品经营许可证遗失补办指南", "category": "办事指南", "published": "2024-01-02",
            "url": "u", "keywords": ["遗失", "补办"], "body": "许可证遗失的，提交补办申请书及遗失声明。"},
           {"id": "g3", "title": "化妆品经营监督检查情况", "category": "工作动态", "published": "2024-03-02",
            "url": "u", "keywords": ["化妆品", "监督检查"], "body": "检查化妆品经营者进货查验记录。"}]


@pytest.mark.parametrize("question, answered", [
    ("化妆品备案怎么办理", False),  # the catalog knows 化妆品 and 备案, but no item holds both
    ("身份证丢了去哪补办", False),  # only process words (遗失, 补办) shared
    ("预包装食品备案怎么办", True),
    ("许可证丢了怎么补办", True),
])
def test_absent_subject_is_not_answered_by_a_neighbour(question: str, answered: bool) -> None:
    ans = Knowledge.build(_GUIDES).search(question)
    assert ans.answered is answered, ans.reason
    if not answered:
        assert ans.reason.startswith(("specifics_missing", "off_domain", "low_coverage", "foreign_subject"))


def test_fast_word_splitter_and_abbreviation_match_the_reference_ones() -> None:
    """The hot-path rewrites (speed work) must give exactly what jieba's lcut(HMM=False) and the CJK-range
    abbreviation regex give, on every catalog text and question of the labelled sets and some odd inputs."""
    import random

    from knowledge import items, text

    texts = [str(v) for path in [CATALOG, *ROOT.glob("tests/data/**/*.jsonl")] for row in _jsonl(path)
             for v in row.values()]
    rng = random.Random(7)
    odd = "abZ09+#&._%- \r\n，。！鿖鿿㐀的食品许可证ａ"
    texts += ["".join(rng.choice(odd) for _ in range(rng.randint(0, 20))) for _ in range(2000)]
    jieba = text._tokenizer()
    for t in texts:
        norm = normalize(t)
        want = [w for w in jieba.lcut(norm, HMM=False) if text._WORD.match(w)]
        assert [w for w in text._cut(norm) if text._WORD.match(w)] == want, norm
    for tok, hay in [("乡厨", "乡村厨师培训"), ("电动车", "电动自行车"), ("电动车", "电动a自行车"), ("乡厨", "乡\n厨"),
                     ("食证", "食品经营许可证"), ("a证", "a许可证"), ("许证", "许可\n证")]:
        for full in (False, True):
            pattern = items.abbreviation(tok)
            expected = (pattern.fullmatch(hay) if full else pattern.search(hay)) is not None
            assert items.abbreviated(tok, hay, full) == expected, (tok, hay, full)


def test_decisions_are_remembered_per_index_and_a_new_catalog_answers_afresh() -> None:
    from handlers import Context
    from handlers.enquiry import decide

    licence = {"id": "x1", "title": "药品经营许可证办理指南", "category": "办事指南", "published": "2013-03-01",
               "body": "申请药品经营许可证须提交以下材料。", "keywords": ["药品经营许可证"]}
    ctx = Context(knowledge=Knowledge.build([]), salt=b"k" * 32)
    first = decide(ctx, "药品经营许可证怎么办理")
    assert not first.answered
    assert decide(ctx, "药品经营许可证怎么办理") is first  # the same question, the same index: remembered
    ctx.use_catalog(Knowledge.build([licence]), [licence])
    second = decide(ctx, "药品经营许可证怎么办理")
    assert second.answered and second.matches[0]["id"] == "x1"
    assert json.loads(second.matches_json) == second.matches  # what the enquiry log stores
