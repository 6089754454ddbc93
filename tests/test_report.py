"""The annual report's table 三 from the store: which year and row each formal request is counted in."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

import clock
from disclosure import report
from disclosure import requests as service
from disclosure.workdays import load_calendar
from errors import InvalidInput
from store import insert_row, open_db


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_db(tmp_path / "report.db")
    yield database
    database.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=clock.TZ)


def formal(db: Database, question: str, received: str, applicant: str = "") -> str:
    request, _ = service.open_possible_request(db, question, question, "webhook", "b", "c", now=at(f"{received}T09:00"))
    number = request["id"]
    service.accept_request(db, number, date.fromisoformat(received), "张三", load_calendar(db),
                           now=at(f"{received}T10:00"), applicant_type=applicant)
    return number


def answer(db: Database, number: str, outcome: str, on: str) -> None:
    service.answer_request(db, number, outcome, "张三", on=date.fromisoformat(on), now=at(f"{on}T17:00"))


def counts(table: dict, key: str) -> dict[str, int]:
    """One row's non-zero cells."""
    row = next(r for r in table["rows"] if r["key"] == key)
    return {column: n for column, n in row["counts"].items() if n}


def test_each_request_counts_in_the_year_it_was_received_and_the_year_it_was_concluded(db: Database) -> None:
    carried = formal(db, "2025年底收到", "2025-12-02", "自然人")
    answer(db, carried, "granted", "2026-01-05")
    earlier = formal(db, "2025年办结", "2025-11-03", "科研机构")
    answer(db, earlier, "none_not_held", "2025-11-20")
    denied = formal(db, "涉及企业秘密", "2026-03-02", "商业企业")
    answer(db, denied, "deny_third_party", "2026-03-20")
    no_correction = formal(db, "不补正", "2026-05-06", "法律服务机构")
    service.ask_correction(db, no_correction, "张三", "补充信息名称", load_calendar(db), date(2026, 5, 8),
                           now=at("2026-05-08T10:00"))
    answer(db, no_correction, "other_no_correction", "2026-06-10")
    open_one = formal(db, "年底未办结", "2026-11-02")  # no applicant type recorded
    service.open_possible_request(db, "只是线索", "s", "webhook", "b", "c", now=at("2026-07-01T09:00"))

    table = report.annual_table3(db, 2026)
    # The form's seven columns first, so the table pastes into it; the untyped requests after 总计, which counts them.
    assert table["columns"] == ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计", report.UNTYPED]
    assert table["untyped"] == [open_one]
    assert counts(table, "new") == {"商业企业": 1, "法律服务机构": 1, report.UNTYPED: 1, "总计": 3}
    assert counts(table, "carried_in") == {"自然人": 1, "总计": 1}  # received 2025, answered 2026
    assert counts(table, "disclosed") == {"自然人": 1, "总计": 1}
    assert counts(table, "denied") == counts(table, "deny_third_party") == {"商业企业": 1, "总计": 1}
    assert counts(table, "other_handling") == counts(table, "other_no_correction") == {"法律服务机构": 1, "总计": 1}
    assert counts(table, "concluded") == {"自然人": 1, "商业企业": 1, "法律服务机构": 1, "总计": 3}
    assert counts(table, "carried_out") == {report.UNTYPED: 1, "总计": 1}
    assert counts(table, "results") == {}  # a heading
    assert table["summary"]["possible_requests"] == 4 and table["summary"]["made_formal"] == 3

    last_year = report.annual_table3(db, 2025)
    assert report.UNTYPED not in last_year["columns"] and last_year["untyped"] == []
    assert counts(last_year, "new") == {"自然人": 1, "科研机构": 1, "总计": 2}
    assert counts(last_year, "unavailable") == counts(last_year, "none_not_held") == {"科研机构": 1, "总计": 1}
    assert counts(last_year, "carried_out") == {"自然人": 1, "总计": 1}


