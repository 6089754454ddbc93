"""The annual report's figures from the store: table 三 (收到和处理政府信息公开申请情况, 国办公开办函〔2021〕30号
format), and for part 二 (主动公开政府信息情况) the catalog items published in the year and in all, by category.

Table 三:
Counted over formal requests (staff confirmed receipt) by the applicant's type:
- 一 新收: received in the year;
- 二 上年结转: received before the year and not concluded before it began;
- 三 办理结果: concluded in the year, one row per outcome (DOMAIN.md §7 maps each code to its row);
- 四 结转下年度: received by the year's end and not concluded by then.
Each request counts once in 一 or 二 and once in 三 or 四, so the form's check (一 + 二 = 三（七）总计 + 四) holds.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlite_utils import Database

import clock
from disclosure.requests import APPLICANT_TYPES
from errors import InvalidInput
from knowledge import CATEGORIES
from knowledge.items import ENDED

__all__ = ["ROWS", "UNTYPED", "FORMAT_2021", "annual_table3", "proactive", "regulations"]

UNTYPED = "未登记类型"

# (row key, label, depth): a row key is an outcome code, a group of them, or one of the four counts.
_GROUPS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("disclosed", "（一）予以公开", []),
    ("partial", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", []),
    ("denied", "（三）不予公开", [("deny_state_secret", "1.属于国家秘密"), ("deny_law_forbids", "2.其他法律行政法规禁止公开"),
                           ("deny_three_security", "3.危及“三安全一稳定”"), ("deny_third_party", "4.保护第三方合法权益"),
                           ("deny_internal", "5.属于三类内部事务信息"), ("deny_process", "6.属于四类过程性信息"),
                           ("deny_case_file", "7.属于行政执法案卷"), ("deny_admin_query", "8.属于行政查询事项")]),
    ("unavailable", "（四）无法提供", [("none_not_held", "1.本机关不掌握相关政府信息"),
                                ("none_needs_creation", "2.没有现成信息需要另行制作"),
                                ("none_unclear", "3.补正后申请内容仍不明确")]),
    ("not_handled", "（五）不予处理", [("reject_petition", "1.信访举报投诉类申请"), ("reject_repeat", "2.重复申请"),
                                ("reject_publication", "3.要求提供公开出版物"), ("reject_excessive", "4.无正当理由大量反复申请"),
                                ("reject_confirm", "5.要求行政机关确认或重新出具已获取信息")]),
    ("other_handling", "（六）其他处理", [("other_no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
                                   ("other_no_fee", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
                                   ("other", "3.其他")]),
]
# Where an outcome code is counted when its group has no item rows of its own.
_GROUP_OF = {"already_public": "disclosed", "granted": "disclosed", "partial": "partial"}

ROWS: list[tuple[str, str, int]] = [("new", "一、本年新收政府信息公开申请数量", 0),
                                    ("carried_in", "二、上年结转政府信息公开申请数量", 0),
                                    ("results", "三、本年度办理结果", 0)]
for _key, _label, _items in _GROUPS:
    ROWS.append((_key, _label, 1))
    ROWS.extend((code, label, 2) for code, label in _items)
    _GROUP_OF.update((code, _key) for code, _ in _items)
ROWS += [("concluded", "（七）总计", 1), ("carried_out", "四、结转下年度继续办理", 0)]
_ITEM_ROWS = {code for _, _, items in _GROUPS for code, _ in items}
FORMAT_2021 = 2021  # 国办公开办函〔2021〕30号 from the 2021 report on: table 二 as produced here, （六） in three rows
_OTHER_ITEMS = {code for key, _, items in _GROUPS if key == "other_handling" for code, _ in items}


def annual_table3(db: Database, year: int, now: datetime | None = None) -> dict[str, Any]:
    """{year, as_of, complete (the year is over), columns, rows: [{key, label, depth, counts: {column: n}}], untyped: [numbers of requests without an
    applicant type, counted in their own column], summary: the year's enquiries and possible requests, for the
    report's 总体情况}."""
    first, last = _year(year)
    rows = db.execute("SELECT id, applicant_type, received_on, status, outcome, concluded_on FROM requests"
                      " WHERE received_on != '' AND received_on <= ? ORDER BY year, seq", [last]).fetchall()
    counts: dict[str, dict[str, int]] = {key: {} for key, _, _ in ROWS}
    untyped: list[str] = []

    def add(key: str, column: str) -> None:
        counts[key][column] = counts[key].get(column, 0) + 1

    for number, kind, received, status, outcome, concluded in rows:
        concluded = concluded if status == "answered" else ""
        if concluded and concluded < first:
            continue  # concluded in an earlier year: not in this year's table
        column = kind or UNTYPED
        if not kind:
            untyped.append(number)
        add("new" if received >= first else "carried_in", column)
        if concluded and concluded <= last:
            add("concluded", column)
            add(_GROUP_OF[outcome], column)
            if outcome in _ITEM_ROWS:
                add(outcome, column)
        else:
            add("carried_out", column)
    # Untyped requests come after 总计 (which counts them): the form's seven columns stay where the form has them.
    columns = [*APPLICANT_TYPES, "总计", *([UNTYPED] if untyped else [])]
    table = []
    for key, label, depth in ROWS:
        if year < FORMAT_2021 and key in _OTHER_ITEMS:
            continue  # the 2019 format (国办公开办函〔2019〕60号) has （六）其他处理 as one row
        line = {c: counts[key].get(c, 0) for c in columns if c != "总计"}
        line["总计"] = sum(line.values())
        table.append({"key": key, "label": label, "depth": depth,
                      "counts": {c: line[c] for c in columns} if key != "results" else {}})
    today = (now or clock.now()).astimezone(clock.TZ).date()
    return {"year": year, "as_of": min(today, date(year, 12, 31)).isoformat(), "complete": today.year > year,
            "columns": columns, "rows": table, "untyped": untyped, "summary": _summary(db, first, last)}


def proactive(db: Database, year: int) -> dict[str, Any]:
    """Part 二 as the 2013 report states it (本年主动公开 N 条，其中机构职能 a 条…；累计 M 条): catalog items by their
    publication date, in the year and up to its end, by category. Counted in neither: `undated` (the ids of items
    with no date: the report cannot place them) and `demo` (how many items are sample data)."""
    first, last = _year(year)
    in_year: dict[str, int] = {}
    in_all: dict[str, int] = {}
    undated: list[str] = []
    demo = 0
    for item_id, category, published, sample in db.execute("SELECT id, category, published, demo FROM catalog"
                                                           " ORDER BY id"):
        if sample:
            demo += 1
            continue
        if not published:
            undated.append(item_id)
            continue
        if published <= last:
            in_all[category] = in_all.get(category, 0) + 1
            if published >= first:
                in_year[category] = in_year.get(category, 0) + 1
    order = {c: i for i, c in enumerate(CATEGORIES)}

    def ordered(counts: dict[str, int]) -> dict[str, int]:
        return dict(sorted(counts.items(), key=lambda kv: order.get(kv[0], len(order))))

    return {"year": year, "published": sum(in_year.values()), "by_category": ordered(in_year),
            "total": sum(in_all.values()), "total_by_category": ordered(in_all), "undated": undated, "demo": demo}


def regulations(db: Database, year: int, publishers: tuple[str, ...], now: datetime | None = None) -> dict[str, Any]:
    """Table 二's 第二十条第（一）项 row for 行政规范性文件: the catalog's 规范性文件 published by this bureau
    (`publishers`, its names in 发布机构), made in the year, repealed in it, and in force at its end. The catalog
    also holds laws and rules the bureau only republishes: those are not its own.

    `unknown_repeal`: items whose 有效性 says 废止/失效 but that have no 废止日期. They count in no year's repeals;
    they are in force at the end of past years (staff mark an item when it is repealed, so a past report does
    not change when they do) and not from this year on. `others`: the 发布机构 of 规范性文件 that are not ours,
    so that a `publisher` spelled differently from the catalog shows."""
    first, last = _year(year)
    this_year = (now or clock.now()).astimezone(clock.TZ).year
    made = repealed = in_force = 0
    unknown: list[str] = []
    marks = ", ".join("?" * len(publishers)) or "''"
    for item_id, published, gone, validity in db.execute(
            f"SELECT id, published, repealed, validity FROM catalog WHERE category = '规范性文件' AND demo = 0"
            f" AND publisher IN ({marks}) ORDER BY id", list(publishers)):
        undated = not gone and validity.strip() in ENDED
        if undated:
            unknown.append(item_id)
        ended = gone <= last if gone else undated and year >= this_year
        made += int(bool(published) and first <= published <= last)
        repealed += int(bool(gone) and first <= gone <= last)
        in_force += int(bool(published) and published <= last and not ended)
    others = [row[0] for row in db.execute(
        f"SELECT DISTINCT publisher FROM catalog WHERE category = '规范性文件' AND demo = 0 AND publisher != ''"
        f" AND publisher NOT IN ({marks}) ORDER BY publisher", list(publishers))]
    return {"made": made, "repealed": repealed, "in_force": in_force, "unknown_repeal": unknown, "others": others}


def _year(year: int) -> tuple[str, str]:
    if not 2008 <= year <= 2100:
        raise InvalidInput(f"年份应在 2008 到 2100 之间: {year}")
    return date(year, 1, 1).isoformat(), date(year, 12, 31).isoformat()


def _summary(db: Database, first: str, last: str) -> dict[str, int]:
    """The year in the chats: messages, questions, those answered from the catalog, complaints passed on, and
    possible requests opened and made formal."""
    until = f"{last}T24"  # `at` and `created_at` are ISO texts with a time: the whole last day compares below this
    messages, questions, answered, complaints = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(kind = 'enquiry'), 0), COALESCE(SUM(kind = 'enquiry' AND answered), 0),"
        " COALESCE(SUM(kind = 'complaint'), 0) FROM enquiries WHERE at >= ? AND at < ?", [first, until]).fetchone()
    opened, formal = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(received_on != ''), 0) FROM requests WHERE created_at >= ? AND created_at < ?",
        [first, until]).fetchone()
    return {"messages": messages, "questions": questions, "answered": answered, "complaints": complaints,
            "possible_requests": opened, "made_formal": formal}
