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
    extended = service.extend_request(db, number, "张三", "需征求第三方意见", load_calendar(db))
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