def test_every_outcome_code_has_its_row(db: Database) -> None:
    calendar = load_calendar(db)
    for i, code in enumerate(service.OUTCOMES):
        number = formal(db, f"问题{i}", "2026-03-02", "其他")
        if code in ("other_no_correction", "none_unclear"):
            service.ask_correction(db, number, "张三", "补充", calendar, date(2026, 3, 3), now=at("2026-03-03T10:00"),
                                   within=5)
        if code == "none_unclear":
            service.record_correction(db, number, date(2026, 3, 4), "张三", calendar, now=at("2026-03-04T10:00"))
        answer(db, number, code, "2026-03-20")
    table = report.annual_table3(db, 2026)
    outcomes = len(service.OUTCOMES)
    assert counts(table, "concluded") == {"其他": outcomes, "总计": outcomes}
    groups = ("disclosed", "partial", "denied", "unavailable", "not_handled", "other_handling")
    assert sum(counts(table, g).get("总计", 0) for g in groups) == outcomes
    items = [key for key, _, depth in report.ROWS if depth == 2]
    assert all(counts(table, key) == {"其他": 1, "总计": 1} for key in items)
    assert counts(table, "disclosed")["总计"] == 2  # already_public and granted share row （一）


def test_the_summary_counts_the_years_chats(db: Database) -> None:
    row = {"channel": "webhook", "bot": "b", "chat": "c", "sender": "", "matches": "[]", "request_id": "", "reply": ""}
    for n, (when, kind, answered) in enumerate([("2026-01-01T00:00:00+08:00", "enquiry", 1),
                                                ("2026-12-31T23:59:59+08:00", "enquiry", 0),
                                                ("2026-06-01T10:00:00+08:00", "complaint", 0),
                                                ("2026-06-01T10:01:00+08:00", "command", 0),
                                                ("2025-12-31T23:59:59+08:00", "enquiry", 1),
                                                ("2027-01-01T00:00:00+08:00", "enquiry", 1)]):
        insert_row(db, "enquiries", {**row, "event_id": f"e{n}", "at": when, "question": "问", "kind": kind,
                                     "answered": answered})
    summary = report.annual_table3(db, 2026)["summary"]
    assert (summary["messages"], summary["questions"], summary["answered"], summary["complaints"]) == (4, 2, 1, 1)


def test_a_year_outside_the_calendar_is_refused(db: Database) -> None:
    with pytest.raises(InvalidInput, match="年份应在 2008 到 2100 之间"):
        report.annual_table3(db, 1999)


