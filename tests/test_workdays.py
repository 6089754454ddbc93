"""Working-day arithmetic on China's adjusted calendar: DOMAIN.md §3 vectors, staff overrides, 预估 flags."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

import clock
from cli import CliContext
from cli import calendar as cli_calendar
from config.settings import Settings
from disclosure.requests import accept_request, get_request, open_possible_request
from disclosure.workdays import (
    official_data_until,
    WorkCalendar,
    confirm_year,
    confirmed_years,
    list_overrides,
    load_calendar,
    parse_day,
    remove_override,
    set_override,
)
from errors import InvalidInput, NotFound
from store import open_db, revisions, transaction

D = date.fromisoformat


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "calendar.db")
    yield database
    database.close()


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


VECTORS = [
    ("2025-09-26", 20, "2025-10-30"),
    ("2026-02-10", 20, "2026-03-16"),
    ("2026-09-18", 20, "2026-10-22"),
    ("2025-10-01", 20, "2025-11-04"),  # received on a holiday
    ("2025-09-26", 7, "2025-10-13"),
    ("2026-02-10", 7, "2026-02-26"),
    ("2026-09-18", 7, "2026-09-29"),
    ("2026-02-15", 1, "2026-02-24"),  # chinese-calendar's find_workday gives 02-25 here
]


@pytest.mark.parametrize(("start", "days", "expected"), VECTORS)
def test_domain_vectors(cal: WorkCalendar, start: str, days: int, expected: str) -> None:
    assert cal.add_workdays(D(start), days) == D(expected)
    assert cal.due(D(start), days) == (D(expected), False)


@pytest.mark.parametrize("day", ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"])
def test_2026_weekend_make_up_days_are_workdays(cal: WorkCalendar, day: str) -> None:
    assert D(day).weekday() >= 5
    assert cal.is_workday(D(day))


@pytest.mark.parametrize("day", ["2026-01-01", "2026-01-02", "2026-02-16", "2026-02-20", "2026-02-23",
                                 "2026-05-05", "2026-10-01", "2026-10-07", "2026-10-03"])
def test_2026_holidays_and_make_up_rest_days(cal: WorkCalendar, day: str) -> None:
    assert not cal.is_workday(D(day))


def test_start_day_is_excluded_and_zero_days_is_the_start(cal: WorkCalendar) -> None:
    assert cal.add_workdays(D("2025-09-29"), 1) == D("2025-09-30")  # Monday -> Tuesday
    assert cal.add_workdays(D("2025-09-29"), 0) == D("2025-09-29")


def test_negative_days_refused(cal: WorkCalendar) -> None:
    with pytest.raises(InvalidInput):
        cal.add_workdays(D("2025-09-29"), -1)


def test_years_past_the_official_data_are_estimated(cal: WorkCalendar) -> None:
    assert official_data_until() == 2026
    assert not cal.is_estimated(D("2026-12-31"))
    assert cal.is_estimated(D("2027-01-04"))
    end, estimated = cal.due(D("2027-03-01"), 20)
    assert estimated and end.year == 2027
    assert cal.due(D("2026-12-20"), 20)[1]  # counted into 2027: the whole deadline is an estimate
    assert not cal.due(D("2026-11-02"), 20)[1]


def test_confirmed_year_is_not_estimated() -> None:
    cal = WorkCalendar(confirmed_years=[2027])
    assert not cal.is_estimated(D("2027-06-01"))
    assert cal.is_estimated(D("2028-06-01"))


def test_an_override_beats_the_library() -> None:
    base = WorkCalendar()
    assert base.add_workdays(D("2025-09-26"), 20) == D("2025-10-30")
    rest = WorkCalendar({D("2025-10-20"): "rest"})
    assert rest.add_workdays(D("2025-09-26"), 20) == D("2025-10-31")
    work = WorkCalendar({D("2025-10-04"): "work"})  # a Saturday in the National Day break
    assert work.is_workday(D("2025-10-04"))
    assert work.add_workdays(D("2025-09-26"), 20) == D("2025-10-29")


def test_bad_override_kind_refused() -> None:
    with pytest.raises(ValueError):
        WorkCalendar({D("2025-10-04"): "holiday"})


def test_overrides_are_stored_and_loaded(db: Database) -> None:
    before = revisions(db).get("calendar", 0)
    now = datetime(2026, 11, 20, 10, 0, tzinfo=clock.TZ)
    row = set_override(db, "2027-02-20", "work", "  国办发明电〔2026〕X号  ", now=now)
    assert row == {"day": "2027-02-20", "kind": "work", "note": "国办发明电〔2026〕X号",
                   "created_at": "2026-11-20T10:00:00+08:00"}
    set_override(db, date(2027, 2, 11), "rest")
    set_override(db, "2027-02-11", "rest", "改")  # upsert, not a duplicate
    assert [(r["day"], r["kind"], r["note"]) for r in list_overrides(db)] == [
        ("2027-02-11", "rest", "改"), ("2027-02-20", "work", "国办发明电〔2026〕X号")]
    assert revisions(db)["calendar"] == before + 3
    cal = load_calendar(db)
    assert cal.is_workday(D("2027-02-20")) and not cal.is_workday(D("2027-02-11"))
    remove_override(db, "2027-02-20")
    assert not load_calendar(db).is_workday(D("2027-02-20"))  # a Saturday again
    with pytest.raises(NotFound):
        remove_override(db, "2027-02-20")


def test_override_in_the_database_changes_a_due_date(db: Database) -> None:
    assert load_calendar(db).due(D("2025-09-26"), 20) == (D("2025-10-30"), False)
    set_override(db, "2025-10-20", "rest", "临时停工")
    assert load_calendar(db).due(D("2025-09-26"), 20) == (D("2025-10-31"), False)


def test_invalid_override_input(db: Database) -> None:
    with pytest.raises(InvalidInput):
        set_override(db, "2027-02-30", "work")
    with pytest.raises(InvalidInput):
        set_override(db, "2027-02-20", "holiday")
    assert list_overrides(db) == []


def test_open_requests_follow_the_calendar_staff_enter(db: Database) -> None:
    """A due date computed on an estimate is recomputed when staff enter the schedule, with the change in the
    request's history; an answered request keeps the date it was answered against."""
    now = datetime(2027, 1, 10, 10, 0, tzinfo=clock.TZ)
    with transaction(db):
        opened = datetime(2026, 12, 18, 10, 0, tzinfo=clock.TZ)
        number = open_possible_request(db, "2026年抽检结果", "s1", "webhook", "b", "c", now=opened)[0]["id"]
        accept_request(db, number, D("2026-12-20"), "王科长", load_calendar(db), now=now)
    before = get_request(db, number, D("2027-01-10"))
    assert (before["reply_due"], before["due_estimated"]) == ("2027-01-18", 1)
    set_override(db, "2027-01-04", "rest", "元旦调休")
    confirm_year(db, 2027)
    after = get_request(db, number, D("2027-01-10"))
    assert (after["reply_due"], after["due_estimated"]) == (load_calendar(db).due(D("2026-12-20"), 20)[0].isoformat(), 0)
    assert after["reply_due"] == "2027-01-19"
    changes = [r["change"] for r in db.query("SELECT change FROM request_events WHERE request_id = ?", [number])]
    assert any('"reply_due":"2027-01-19"' in c for c in changes)


