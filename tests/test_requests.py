"""Possible and formal disclosure requests: numbering, same-question dedupe, statutory dates, states."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

import clock
from disclosure import requests as service
from disclosure.workdays import load_calendar
from errors import InvalidInput, NotFound
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
    old = open_one(db, "旧申请", sender="s3")["id"]  # received under the 2008 text: 15 working days
    assert service.accept_request(db, old, date(2019, 5, 10), "张三", load_calendar(db))["reply_due"] == "2019-05-31"


def test_overdue_only_after_the_due_day_while_open(db: Database) -> None:
    number = open_one(db, "问题")["id"]
    service.accept_request(db, number, date(2026, 2, 10), "张三", load_calendar(db))
    assert service.get_request(db, number, date(2026, 3, 16))["overdue"] is False
    assert service.get_request(db, number, date(2026, 3, 17))["overdue"] is True
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