def test_cli_prints_a_table_to_paste_and_warns_of_untyped_requests(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import bot

    monkeypatch.delenv("GONGKAI_DB", raising=False)
    monkeypatch.delenv("GONGKAI_CONFIG", raising=False)
    path = str(tmp_path / "cli.db")
    today = clock.now().date()
    for question in ("驾照怎么换证", "某厂的检验报告原件"):
        assert bot.main(["--db", path, "ask", question]) == 0
    capsys.readouterr()
    numbers = [f"{today.year}-0001", f"{today.year}-0002"]
    assert bot.main(["--db", path, "requests", "accept", numbers[0], "--received", today.isoformat(), "--by", "张三",
                     "--applicant", "自然人"]) == 0
    assert bot.main(["--db", path, "requests", "accept", numbers[1], "--received", today.isoformat(),
                     "--by", "张三"]) == 0
    capsys.readouterr()
    assert bot.main(["--db", path, "report", "annual", str(today.year)]) == 0
    out, err = capsys.readouterr()
    assert "一、本年新收政府信息公开申请数量\t1\t0\t0\t0\t0\t0\t2\t1" in out.splitlines()
    assert f"（截至 {today.isoformat()}，本年度尚未结束）" in out.splitlines()[0]
    assert numbers[1] in err and numbers[0] not in err and "requests applicant" in err
    assert bot.main(["--db", path, "report", "annual", str(today.year), "--json"]) == 0
    assert json.loads(capsys.readouterr()[0])["untyped"] == [numbers[1]]
    assert bot.main(["--db", path, "report", "annual", "1999"]) == 1
    assert "年份应在" in capsys.readouterr()[1]


def test_a_request_handed_in_is_registered_on_its_real_receipt_date(db: Database) -> None:
    """Last December's letters, entered in January, count in last year's table."""
    calendar = load_calendar(db)
    letter = service.register_request(db, "2025年某药店的检查记录", date(2025, 12, 29), "张三", calendar, via="邮寄",
                                      now=at("2026-01-06T10:00"), applicant_type="自然人")
    assert (letter["status"], letter["received_on"], letter["channel"]) == ("accepted", "2025-12-29", "邮寄")
    assert counts(report.annual_table3(db, 2025, now=at("2026-01-06T10:00")), "new") == {"自然人": 1, "总计": 1}
    with pytest.raises(InvalidInput, match="未知提交渠道"):
        service.register_request(db, "问题", date(2026, 1, 5), "张三", calendar, via="微信", now=at("2026-01-06T10:00"))
    with pytest.raises(InvalidInput, match="须写明申请公开的信息"):
        service.register_request(db, " ", date(2026, 1, 5), "张三", calendar, now=at("2026-01-06T10:00"))
    with pytest.raises(InvalidInput, match="晚于今天"):
        service.register_request(db, "问题", date(2026, 1, 7), "张三", calendar, now=at("2026-01-06T10:00"))
    assert db["requests"].count == 1  # the refused ones left nothing behind


def test_a_past_year_is_complete_and_this_one_is_as_of_today(db: Database) -> None:
    done = report.annual_table3(db, 2025, now=at("2026-01-06T10:00"))
    running = report.annual_table3(db, 2026, now=at("2026-01-06T10:00"))
    assert (done["complete"], done["as_of"]) == (True, "2025-12-31")
    assert (running["complete"], running["as_of"]) == (False, "2026-01-06")


def test_part_two_counts_catalog_items_by_publication_date_and_category(tmp_path: Path, db: Database,
                                                                         capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import bot
    from knowledge.catalog import import_file

    items = [("a", "机构职能", "2025-06-01"), ("b", "预警信息", "2026-01-01"), ("c", "预警信息", "2026-12-31"),
             ("d", "规范性文件", "2026-03-15"), ("e", "办事指南", "2027-01-01"), ("f", "其它信息", "")]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "title": f"标题{i}", "category": c, "published": p,
                                          "body": "正文"}, ensure_ascii=False) for i, c, p in items), encoding="utf-8")
    import_file(db, str(path))
    counts = report.proactive(db, 2026)
    assert (counts["published"], counts["total"], counts["undated"], counts["demo"]) == (3, 4, ["f"], 0)
    assert list(counts["by_category"].items()) == [("规范性文件", 1), ("预警信息", 2)]  # the catalog's order
    assert counts["total_by_category"] == {"机构职能": 1, "规范性文件": 1, "预警信息": 2}
    monkeypatch.delenv("GONGKAI_DB", raising=False)
    monkeypatch.delenv("GONGKAI_CONFIG", raising=False)
    db.close()
    assert bot.main(["--db", str(tmp_path / "report.db"), "report", "annual", "2026"]) == 0
    out, err = capsys.readouterr()
    assert "本年主动公开政府信息 3 条，其中规范性文件 1 条，预警信息 2 条。" in out
    assert "截至本年底累计主动公开 4 条，其中机构职能 1 条，规范性文件 1 条，预警信息 2 条。" in out
    assert "1 条没有发布日期，未计入主动公开条数：f。" in err


def test_part_two_leaves_the_demo_catalog_out(db: Database) -> None:
    from knowledge.catalog import seed_demo

    ROOT = Path(__file__).resolve().parent.parent
    seeded = seed_demo(db, str(ROOT / "knowledge" / "data" / "demo_catalog.jsonl"))
    counts = report.proactive(db, 2013)
    assert seeded > 0 and counts["demo"] == seeded and counts["published"] == counts["total"] == 0


