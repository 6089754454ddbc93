"""Possible and formal disclosure requests: numbering, same-question dedupe, statutory dates, states."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

import clock
from disclosure import requests as service
from disclosure.workdays import load_calendar
from errors import InvalidInput, NotFound
from handlers import texts
from store import open_db


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_db(tmp_path / "r.db")
    yield database
    database.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=clock.TZ)


def open_one(db: Database, question: str, sender: str = "s1", when: str = "2026-02-10T10:00") -> dict:
    request, _ = service.open_possible_request(db, question, sender, "webhook", "b", "c", now=at(when))
    return request


def test_numbers_count_per_year(db: Database) -> None:
    assert open_one(db, "问题一", when="2025-12-31T23:00")["id"] == "2025-0001"
    assert open_one(db, "问题二", when="2026-01-01T08:00")["id"] == "2026-0001"
    assert open_one(db, "问题三", when="2026-01-02T08:00")["id"] == "2026-0002"


def test_same_sender_same_question_within_a_day_keeps_its_number(db: Database) -> None:
    first = open_one(db, "驾照怎么换证", when="2026-02-10T10:00")
    again, repeated = service.open_possible_request(db, "驾照 怎么换证？", "s1", "webhook", "b", "c",
                                                    now=at("2026-02-11T09:59"))
    assert repeated and again["id"] == first["id"]
    other = open_one(db, "驾照怎么换证", sender="s2", when="2026-02-10T11:00")
    later = open_one(db, "驾照怎么换证", when="2026-02-11T10:01")
    assert len({first["id"], other["id"], later["id"]}) == 3


def test_accept_starts_the_statutory_clock_in_working_days(db: Database) -> None:
    number = open_one(db, "2014年抽检原始记录")["id"]
    accepted = service.accept_request(db, number, date(2026, 2, 10), "张三", load_calendar(db), now=at("2026-02-10T15:00"))
    assert (accepted["status"], accepted["received_on"], accepted["reply_due"]) == ("accepted", "2026-02-10", "2026-03-16")
    assert accepted["due_estimated"] == 0
    old = open_one(db, "旧申请", sender="s3", when="2019-05-10T09:00")["id"]  # under the 2008 text: 15 working days
    assert service.accept_request(db, old, date(2019, 5, 10), "张三", load_calendar(db))["reply_due"] == "2019-05-31"


def test_an_extension_adds_20_working_days_once_with_a_reason(db: Database) -> None:
    """条例 art.33: extended once, counted from the first due date, the reason on record; not overdue meanwhile."""
    number = open_one(db, "2014年抽检原始记录")["id"]
    with pytest.raises(InvalidInput, match="当前为“已登记，待工作人员甄别”"):
        service.extend_request(db, number, "张三", "需征求第三方意见", load_calendar(db))
    service.accept_request(db, number, date(2026, 2, 10), "张三", load_calendar(db), now=at("2026-02-10T15:00"))
    with pytest.raises(InvalidInput, match="延期须写明理由"):
        service.extend_request(db, number, "张三", " ", load_calendar(db))
    with pytest.raises(InvalidInput, match="答复期限 2026-03-16 已过：延期须在答复期限内决定"):
        service.extend_request(db, number, "张三", "需征求第三方意见", load_calendar(db), now=at("2026-03-17T09:00"))
    extended = service.extend_request(db, number, "张三", "需征求第三方意见", load_calendar(db),
                                      now=at("2026-03-16T17:00"))  # the last day of the period still counts
    assert (extended["reply_due"], extended["extended"]) == ("2026-04-14", 1)
    assert extended["note"] == "张三 延长答复期限至 2026-04-14；需征求第三方意见"
    assert service.get_request(db, number, date(2026, 3, 20))["overdue"] is False  # past the first date, in time
    with pytest.raises(InvalidInput, match="已延期过一次"):
        service.extend_request(db, number, "李四", "再延一次", load_calendar(db))
    assert service.recompute_due_dates(db, load_calendar(db)) == 0  # a calendar change keeps the extension
    assert "答复期限：2026-04-14（已依法延期）" in texts.request_status(service.get_request(db, number), own=True)


def test_overdue_only_after_the_due_day_while_open(db: Database) -> None:
    number = open_one(db, "问题")["id"]
    service.accept_request(db, number, date(2026, 2, 10), "张三", load_calendar(db))
    assert service.get_request(db, number, date(2026, 3, 16))["overdue"] is False
    assert service.get_request(db, number, date(2026, 3, 17))["overdue"] is True
    assert [r["id"] for r in service.list_requests(db, today=date(2026, 3, 17), overdue=True)] == [number]
    assert service.list_requests(db, today=date(2026, 3, 16), overdue=True) == []
    service.answer_request(db, number, "granted", "张三")
    assert service.get_request(db, number, date(2026, 3, 17))["overdue"] is False


def test_states_and_their_guards(db: Database) -> None:
    number = open_one(db, "问题")["id"]
    with pytest.raises(InvalidInput, match="不能执行"):
        service.answer_request(db, number, "granted", "张三")  # not accepted yet
    with pytest.raises(InvalidInput, match="理由"):
        service.close_request(db, number, "张三", "  ")
    closed = service.close_request(db, number, "张三", "属于咨询，已电话答复")
    assert closed["status"] == "closed" and "电话答复" in closed["note"]
    with pytest.raises(InvalidInput, match="未知结果代码"):
        service.answer_request(db, open_accepted(db), "made_up", "张三")
    assert [e["request_id"] for e in db["request_events"].rows].count(number) == 1
    with pytest.raises(NotFound):
        service.get_request(db, "2026-9999")
    with pytest.raises(InvalidInput, match="未知状态"):
        service.list_requests(db, "lost")


def open_accepted(db: Database) -> str:
    number = open_one(db, "另一个问题", sender="s9")["id"]
    service.accept_request(db, number, date(2026, 2, 10), "张三", load_calendar(db))
    return number


def test_accept_refuses_a_receipt_after_today_or_before_the_regulation(db: Database) -> None:
    number = open_one(db, "问题")["id"]
    with pytest.raises(InvalidInput, match="收到日 2026-02-11 晚于今天 2026-02-10"):
        service.accept_request(db, number, date(2026, 2, 11), "张三", load_calendar(db), now=at("2026-02-10T23:59"))
    with pytest.raises(InvalidInput, match="收到日 9999-12-31"):  # was OverflowError in the calendar
        service.accept_request(db, number, date(9999, 12, 31), "张三", load_calendar(db), now=at("2026-02-10T10:00"))
    with pytest.raises(InvalidInput, match="2008-05-01"):  # no statutory deadline before the 2008 条例
        service.accept_request(db, number, date(1949, 1, 3), "张三", load_calendar(db))
    with pytest.raises(InvalidInput, match="早于该线索的登记日 2026-02-10"):  # 02-01 typed for 12-01: overdue at once
        service.accept_request(db, number, date(2026, 2, 1), "张三", load_calendar(db), now=at("2026-02-10T10:00"))
    assert service.get_request(db, number)["status"] == "pending"


def test_notes_keep_who_as_well_as_the_note(db: Database) -> None:
    number = open_one(db, "问题")["id"]
    accepted = service.accept_request(db, number, date(2026, 2, 10), " 张三 ", load_calendar(db), "电话核实")
    assert accepted["note"] == "张三 确认收到申请；电话核实"
    answered = service.answer_request(db, number, "granted", "李四", "已邮寄")
    assert answered["note"] == "李四：予以公开；已邮寄"
    notes = [json.loads(e["change"])["note"] for e in db["request_events"].rows_where("request_id = ?", [number])]
    assert notes == ["张三 确认收到申请；电话核实", "李四：予以公开；已邮寄"]


@pytest.mark.parametrize("by", ["", "  "])
def test_a_blank_staff_name_is_refused(db: Database, by: str) -> None:
    number = open_one(db, "问题")["id"]
    with pytest.raises(InvalidInput, match="--by"):
        service.accept_request(db, number, date(2026, 2, 10), by, load_calendar(db))
    with pytest.raises(InvalidInput, match="--by"):
        service.close_request(db, number, by, "属于咨询")
    with pytest.raises(InvalidInput, match="--by"):
        service.answer_request(db, open_accepted(db), "granted", by)
    assert service.get_request(db, number)["status"] == "pending"


# ---- through the CLI, as a shell runs it -----------------------------------------------------------------


Cli = Callable[..., tuple[int, str, str]]


def wide(text: str) -> str:
    """The full-width spelling of digits and hyphens, as an IME types them."""
    return text.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """cli(*args) -> (exit code, stdout, stderr) of `bot.py --db <tmp> args`, through bot.main."""
    import bot

    for name in [k for k in os.environ if k.startswith("GONGKAI_")]:
        monkeypatch.delenv(name)
    path = str(tmp_path / "cli.db")

    def call(*args: str) -> tuple[int, str, str]:
        code = bot.main(["--db", path, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_cli_request_numbers_and_dates_may_be_typed_full_width(cli: Cli) -> None:
    number = json.loads(cli("ask", "驾照怎么换证", "--json")[1])["request_id"]
    code, out, _ = cli("requests", "show", wide(number), "--json")
    assert code == 0 and json.loads(out)["id"] == number
    today = clock.now().date().isoformat()
    code, out, err = cli("requests", "accept", wide(number), "--received", wide(today), "--by", "张三", "--json")
    assert code == 0, err
    assert json.loads(out)["received_on"] == today
    code, out, err = cli("requests", "answer", wide(number), "--outcome", "granted", "--by", "张三", "--json")
    assert code == 0 and json.loads(out)["status"] == "answered", err
    other = json.loads(cli("ask", "另一个没有答案的问题", "--json")[1])["request_id"]
    code, out, err = cli("requests", "close", wide(other), "--by", "张三", "--reason", "属于咨询", "--json")
    assert code == 0 and json.loads(out)["status"] == "closed", err


def test_cli_bad_received_dates_are_one_line_errors(cli: Cli) -> None:
    number = json.loads(cli("ask", "驾照怎么换证", "--json")[1])["request_id"]
    for received, says in (("9999-12-31", "晚于今天"), ("2026/2/10", "--received"), (" ", "--received")):
        code, _, err = cli("requests", "accept", number, "--received", received, "--by", "张三")
        assert code == 1 and says in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli("requests", "accept", number, "--received", "2026-02-10", "--by", "")
    assert code == 1 and "--by" in err


@pytest.mark.parametrize("since", ["2026/1/1", "yesterday", "2026-02-30", "2026-1-1"])
def test_cli_enquiries_since_must_be_a_real_date(cli: Cli, since: str) -> None:
    cli("ask", "驾照怎么换证")
    for verb in ("list", "stats"):
        code, _, err = cli("enquiries", verb, "--since", since)
        assert code == 1 and "--since" in err and since in err


def test_cli_enquiries_since_reads_full_width_digits(cli: Cli) -> None:
    cli("ask", "驾照怎么换证")
    today = wide(clock.now().date().isoformat())
    code, out, _ = cli("enquiries", "list", "--since", today, "--json")
    assert code == 0 and [r["question"] for r in json.loads(out)] == ["驾照怎么换证"]
    code, out, _ = cli("enquiries", "stats", "--since", today, "--json")
    assert code == 0 and json.loads(out)["total"] == 1
    code, out, _ = cli("enquiries", "list", "--since", "2100-01-01", "--json")
    assert code == 0 and json.loads(out) == []


def test_cli_enquiries_huge_limit_means_every_row(cli: Cli) -> None:
    cli("ask", "驾照怎么换证")
    code, out, err = cli("enquiries", "list", "--limit", "99999999999999999999", "--json")
    assert code == 0, err
    assert len(json.loads(out)) == 1


def test_cli_ask_no_log_still_recognises_chat_commands(cli: Cli) -> None:
    logged = json.loads(cli("ask", "驾照怎么换证", "--json")[1])
    number = logged["request_id"]
    code, out, _ = cli("ask", f"查询 {number}", "--no-log", "--json")
    quiet = json.loads(out)
    assert code == 0 and quiet["request_id"] == number and number in quiet["reply"]
    assert json.loads(cli("ask", "新的问题没有答案", "--no-log", "--json")[1])["request_id"] is None
    rows = json.loads(cli("enquiries", "list", "--json")[1])
    assert [r["question"] for r in rows] == ["驾照怎么换证"]  # the --no-log questions left no row
    assert [r["id"] for r in json.loads(cli("requests", "list", "--json")[1])] == [number]


def test_cli_show_keeps_every_step_and_list_finds_the_overdue(cli: Cli) -> None:
    """`note` holds only the latest step: `requests show` lists them all; `--overdue` lists what to chase."""
    number = json.loads(cli("ask", "驾照怎么换证", "--json")[1])["request_id"]
    today = clock.now().date().isoformat()
    assert cli("requests", "accept", number, "--received", today, "--by", "王科长", "--note", "电话核实")[0] == 0
    assert cli("requests", "extend", number, "--by", "王科长", "--reason", "需征求第三方意见")[0] == 0
    shown = cli("requests", "show", number)[1]
    assert "办理记录：" in shown and "王科长 确认收到申请；电话核实" in shown and "需征求第三方意见" in shown
    assert cli("requests", "list", "--overdue")[1].strip() == "（没有记录）"  # due weeks from now


def test_cli_faq_marks_a_possible_request_answered_by_a_new_catalog_item(cli: Cli) -> None:
    number = json.loads(cli("ask", "驾照怎么换证", "--json")[1])["request_id"]
    code, out, _ = cli("requests", "faq", number, "--by", "王科长", "--note", "已新增目录条目 demo-099")
    assert code == 0 and "已补充到公开目录" in out
    assert json.loads(cli("requests", "list", "--status", "faq", "--json")[1])[0]["id"] == number
    assert "当前为“已补充到公开目录”" in cli("requests", "faq", number, "--by", "王科长")[2]  # once


# ---- 补正 (art.30), pauses (arts.32-34), the applicant's type and the day of the answer -------------------------


def formal(db: Database, question: str, received: str, applicant: str = "") -> str:
    """A request logged and confirmed received on `received` (a working day), as staff would that day."""
    number = open_one(db, question, sender=question, when=f"{received}T09:00")["id"]
    service.accept_request(db, number, date.fromisoformat(received), "张三", load_calendar(db),
                           now=at(f"{received}T10:00"), applicant_type=applicant)
    return number


def test_a_correction_stops_the_clock_and_restarts_it_when_the_correction_arrives(db: Database) -> None:
    calendar = load_calendar(db)
    number = formal(db, "要某某公司的材料", "2026-11-02")  # a Monday: due 20 working days later, 11-30
    assert service.get_request(db, number)["reply_due"] == "2026-11-30"
    with pytest.raises(InvalidInput, match="须写明需要补正的事项"):
        service.ask_correction(db, number, "张三", " ", calendar, date(2026, 11, 5), now=at("2026-11-05T10:00"))
    asked = service.ask_correction(db, number, "张三", "请写明材料名称或文号，15日内补正", calendar, date(2026, 11, 5),
                                   now=at("2026-11-05T10:00"))
    assert (asked["status"], asked["correction_asked_on"], asked["reply_due"]) == ("correcting", "2026-11-05", "")
    assert "晚于" not in asked["note"] and "请写明材料名称或文号" in asked["note"]
    assert service.get_request(db, number, date(2026, 12, 31))["overdue"] is False  # the clock is stopped
    assert asked["correction_due"] == "2026-11-26"  # 15 working days from the notice, unless --within says
    assert "请在 2026-11-26（含当日）之前按告知的事项补正" in texts.request_status(asked, own=True)
    with pytest.raises(InvalidInput, match="早于补正告知日 2026-11-05"):
        service.record_correction(db, number, date(2026, 11, 4), "张三", calendar, now=at("2026-11-16T10:00"))
    corrected = service.record_correction(db, number, date(2026, 11, 16), "李四", calendar, now=at("2026-11-16T10:00"))
    # Counted again from the day the correction arrived; 收到日 stays the first receipt, which the report counts.
    assert (corrected["status"], corrected["received_on"], corrected["corrected_on"], corrected["reply_due"]) == \
        ("accepted", "2026-11-02", "2026-11-16", "2026-12-14")
    with pytest.raises(InvalidInput, match="已于 2026-11-05 告知过补正"):  # one notice only (一次性告知)
        service.ask_correction(db, number, "张三", "再补一次", calendar, now=at("2026-11-17T10:00"))
    assert service.recompute_due_dates(db, calendar) == 0  # a calendar change counts from the correction too


def test_a_late_correction_notice_is_recorded_as_late(db: Database) -> None:
    number = formal(db, "问题", "2026-11-02")
    asked = service.ask_correction(db, number, "张三", "补充身份证明", load_calendar(db), date(2026, 11, 12),
                                   now=at("2026-11-12T10:00"))
    assert "晚于条例第三十条规定的 2026-11-11" in asked["note"]  # 7 working days after 11-02


def test_a_correction_period_that_passes_makes_the_request_one_to_chase(db: Database) -> None:
    calendar = load_calendar(db)
    number = formal(db, "问题", "2026-11-02")
    with pytest.raises(InvalidInput, match="补正期限应为 1–60 个工作日"):
        service.ask_correction(db, number, "张三", "补充信息名称", calendar, date(2026, 11, 3),
                               now=at("2026-11-03T10:00"), within=0)
    asked = service.ask_correction(db, number, "张三", "补充信息名称", calendar, date(2026, 11, 3),
                                   now=at("2026-11-03T10:00"), within=5)
    assert asked["correction_due"] == "2026-11-10" and "补正期限 2026-11-10" in asked["note"]
    # Within the period: not to chase, and the request cannot be closed as abandoned.
    assert service.list_requests(db, overdue=True, today=date(2026, 11, 10)) == []
    with pytest.raises(InvalidInput, match="补正期限 2026-11-10 尚未届满"):
        service.answer_request(db, number, "other_no_correction", "张三", on=date(2026, 11, 10),
                               now=at("2026-11-10T18:00"))
    [late] = service.list_requests(db, overdue=True, today=date(2026, 11, 11))
    assert (late["id"], late["correction_overdue"], late["overdue"]) == (number, True, False)
    status = texts.request_status(late, own=True)
    assert "补正期限 2026-11-10 已过，尚未收到补正" in status and "请在" not in status  # one thing, not two
    assert "补正：2026-11-03 告知，补正期限 2026-11-10（已过），待补正" in texts.request_detail(late)
    done = service.answer_request(db, number, "other_no_correction", "张三", now=at("2026-11-11T10:00"))
    assert (done["status"], done["concluded_on"]) == ("answered", "2026-11-11")
    assert "补正期限 2026-11-10，未收到补正" in texts.request_detail(done)
    assert service.list_requests(db, overdue=True, today=date(2026, 11, 30)) == []


def test_a_calendar_change_recounts_the_correction_period_and_marks_it_estimated(db: Database) -> None:
    from disclosure.workdays import set_override

    number = formal(db, "问题", "2026-11-02")
    asked = service.ask_correction(db, number, "张三", "补充信息名称", load_calendar(db), date(2026, 11, 27),
                                   now=at("2026-11-27T10:00"), within=60)
    assert (asked["correction_due"], asked["due_estimated"]) == ("2027-02-26", 1)  # 2027 is not confirmed yet
    assert "补正期限 2027-02-26（预估）" in texts.request_detail(asked)
    assert "请在 2027-02-26（预估）（含当日）之前" in texts.request_status(asked, own=True)
    set_override(db, date(2026, 12, 31), "rest")  # staff learn of a day off: the period ends a working day later
    assert service.recompute_due_dates(db, load_calendar(db)) == 0  # set_override recounted it already
    moved = service.get_request(db, number)
    assert (moved["correction_due"], moved["reply_due"], moved["status"]) == ("2027-03-01", "", "correcting")
    with pytest.raises(InvalidInput, match="补正期限 2027-03-01 尚未届满"):
        service.answer_request(db, number, "other_no_correction", "张三", on=date(2027, 2, 26),
                               now=at("2027-02-26T18:00"))


def test_outcomes_that_need_a_correction_step(db: Database) -> None:
    calendar = load_calendar(db)
    number = formal(db, "问题", "2026-11-02")
    with pytest.raises(InvalidInput, match="未告知补正"):
        service.answer_request(db, number, "other_no_correction", "张三", now=at("2026-11-20T10:00"))
    with pytest.raises(InvalidInput, match="未收到补正"):
        service.answer_request(db, number, "none_unclear", "张三", now=at("2026-11-20T10:00"))
    service.ask_correction(db, number, "张三", "补充信息名称", calendar, date(2026, 11, 3), now=at("2026-11-03T10:00"))
    done = service.answer_request(db, number, "other_no_correction", "张三", on=date(2026, 11, 25),
                                  now=at("2026-11-26T10:00"))
    assert (done["status"], done["outcome"], done["concluded_on"]) == ("answered", "other_no_correction", "2026-11-25")


def test_a_pause_for_consultation_moves_the_due_date_by_the_working_days_paused(db: Database) -> None:
    calendar = load_calendar(db)
    number = formal(db, "某企业的检验报告", "2026-11-02")  # due 2026-11-30
    with pytest.raises(InvalidInput, match="须写明征求意见"):
        service.pause_request(db, number, "张三", "", date(2026, 11, 10), now=at("2026-11-10T10:00"))
    paused = service.pause_request(db, number, "张三", "征求该企业意见（第三方）", date(2026, 11, 10),
                                   now=at("2026-11-10T10:00"))
    assert paused["paused_on"] == "2026-11-10"
    assert service.get_request(db, number, date(2026, 12, 31))["overdue"] is False  # not counted meanwhile
    assert texts.PAUSED in texts.request_status(paused, own=True)
    with pytest.raises(InvalidInput, match="已暂停计时"):
        service.pause_request(db, number, "张三", "再暂停", now=at("2026-11-11T10:00"))
    with pytest.raises(InvalidInput, match="早于暂停日 2026-11-10"):
        service.resume_request(db, number, "张三", calendar, date(2026, 11, 9), now=at("2026-11-13T10:00"))
    resumed = service.resume_request(db, number, "张三", calendar, date(2026, 11, 13), now=at("2026-11-13T10:00"))
    # 11-11, 11-12 and 11-13 were not counted: three working days after 11-30.
    assert (resumed["paused_on"], resumed["paused_days"], resumed["reply_due"]) == ("", 3, "2026-12-03")
    service.pause_request(db, number, "张三", "征求市局意见（其他机关）", date(2026, 11, 16), now=at("2026-11-16T10:00"))
    again = service.resume_request(db, number, "张三", calendar, date(2026, 11, 23), now=at("2026-11-23T10:00"))
    assert (again["paused_days"], again["reply_due"]) == (8, "2026-12-10")  # + 11-17..20 and 11-23
    assert service.recompute_due_dates(db, calendar) == 0  # a calendar change keeps the pauses
    assert service.get_request(db, number, date(2026, 12, 11))["overdue"] is True
    with pytest.raises(InvalidInput, match="逾期后不能再暂停计时"):
        service.pause_request(db, number, "张三", "太晚了", date(2026, 12, 11), now=at("2026-12-11T10:00"))


def test_the_applicant_type_is_one_of_the_reports_columns(db: Database) -> None:
    pending = open_one(db, "问题", sender="p")["id"]
    with pytest.raises(InvalidInput, match="不能执行"):
        service.set_applicant(db, pending, "自然人", "张三")  # a possible request has no applicant yet
    number = formal(db, "另一个问题", "2026-11-02")
    with pytest.raises(InvalidInput, match="未知申请人类型 '个体户'"):
        service.set_applicant(db, number, "个体户", "张三")
    assert service.set_applicant(db, number, "商业企业", "张三")["applicant_type"] == "商业企业"
    with pytest.raises(InvalidInput, match="未知申请人类型"):
        formal(db, "第三个问题", "2026-11-02", applicant="公司")


def test_the_day_of_the_answer_is_neither_future_nor_before_receipt(db: Database) -> None:
    number = formal(db, "问题", "2026-11-02")
    with pytest.raises(InvalidInput, match="答复日 2026-11-01 早于收到日 2026-11-02"):
        service.answer_request(db, number, "granted", "张三", on=date(2026, 11, 1), now=at("2026-11-05T10:00"))
    with pytest.raises(InvalidInput, match="晚于今天"):
        service.answer_request(db, number, "granted", "张三", on=date(2026, 11, 6), now=at("2026-11-05T10:00"))
    assert service.answer_request(db, number, "granted", "张三", now=at("2026-11-05T10:00"))["concluded_on"] == \
        "2026-11-05"


def test_cli_correction_pause_and_applicant_steps(cli: Cli) -> None:
    number = json.loads(cli("ask", "驾照怎么换证", "--json")[1])["request_id"]
    today = clock.now().date().isoformat()
    assert cli("requests", "accept", number, "--received", today, "--by", "王科长", "--applicant", "自然人")[0] == 0
    code, out, err = cli("requests", "pause", number, "--by", "王科长", "--reason", "征求第三方意见")
    assert code == 0 and "暂停计时" in out, err
    code, out, err = cli("requests", "resume", number, "--by", "王科长", "--json")
    assert code == 0 and json.loads(out)["paused_on"] == "", err
    code, out, err = cli("requests", "correction", number, "--by", "王科长", "--items", "请写明信息名称")
    assert code == 0 and "待补正" in out, err
    code, out, err = cli("requests", "corrected", number, "--received", today, "--by", "王科长", "--json")
    assert code == 0 and json.loads(out)["corrected_on"] == today, err
    with pytest.raises(SystemExit) as refused:  # argparse's usage error lists the types
        cli("requests", "applicant", number, "外国人", "--by", "王科长")
    assert refused.value.code == 2
    assert cli("requests", "applicant", number, "商业企业", "--by", "王科长")[0] == 0
    shown = cli("requests", "show", number)[1]
    due = json.loads(cli("requests", "show", number, "--json")[1])["correction_due"]
    assert "申请人类型：商业企业" in shown and f"补正：{today} 告知，补正期限 {due}，{today} 收到补正" in shown


def test_steps_keep_their_order_in_time(db: Database) -> None:
    """A pause cannot overlap the last one, a correction cannot follow a pause (the count restarts from the
    correction, so earlier pauses would count twice), and an answer is given after the last step."""
    calendar = load_calendar(db)
    number = formal(db, "问题", "2026-11-02")
    service.pause_request(db, number, "张三", "征求第三方意见", date(2026, 11, 3), now=at("2026-11-03T10:00"))
    service.resume_request(db, number, "张三", calendar, date(2026, 11, 10), now=at("2026-11-10T10:00"))
    with pytest.raises(InvalidInput, match="暂停日 2026-11-04 早于上次恢复计时日 2026-11-10"):
        service.pause_request(db, number, "张三", "再征求", date(2026, 11, 4), now=at("2026-11-11T10:00"))
    with pytest.raises(InvalidInput, match="已征求过意见：内容不明确的，应在征求意见前告知补正"):
        service.ask_correction(db, number, "张三", "补充", calendar, date(2026, 11, 11), now=at("2026-11-11T10:00"))
    with pytest.raises(InvalidInput, match="答复日 2026-11-09 早于恢复计时日 2026-11-10"):
        service.answer_request(db, number, "granted", "张三", on=date(2026, 11, 9), now=at("2026-11-11T10:00"))
    other = formal(db, "另一个问题", "2026-11-02")
    service.ask_correction(db, other, "张三", "补充", calendar, date(2026, 11, 5), now=at("2026-11-05T10:00"))
    with pytest.raises(InvalidInput, match="答复日 2026-11-04 早于补正告知日 2026-11-05"):
        service.answer_request(db, other, "other_no_correction", "张三", on=date(2026, 11, 4), now=at("2026-11-20T10:00"))
    extended = formal(db, "第三个问题", "2026-11-02")
    service.extend_request(db, extended, "张三", "工作量大", calendar, now=at("2026-11-20T10:00"))
    with pytest.raises(InvalidInput, match="已延期：内容不明确的，应在延期前告知补正"):
        service.ask_correction(db, extended, "张三", "补充", calendar, date(2026, 11, 20), now=at("2026-11-20T10:00"))


def test_a_paused_request_shows_no_due_date_that_may_have_passed(db: Database) -> None:
    number = formal(db, "问题", "2026-01-05")
    paused = service.pause_request(db, number, "张三", "征求第三方意见", date(2026, 1, 6), now=at("2026-01-06T10:00"))
    status = texts.request_status(paused, own=True)
    assert "暂停计时中（暂停前为 2026-02-02）" in status and texts.PAUSED in status


def test_cli_registers_a_request_handed_in(cli: Cli) -> None:
    today = clock.now().date().isoformat()
    code, out, err = cli("requests", "new", "--question", "某药店2025年的检查记录", "--received", today, "--via", "邮寄",
                         "--by", "王科长", "--applicant", "商业企业", "--json")
    assert code == 0, err
    made = json.loads(out)
    assert (made["status"], made["channel"], made["applicant_type"]) == ("accepted", "邮寄", "商业企业")


def test_a_consultation_past_its_15_working_days_is_listed_to_chase(db: Database) -> None:
    """条例 art.32: the third party answers within 15 working days; after that, staff decide and resume."""
    number = formal(db, "问题", "2026-11-02")
    service.pause_request(db, number, "张三", "征求第三方意见", date(2026, 11, 3), now=at("2026-11-03T10:00"))
    calendar = load_calendar(db)
    [row] = service.list_requests(db, today=date(2026, 11, 24), calendar=calendar)
    assert (row["consult_due"], row["consult_overdue"]) == ("2026-11-24", False)  # 15 working days after 11-03
    assert service.list_requests(db, today=date(2026, 11, 24), overdue=True, calendar=calendar) == []
    [late] = service.list_requests(db, today=date(2026, 11, 25), overdue=True, calendar=calendar)
    assert late["id"] == number and late["consult_overdue"] and not late["overdue"]


def test_the_daily_reminder_lists_what_needs_doing_in_numbers_and_dates_only(db: Database) -> None:
    from disclosure import digest

    calendar, now = load_calendar(db), at("2026-11-27T09:00")  # a Friday

    def received(question: str, day: str) -> str:
        return service.register_request(db, question, date.fromisoformat(day), "张三", calendar, now=now)["id"]

    late = received("张三的营业执照档案", "2026-10-26")  # due 11-23: four working days late
    today = received("李四的处罚决定书", "2026-10-30")  # due 11-27
    soon = received("某药店的检查记录", "2026-11-02")  # due 11-30, the next working day
    received("以后再说", "2026-11-20")  # due 12-18: beyond the 5 working days
    correcting = received("不明确的申请", "2026-11-02")
    service.ask_correction(db, correcting, "张三", "写明名称", calendar, date(2026, 11, 3), now=now, within=5)
    paused = received("涉及第三方", "2026-11-02")
    service.pause_request(db, paused, "张三", "征求某公司意见", date(2026, 11, 3), now=now)
    done = received("已办结", "2026-10-26")
    service.answer_request(db, done, "granted", "张三", now=now)
    open_one(db, "火锅店卫生", sender="a", when="2026-11-20T10:00")
    open_one(db, "奶粉抽检", sender="b", when="2026-11-25T10:00")

    found = digest.build(db, calendar, date(2026, 11, 27))
    assert found.overdue == [{"id": late, "reply_due": "2026-11-23", "estimated": False, "late": 4}]
    assert found.due_today == [{"id": today, "reply_due": "2026-11-27", "estimated": False}]
    assert found.due_soon == [{"id": soon, "reply_due": "2026-11-30", "estimated": False, "left": 1}]
    assert found.correction_overdue == [{"id": correcting, "correction_due": "2026-11-10", "estimated": False}]
    assert found.consult_overdue == [{"id": paused, "paused_on": "2026-11-03", "consult_due": "2026-11-24"}]
    assert (found.pending, found.pending_since) == (2, "2026-11-20")
    body = "\n".join(digest.lines(found))
    assert body.index(late) < body.index(today) < body.index(soon)  # most urgent first
    assert f"{late}：期限 2026-11-23，已超过 4 个工作日" in body and "待甄别的群聊线索：2 件" in body
    for question in ("张三", "李四", "药店", "火锅", "奶粉", "某公司"):  # no question, no person: it goes through a chat
        assert question not in body
    assert "个工作日内到期" not in "\n".join(digest.lines(digest.build(db, calendar, date(2026, 11, 27), ahead=0)))


def test_the_daily_reminder_marks_estimated_dates_and_reads_on_a_day_off(db: Database) -> None:
    from disclosure import digest

    calendar, now = load_calendar(db), at("2026-12-28T09:00")
    ahead = service.register_request(db, "问题", date(2026, 12, 15), "张三", calendar, now=now)["id"]  # due 2027-01-13
    friday = service.register_request(db, "问题二", date(2026, 10, 30), "张三", calendar, now=now)["id"]  # due 11-27
    text = "\n".join(digest.lines(digest.build(db, calendar, date(2027, 1, 8))))
    assert f"{ahead}：期限 2027-01-13（预估），还有 3 个工作日" in text  # 2027's schedule is not confirmed
    saturday = "\n".join(digest.lines(digest.build(db, calendar, date(2026, 11, 28))))
    assert f"{friday}：期限 2026-11-27，已逾期" in saturday  # no working day has passed since, but it is late
    monday = "\n".join(digest.lines(digest.build(db, calendar, date(2026, 11, 30))))
    assert f"{friday}：期限 2026-11-27，已超过 1 个工作日" in monday


def test_the_daily_reminder_is_empty_when_nothing_needs_doing(db: Database) -> None:
    from disclosure import digest

    calendar = load_calendar(db)
    service.register_request(db, "问题", date(2026, 11, 20), "张三", calendar, now=at("2026-11-27T09:00"))
    found = digest.build(db, calendar, date(2026, 11, 27))
    assert found.empty() and digest.lines(found) == []


def test_cli_digest_prints_the_reminder(cli: Cli) -> None:
    today = clock.now().date()
    code, out, _ = cli("digest", "--on", today.isoformat())
    assert code == 0 and out.strip() == f"{today.isoformat()} 没有需要提醒的事项。"
    number = json.loads(cli("ask", "驾照怎么换证", "--json")[1])["request_id"]
    code, out, _ = cli("digest")
    assert code == 0 and out.startswith(f"今日待办（{today.isoformat()}）") and "待甄别的群聊线索：1 件" in out
    assert "驾照" not in out
    code, out, _ = cli("digest", "--json")
    data = json.loads(out)
    assert code == 0 and data["requests"]["pending"] == 1 and data["undelivered"] == [], number


def test_cli_digest_looks_as_far_ahead_as_the_config_says(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import bot

    for name in [k for k in os.environ if k.startswith("GONGKAI_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "c.toml"
    config.write_text('[reminders]\nto = "内部"\nahead = 12\n', encoding="utf-8")
    base = ["--config", str(config), "--db", str(tmp_path / "c.db")]
    today = clock.now().date()
    assert bot.main([*base, "requests", "new", "--question", "问题", "--received", today.isoformat(),
                     "--by", "张三"]) == 0  # due 20 working days on: beyond 12
    capsys.readouterr()
    assert bot.main([*base, "digest", "--json"]) == 0
    assert json.loads(capsys.readouterr()[0])["requests"]["due_soon"] == []
    assert bot.main([*base, "digest", "--ahead", "20"]) == 0
    assert "20 个工作日内到期（1 件）" in capsys.readouterr()[0]
    assert bot.main([*base, "digest", "--ahead", "0"]) == 1
    assert capsys.readouterr()[1].strip() == "--ahead 应为 1–20 个工作日，现为 0"
    assert bot.main([*base, "digest", "--on", "2020-01-02"]) == 1
    assert "只能看今天或以后" in capsys.readouterr()[1]