def test_confirming_a_year_clears_the_estimate(db: Database) -> None:
    assert load_calendar(db).due(D("2027-03-01"), 20)[1]
    with pytest.raises(InvalidInput, match="2027 年还没有录入调休安排"):  # nothing entered: nothing to confirm
        confirm_year(db, 2027)
    set_override(db, "2027-02-07", "work", "春节调休上班")
    confirm_year(db, 2027)
    assert confirmed_years(db) == {2027}
    assert not load_calendar(db).due(D("2027-03-01"), 20)[1]
    confirm_year(db, 2027, confirmed=False)
    assert load_calendar(db).due(D("2027-03-01"), 20)[1]


# ---- CLI handlers --------------------------------------------------------------------------------------


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="bot.py")
    cli_calendar.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    ctx = CliContext(settings=settings)
    try:
        return int(args.func(args, ctx))
    finally:
        ctx.close()


def test_cli_due(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(settings, "calendar", "due", "2025-09-26", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"start": "2025-09-26", "days": 20, "due": "2025-10-30",
                                                   "estimated": False}
    _run(settings, "calendar", "due", "2026-02-10", "--days", "7")
    assert "2026-02-26（星期四）" in capsys.readouterr().out
    _run(settings, "calendar", "due", "2027-03-01")
    assert "预估" in capsys.readouterr().out


def test_cli_set_list_unset(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    _run(settings, "calendar", "set", "2025-10-20", "rest", "--note", "临时停工")
    assert "2025-10-20" in capsys.readouterr().out
    _run(settings, "calendar", "due", "2025-09-26", "--json")
    assert json.loads(capsys.readouterr().out)["due"] == "2025-10-31"
    _run(settings, "calendar", "list", "--json")
    assert [row["day"] for row in json.loads(capsys.readouterr().out)] == ["2025-10-20"]
    _run(settings, "calendar", "unset", "2025-10-20")
    _run(settings, "calendar", "list")
    assert "没有调整" in capsys.readouterr().out.splitlines()[-1]


def test_cli_bad_date_is_a_user_error(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        _run(settings, "calendar", "due", "2025/09/26")


def test_cli_confirm_year(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    _run(settings, "calendar", "set", "2027-02-07", "work")
    _run(settings, "calendar", "confirm", "2027")
    assert "2027" in capsys.readouterr().out
    _run(settings, "calendar", "due", "2027-03-01", "--json")
    assert json.loads(capsys.readouterr().out)["estimated"] is False
    _run(settings, "calendar", "confirm", "2027", "--undo", "--json")
    assert json.loads(capsys.readouterr().out) == {"year": 2027, "confirmed": False}


def test_dates_outside_the_library_calendar_are_refused_not_a_traceback(cal: WorkCalendar) -> None:
    with pytest.raises(InvalidInput, match="起算日 9999-12-25 超出"):  # was OverflowError past date.max
        cal.due(D("9999-12-25"), 20)
    with pytest.raises(InvalidInput, match="2100-12-25 起 20 个工作日的截止日超出"):  # past it no holiday is known
        cal.add_workdays(D("2100-12-25"), 20)
    with pytest.raises(InvalidInput, match="起算日 1949-12-30 超出"):
        cal.due(D("1949-12-30"), 20)


def test_years_before_the_official_data_are_estimated(cal: WorkCalendar) -> None:
    assert cal.due(D("1990-03-01"), 20)[1]  # the library knows the rules, not that year's 调休
    assert cal.due(D("2000-12-20"), 20)[1]  # counted from 2000 into 2001
    assert not cal.due(D("2000-12-31"), 20)[1]  # every counted day is in 2001
    assert not cal.due(D("2019-05-10"), 15)[1]
    assert WorkCalendar(confirmed_years=[1990]).due(D("1990-03-01"), 20) == (D("1990-03-29"), False)


def test_parse_day_reads_full_width_digits_and_names_the_field() -> None:
    assert parse_day("２０２６－０２－１０") == D("2026-02-10")
    with pytest.raises(InvalidInput, match="--since: 日期应为 YYYY-MM-DD.*'2026-02-30'"):
        parse_day("2026-02-30", "--since")


def test_cli_due_out_of_range_is_a_user_error(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="9999-12-25"):
        _run(settings, "calendar", "due", "9999-12-25")