def test_appeals_are_recorded_in_order(db: Database) -> None:
    from disclosure import appeals
    from errors import NotFound

    number = formal(db, "某企业的检查记录", "2026-03-02", "自然人")
    answer(db, number, "deny_third_party", "2026-03-20")
    now = at("2026-11-27T10:00")
    with pytest.raises(InvalidInput, match="没有已作出决定的复议"):
        appeals.file_appeal(db, number, "复议后诉讼", date(2026, 4, 1), "张三", now=now)
    with pytest.raises(InvalidInput, match="提起日 2026-03-01 早于收到日 2026-03-02"):
        appeals.file_appeal(db, number, "复议", date(2026, 3, 1), "张三", now=now)
    appeals.file_appeal(db, number, "复议", date(2026, 4, 10), "张三", now=now)
    with pytest.raises(InvalidInput, match="已登记过复议"):
        appeals.file_appeal(db, number, "复议", date(2026, 4, 11), "张三", now=now)
    with pytest.raises(InvalidInput, match="类型为“复议后诉讼”"):  # a lawsuit after reconsideration is not direct
        appeals.file_appeal(db, number, "诉讼", date(2026, 4, 11), "张三", now=now)
    with pytest.raises(InvalidInput, match="审结日 2026-04-09 早于提起日 2026-04-10"):
        appeals.decide_appeal(db, number, "复议", "纠正", date(2026, 4, 9), "李四", now=now)
    with pytest.raises(NotFound, match="没有登记诉讼"):
        appeals.decide_appeal(db, number, "诉讼", "维持", date(2026, 6, 1), "李四", now=now)
    appeals.decide_appeal(db, number, "复议", "纠正", date(2026, 6, 1), "李四", now=now)
    with pytest.raises(InvalidInput, match="已于 2026-06-01 审结"):
        appeals.decide_appeal(db, number, "复议", "维持", date(2026, 6, 2), "李四", now=now)
    with pytest.raises(InvalidInput, match="提起日 2026-05-30 早于复议决定日 2026-06-01"):
        appeals.file_appeal(db, number, "复议后诉讼", date(2026, 5, 30), "张三", now=now)
    appeals.file_appeal(db, number, "复议后诉讼", date(2026, 6, 10), "张三", now=now)
    assert [(c["kind"], c["result"]) for c in appeals.appeals_of(db, number)] == [("复议", "纠正"), ("复议后诉讼", "")]
    with pytest.raises(InvalidInput, match="先撤销它，再撤销复议"):
        appeals.remove_appeal(db, number, "复议", "张三", "录错了", now=now)
    with pytest.raises(InvalidInput, match="须写明理由"):
        appeals.remove_appeal(db, number, "复议后诉讼", "张三", " ", now=now)
    appeals.remove_appeal(db, number, "复议后诉讼", "张三", "提起日录错", now=now)
    assert [c["kind"] for c in appeals.appeals_of(db, number)] == ["复议"]
    assert "张三 撤销登记的复议后诉讼（2026-06-10 提起）；提起日录错" in service.history(db, number)[-1]["note"]
    appeals.file_appeal(db, number, "复议后诉讼", date(2026, 6, 12), "张三", now=now)
    lead, _ = service.open_possible_request(db, "只是线索", "s", "webhook", "b", "c", now=now)
    with pytest.raises(InvalidInput, match="不能执行此操作"):
        appeals.file_appeal(db, lead["id"], "复议", date(2026, 11, 27), "张三", now=now)


def test_table_four_counts_the_cases_open_in_the_year_by_result(db: Database) -> None:
    from disclosure import appeals

    now = at("2026-11-27T10:00")
    crossing = formal(db, "跨年的复议", "2025-11-03")
    appeals.file_appeal(db, crossing, "复议", date(2025, 12, 15), "张三", now=now)
    appeals.decide_appeal(db, crossing, "复议", "维持", date(2026, 2, 10), "李四", now=now)
    direct = formal(db, "直接起诉", "2026-03-02")
    appeals.file_appeal(db, direct, "诉讼", date(2026, 5, 6), "张三", now=now)
    withdrawn = formal(db, "撤回的诉讼", "2026-03-02")
    appeals.file_appeal(db, withdrawn, "诉讼", date(2026, 5, 6), "张三", now=now)
    appeals.decide_appeal(db, withdrawn, "诉讼", "其他", date(2026, 8, 3), "李四", now=now)
    earlier = formal(db, "2025年审结", "2025-03-03")
    appeals.file_appeal(db, earlier, "复议", date(2025, 4, 1), "张三", now=now)
    appeals.decide_appeal(db, earlier, "复议", "纠正", date(2025, 6, 1), "李四", now=now)

    last_year, this_year = appeals.annual_table4(db, 2025), appeals.annual_table4(db, 2026)
    assert last_year["复议"] == {"结果维持": 0, "结果纠正": 1, "其他结果": 0, "尚未审结": 1, "总计": 2}
    assert this_year["复议"] == {"结果维持": 1, "结果纠正": 0, "其他结果": 0, "尚未审结": 0, "总计": 1}
    assert this_year["诉讼"] == {"结果维持": 0, "结果纠正": 0, "其他结果": 1, "尚未审结": 1, "总计": 2}
    assert this_year["复议后诉讼"]["总计"] == 0


def test_cli_records_an_appeal_and_prints_table_four(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import bot

    monkeypatch.delenv("GONGKAI_DB", raising=False)
    monkeypatch.delenv("GONGKAI_CONFIG", raising=False)
    base = ["--db", str(tmp_path / "cli.db")]
    year = clock.now().year
    day = f"{year}-01-05"
    assert bot.main([*base, "requests", "new", "--question", "问题", "--received", day, "--by", "张三"]) == 0
    number = f"{year}-0001"
    assert bot.main([*base, "requests", "appeal", number, "--kind", "复议", "--filed", day, "--by", "张三"]) == 0
    assert bot.main([*base, "requests", "appeal-result", number, "--kind", "复议", "--result", "维持",
                     "--decided", day, "--by", "李四"]) == 0
    capsys.readouterr()
    assert bot.main([*base, "requests", "show", number]) == 0
    assert f"复议：{day} 提起，{day} 审结（维持）" in capsys.readouterr()[0]
    assert bot.main([*base, "report", "annual", str(year)]) == 0
    lines = capsys.readouterr()[0].splitlines()
    at_four = next(i for i, line in enumerate(lines) if "四、政府信息公开行政复议、行政诉讼情况" in line)
    assert lines[at_four + 1].split("\t")[0] == "行政复议" and lines[at_four + 1].split("\t")[5] == "行政诉讼"
    assert lines[at_four + 2].split("\t")[5] == "未经复议直接起诉" and lines[at_four + 2].split("\t")[10] == "复议后起诉"
    assert lines[at_four + 4].split("\t") == ["1", "0", "0", "0", "1", *["0"] * 10]


def test_reports_before_2021_keep_other_handling_in_one_row(db: Database) -> None:
    number = formal(db, "不补正", "2020-05-06", "自然人")
    service.ask_correction(db, number, "张三", "补充信息名称", load_calendar(db), date(2020, 5, 8),
                           now=at("2020-05-08T10:00"))
    answer(db, number, "other_no_correction", "2020-06-10")
    old = {row["key"]: row for row in report.annual_table3(db, 2020)["rows"]}
    assert old["other_handling"]["counts"]["总计"] == 1 and "other_no_correction" not in old
    assert "other_no_correction" in {row["key"] for row in report.annual_table3(db, 2021)["rows"]}


def test_table_two_is_left_out_before_2021(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import bot

    monkeypatch.delenv("GONGKAI_DB", raising=False)
    monkeypatch.delenv("GONGKAI_CONFIG", raising=False)
    assert bot.main(["--db", str(tmp_path / "r.db"), "report", "annual", "2020"]) == 0
    out, err = capsys.readouterr()
    assert "2020 年度的表二不是 2021 年格式" in out and "第二十条第（一）项" not in out and "publisher" not in err


def test_table_two_counts_the_bureaus_own_normative_documents(tmp_path: Path, db: Database,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import bot
    from knowledge.catalog import import_file

    ours, theirs = "某区食品药品监督管理分局", "国家药品监督管理局"
    rows = [  # id, publisher, published, repealed, validity
        ("made-2026", ours, "2026-04-01", "", "有效"),
        ("made-2025", ours, "2025-04-01", "", "有效"),
        ("gone-2026", ours, "2024-01-01", "2026-06-30", "已废止"),
        ("gone-2027", ours, "2024-01-01", "2027-01-15", "已废止"),  # still in force on 2026-12-31
        ("gone-undated", ours, "2023-01-01", "", "已废止"),
        ("national", theirs, "2026-02-01", "", "有效"),  # republished, not made here
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "title": i, "category": "规范性文件", "publisher": p,
                                          "published": d, "repealed": r, "validity": v}, ensure_ascii=False)
                              for i, p, d, r, v in rows), encoding="utf-8")
    import_file(db, str(path))
    now = at("2026-11-27T10:00")
    counts = report.regulations(db, 2026, (ours,), now)
    assert counts == {"made": 1, "repealed": 1, "in_force": 3, "unknown_repeal": ["gone-undated"],
                      "others": [theirs]}
    # Marked 已废止 without a date: in force at the end of past years, so last year's report does not change.
    assert report.regulations(db, 2025, (ours,), now)["in_force"] == 4
    assert report.regulations(db, 2026, (), now)["made"] == 0  # nothing is ours until the config says who we are
    db.close()
    monkeypatch.delenv("GONGKAI_DB", raising=False)
    monkeypatch.delenv("GONGKAI_CONFIG", raising=False)
    config = tmp_path / "c.toml"
    config.write_text(f'[report]\npublisher = ["{ours}"]\n', encoding="utf-8")
    assert bot.main(["--config", str(config), "--db", str(tmp_path / "report.db"), "report", "annual", "2026"]) == 0
    out, err = capsys.readouterr()
    assert any(line.startswith("行政规范性文件\t1\t1\t") for line in out.splitlines())
    assert "规章\t0\t0\t0" in out.splitlines()
    assert "行政许可\t（请按行政审批系统填写）" in out.splitlines()
    assert "gone-undated 标为废止或失效但没有废止日期" in err
    assert bot.main(["--db", str(tmp_path / "report.db"), "report", "annual", "2026"]) == 0
    out, err = capsys.readouterr()
    assert "行政规范性文件\t（未设置 [report] publisher）" in out and "未设置 [report] publisher" in err


def test_an_import_refuses_a_repeal_before_publication(tmp_path: Path, db: Database) -> None:
    from knowledge.catalog import import_file
    from errors import ImportRowError

    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"id": "x", "title": "x", "category": "规范性文件", "published": "2026-03-01",
                                "repealed": "2026-02-01"}), encoding="utf-8")
    with pytest.raises(ImportRowError, match="废止日期 2026-02-01 早于发布日期 2026-03-01"):
        import_file(db, str(path))


def test_table_two_reads_whole_validity_values_and_warns_of_an_unknown_publisher(
        tmp_path: Path, db: Database, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import bot
    from knowledge.catalog import import_file

    ours = "某区食品药品监督管理分局"
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "title": i, "category": "规范性文件", "publisher": ours,
                                          "published": "2024-03-01", "validity": v}, ensure_ascii=False)
                              for i, v in (("a", "未废止"), ("b", "部分失效"), ("c", "有效"))), encoding="utf-8")
    import_file(db, str(path))
    counts = report.regulations(db, 2026, (ours,), at("2026-11-27T10:00"))
    assert (counts["in_force"], counts["unknown_repeal"]) == (3, [])  # 未废止 and 部分失效 are in force
    db.close()
    monkeypatch.delenv("GONGKAI_DB", raising=False)
    monkeypatch.delenv("GONGKAI_CONFIG", raising=False)
    config = tmp_path / "c.toml"
    config.write_text(f'[report]\npublisher = "{ours}、某区市场监督管理局"\n', encoding="utf-8")  # two names, one string
    assert bot.main(["--config", str(config), "--db", str(tmp_path / "report.db"), "report", "annual", "2026"]) == 0
    err = capsys.readouterr()[1]
    assert f"目录中的发布机构有：{ours}。请核对 [report] publisher" in err
