"""Scheduling: cron in Asia/Shanghai, misfire inside and outside grace, restarts, the CLI-to-gateway poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlite_utils import Database

import clock
from config.settings import GroupConfig, RemindersConfig, SchedulerConfig, Settings
from errors import InvalidInput
from platforms import Message, Platform, Target
from scheduler import Scheduler, groups, jobs, notices
from store import Store, open_db, transaction

TZ = clock.TZ
GROUPS = (GroupConfig("餐饮-东区", "bot-a", "", ("餐饮", "东区")), GroupConfig("餐饮-西区", "bot-b", "", ("餐饮",)),
          GroupConfig("药店", "bot-a", "x", ("药店",)))


class Recorder(Platform):
    """An in-test adapter: keeps what it was asked to send."""

    name: ClassVar[str] = "recorder"
    per_minute: ClassVar[int] = 6000

    def __init__(self, bot: str, sent: list[tuple[str, str, str]]) -> None:
        super().__init__(bot, {})
        self.sent = sent

    def render(self, message: Message) -> list[dict[str, Any]]:
        return [{"text": f"{message.title}\n{message.body}"}]

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        self.sent.append((target.bot, target.chat, body["text"]))


class FakeClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "jobs.db"
    db = open_db(path)
    groups.sync_config_groups(db, GROUPS)
    db.close()
    yield path


def with_db(path: Path, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What the CLI does: its own connection, one call, closed."""
    db = open_db(path)
    try:
        with transaction(db):
            return fn(db, *args, **kwargs)
    finally:
        db.close()


def approved_notice(db: Database, kind: str = "通知公告", **fields: str) -> int:
    notice_id = int(notices.create_notice(db, kind, "标题", "正文原样", "餐饮", fields, "alice")["id"])
    notices.submit(db, notice_id, "alice")
    notices.approve(db, notice_id, "bob")
    return notice_id


class Harness:
    """A real Store and Scheduler on a file, with a fake clock and recording adapters."""

    def __init__(self, path: Path, now: FakeClock, grace: float = 3600.0, poll: float = 0.05) -> None:
        self.path, self.now, self.sent = path, now, []
        self.settings = Settings(db=str(path), scheduler=SchedulerConfig(misfire_grace=grace, poll_interval=poll))
        self.store: Store | None = None
        self.scheduler: Scheduler | None = None

    async def start(self) -> Scheduler:
        self.store = Store(self.path)
        self.store.start()
        adapters = {b: Recorder(b, self.sent) for b in ("bot-a", "bot-b")}
        self.scheduler = Scheduler(self.store, self.settings, adapters, lambda: None, now=self.now, retry_base=0.01)
        await self.scheduler.start()
        return self.scheduler

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.store is not None:
            await self.store.close()
        self.scheduler = self.store = None

    async def wait_sent(self, count: int, timeout: float = 5.0) -> None:
        for _ in range(int(timeout / 0.02)):
            if len(self.sent) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} sends, got {len(self.sent)}")


@pytest.fixture
async def harness(db_path: Path) -> AsyncIterator[Harness]:
    h = Harness(db_path, FakeClock(at("2026-11-27T10:00:00")))
    yield h
    await h.stop()


def test_cron_next_fire_time_is_shanghai_and_crontab_weekdays() -> None:
    trigger = jobs.parse_cron("0 9 * * 1")  # crontab 1 = Monday (APScheduler 3 alone would say Tuesday)
    nxt = trigger.get_next_fire_time(None, at("2026-11-27T10:00:00"))  # a Friday
    assert nxt == at("2026-11-30T09:00:00") and str(nxt.tzinfo) == "Asia/Shanghai"
    assert jobs.parse_cron("30 8 * * 0").get_next_fire_time(None, at("2026-11-27T10:00")) == at("2026-11-29T08:30")
    assert jobs.parse_cron("0 9 * * 1-5").get_next_fire_time(None, at("2026-11-28T10:00")) == at("2026-11-30T09:00")
    with pytest.raises(InvalidInput, match="5 段"):
        jobs.parse_cron("0 9 * *")
    with pytest.raises(InvalidInput, match="有误"):
        jobs.parse_cron("0 25 * * *")


@pytest.mark.parametrize(("dow", "days"), [
    ("1-5/2", ["11-30", "12-02", "12-04"]),  # Mon, Wed, Fri (passed on as numbers: Tue, Thu, Sat)
    ("*/2", ["11-28", "11-29", "12-01", "12-03", "12-05"]),  # Sun, Tue, Thu, Sat
    ("0-6", ["11-28", "11-29", "11-30", "12-01", "12-02", "12-03", "12-04", "12-05"]),  # every day (was refused)
    ("7", ["11-29"]), ("mon-fri", ["11-30", "12-01", "12-02", "12-03", "12-04"]),
])
def test_crontab_weekday_lists_ranges_and_steps(dow: str, days: list[str]) -> None:
    trigger, moment, fired = jobs.parse_cron(f"0 9 * * {dow}"), at("2026-11-27T10:00"), []  # a Friday
    while (moment := trigger.get_next_fire_time(None, moment + timedelta(seconds=1))) < at("2026-12-05T10:00"):
        fired.append(moment.strftime("%m-%d"))
    assert fired == days
    for bad in ("8", "5-1", "1-", "*/0"):
        with pytest.raises(InvalidInput, match="有误"):
            jobs.parse_cron(f"0 9 * * {bad}")


def test_schedule_validation(db_path: Path) -> None:
    now = at("2026-11-27T10:00")
    notice_id = with_db(db_path, lambda db: int(notices.create_notice(db, "通知公告", "t", "b", "*", {}, "a")["id"]))
    with pytest.raises(InvalidInput, match="当前为“草稿”，须先提交并审核通过才能排期"):
        with_db(db_path, jobs.schedule, notice_id, {"now": True}, now=now)
    with_db(db_path, notices.cancel, notice_id, "a")
    with pytest.raises(InvalidInput, match="当前为“已撤销”，不能重新排期；如需再发，请另建一条通知"):  # not "须先审核"
        with_db(db_path, jobs.schedule, notice_id, {"now": True}, now=now)
    notice_id = with_db(db_path, approved_notice)
    with pytest.raises(InvalidInput, match="已经过去"):
        with_db(db_path, jobs.schedule, notice_id, {"at": "2026-11-26T09:00"}, now=now)
    with pytest.raises(InvalidInput, match="无法识别"):
        with_db(db_path, jobs.schedule, notice_id, {"at": "明天"}, now=now)
    with pytest.raises(InvalidInput, match="永远不会触发"):  # 31 February: a notice that would never go out
        with_db(db_path, jobs.schedule, notice_id, {"cron": "0 9 31 2 *"}, now=now)
    with pytest.raises(InvalidInput, match="间隔不到 1 小时"):  # every group, every minute
        with_db(db_path, jobs.schedule, notice_id, {"cron": "* * * * *"}, now=now)
    notice = with_db(db_path, jobs.schedule, notice_id, {"at": "2026-12-01T09:00:30+08:00"}, now=now)
    assert notice["status"] == "scheduled"


def test_next_workday_and_before_event_plans(db_path: Path) -> None:
    now = at("2026-11-27T10:00")  # Friday
    notice_id = with_db(db_path, approved_notice)
    assert with_db(db_path, jobs.schedule, notice_id, {"next_workday": "09:00"}, now=now)["warning"] == ""
    sends = with_db(db_path, notices.show, notice_id)["sends"]
    assert [s["due_at"] for s in sends] == ["2026-11-30T09:00:00+08:00"]
    later = with_db(db_path, approved_notice)  # in a year whose 调休 schedule is not confirmed: say so
    warned = with_db(db_path, jobs.schedule, later, {"next_workday": "09:00"}, now=at("2027-02-05T10:00"))
    assert warned["warning"] == "2027 年调休安排未确认，下一个工作日为预估，请核对"
    assert warned["warning"] in with_db(db_path, notices.show, later)["audit"][-1]["detail"]
    training = with_db(db_path, approved_notice, "培训通知", start="2026-12-10T09:30")
    with_db(db_path, jobs.schedule, training, {"before_event": "3d,1d,1h"}, now=now)
    sends = with_db(db_path, notices.show, training)["sends"]
    assert [(s["kind"], s["due_at"][:16]) for s in sends] == [
        ("notice", "2026-12-07T09:30"), ("reminder", "2026-12-09T09:30"), ("reminder", "2026-12-10T08:30")]
    recall = with_db(db_path, approved_notice, "问题产品下架通知", reply_by="2026-11-28T17:00")
    with_db(db_path, jobs.schedule, recall, {"now": True}, now=now)
    kinds = [s["kind"] for s in with_db(db_path, notices.show, recall)["sends"]]
    assert kinds == ["notice", "ack_reminder", "ack_reminder"]  # capped at two reminders


async def test_jobs_are_rebuilt_with_explicit_zone_and_grace(harness: Harness) -> None:
    notice_id = with_db(harness.path, approved_notice)
    with_db(harness.path, jobs.schedule, notice_id, {"at": "2026-12-01T09:00"}, now=harness.now())
    cron_id = with_db(harness.path, approved_notice)
    with_db(harness.path, jobs.schedule, cron_id, {"cron": "0 9 * * 1"}, now=harness.now())
    scheduler = await harness.start()
    job = scheduler.aps.get_job(f"notice:{notice_id}:1")
    assert job.next_run_time == at("2026-12-01T09:00") and str(job.trigger.run_date.tzinfo) == "Asia/Shanghai"
    assert job.misfire_grace_time == 3600 and job.coalesce is True
    assert job.func is jobs.release_notice and job.args == (notice_id, 1)
    cron = scheduler.aps.get_job(f"notice:{cron_id}:cron")
    assert str(cron.trigger.timezone) == "Asia/Shanghai" and cron.misfire_grace_time == 3600
    assert cron.trigger.get_next_fire_time(None, harness.now()) == at("2026-11-30T09:00")


async def test_cron_round_fires_once_on_a_fake_clock(harness: Harness) -> None:
    notice_id = with_db(harness.path, approved_notice)
    with_db(harness.path, jobs.schedule, notice_id, {"cron": "0 9 * * 1"}, now=harness.now())
    await harness.start()
    harness.now.moment = at("2026-11-30T09:00:01")
    await jobs.fire_cron(notice_id)
    await jobs.fire_cron(notice_id)  # the same round again: nothing new
    await harness.wait_sent(2)
    shown = with_db(harness.path, notices.show, notice_id)
    assert [(s["due_at"], s["status"]) for s in shown["sends"]] == [("2026-11-30T09:00:00+08:00", "fired")]
    await asyncio.sleep(0.1)
    assert len(harness.sent) == 2 and shown["status"] in ("scheduled", "sending")


async def test_misfire_within_grace_is_sent_late_and_marked(harness: Harness) -> None:
    notice_id = with_db(harness.path, approved_notice)
    with_db(harness.path, jobs.schedule, notice_id, {"at": "2026-11-27T10:30"}, now=harness.now())
    harness.now.moment = at("2026-11-27T11:00")  # the gateway was down at 10:30; 30 min < 1 h grace
    await harness.start()
    await harness.wait_sent(2)
    send = with_db(harness.path, notices.show, notice_id)["sends"][0]
    assert send["status"] == "fired" and send["late"] is True and send["late_text"] == "补发"


async def test_misfire_beyond_grace_is_marked_missed(harness: Harness) -> None:
    notice_id = with_db(harness.path, approved_notice)
    with_db(harness.path, jobs.schedule, notice_id, {"at": "2026-11-27T10:30"}, now=harness.now())
    harness.now.moment = at("2026-11-27T12:00")
    await harness.start()
    shown = with_db(harness.path, notices.show, notice_id)
    assert shown["sends"][0]["status"] == "missed" and shown["status"] == "missed"
    assert shown["deliveries"] == [] and harness.sent == []
    assert shown["audit"][-1]["action"] == "missed"


async def test_restart_rebuilds_without_sending_twice(harness: Harness) -> None:
    notice_id = with_db(harness.path, approved_notice)
    with_db(harness.path, jobs.schedule, notice_id, {"at": "2026-11-27T10:05"}, now=harness.now())
    scheduler = await harness.start()
    assert scheduler.aps.get_job(f"notice:{notice_id}:1") is not None
    harness.now.moment = at("2026-11-27T10:05:00")
    await jobs.release_notice(notice_id, 1)  # what APScheduler calls at 10:05
    await harness.wait_sent(2)
    await harness.stop()
    await harness.start()  # restart: the send is fired, nothing is rebuilt or resent
    await jobs.release_notice(notice_id, 1)
    await asyncio.sleep(0.2)
    assert len(harness.sent) == 2
    assert harness.scheduler.aps.get_job(f"notice:{notice_id}:1") is None
    assert {d["status"] for d in with_db(harness.path, notices.show, notice_id)["deliveries"]} == {"sent"}


async def test_cli_schedule_is_picked_up_by_the_running_gateway(harness: Harness) -> None:
    h = Harness(harness.path, clock.now)  # type: ignore[arg-type]
    try:
        await h.start()
        notice_id = with_db(h.path, approved_notice)
        with_db(h.path, jobs.schedule, notice_id, {"now": True})
        await h.wait_sent(2, timeout=5.0)
        shown = with_db(h.path, notices.show, notice_id)
        assert sorted(d["group"] for d in shown["deliveries"]) == ["餐饮-东区", "餐饮-西区"]
        assert shown["status"] == "done" and shown["sends"][0]["late"] is False
    finally:
        await h.stop()


# --- the staff's daily reminder (办理提醒) -------------------------------------------------------------------
def _staff_and_overdue(db: Database) -> str:
    """A staff group, one with subscriptions that do not name the reminder, and a request four days late."""
    from disclosure import requests
    from disclosure.workdays import load_calendar

    groups.add_group(db, "工作人员", "bot-b", "", ["内部"])
    groups.add_group(db, "局办公室", "bot-a", "office", ["内部"])
    groups.subscribe(db, "局办公室", "培训通知")
    return requests.register_request(db, "某企业的许可档案", datetime(2026, 10, 26).date(), "张三",
                                     load_calendar(db), now=at("2026-11-20T09:00"))["id"]


def _with_reminders(harness: Harness, to: str = "内部", at_time: str = "09:00") -> None:
    from dataclasses import replace

    harness.settings = replace(harness.settings, reminders=RemindersConfig(to=to, at=at_time))


async def test_the_reminder_goes_to_the_staff_groups_once_a_working_day(harness: Harness) -> None:
    number = with_db(harness.path, _staff_and_overdue)
    _with_reminders(harness)
    harness.now.moment = at("2026-11-27T08:59:00")  # a Friday, before the reminder's time
    scheduler = await harness.start()
    job = scheduler.aps.get_job("reminders:daily")
    assert job is not None and str(job.trigger) == "cron[hour='9', minute='0']" and job.trigger.timezone == TZ
    await asyncio.sleep(0.1)
    assert harness.sent == []
    harness.now.moment = at("2026-11-27T09:00:00")
    await jobs.send_reminder()  # what APScheduler calls at 09:00
    await harness.wait_sent(2)
    assert sorted(bot for bot, _, _ in harness.sent) == ["bot-a", "bot-b"]  # not the 餐饮 or 药店 groups
    text = harness.sent[0][2]
    assert text.startswith("办理提醒：今日待办（2026-11-27）") and f"{number}：期限 2026-11-23" in text
    assert "某企业" not in text and "收到请回复" not in text
    assert await scheduler.send_reminder() == 0  # the same day again: nothing
    await harness.stop()
    harness.now.moment = at("2026-11-27T09:30:00")  # a restart within the grace: today's was sent already
    await harness.start()
    await asyncio.sleep(0.1)
    assert len(harness.sent) == 2
    assert with_db(harness.path, notices.list_notices) == []  # the daily reminder does not bury staff's notices
    [listed] = with_db(harness.path, notices.list_notices, reminders=True)
    shown = with_db(harness.path, notices.show, listed["id"])
    assert {d["group"]: d["status"] for d in shown["deliveries"]} == {"工作人员": "sent", "局办公室": "sent"}


async def test_a_reminder_missed_while_down_is_sent_late_within_the_grace(harness: Harness) -> None:
    with_db(harness.path, _staff_and_overdue)
    _with_reminders(harness)
    harness.now.moment = at("2026-11-27T09:40:00")  # down at 09:00; the grace is 1 h
    await harness.start()
    await harness.wait_sent(2)


async def test_no_reminder_on_a_day_off_past_the_grace_or_with_nothing_to_do(harness: Harness) -> None:
    with_db(harness.path, _staff_and_overdue)
    _with_reminders(harness)
    harness.now.moment = at("2026-11-28T09:10:00")  # Saturday
    scheduler = await harness.start()
    assert await scheduler.send_reminder() == 0
    await harness.stop()
    harness.now.moment = at("2026-11-27T11:00:00")  # two hours after 09:00: beyond the grace, wait for Monday
    await harness.start()
    await asyncio.sleep(0.1)
    assert harness.sent == []
    await harness.stop()
    with_db(harness.path, lambda db: db.execute("DELETE FROM requests"))
    harness.now.moment = at("2026-11-30T09:00:00")
    scheduler = await harness.start()
    assert await scheduler.send_reminder() == 0 and harness.sent == []
    await harness.stop()
    # Something to do only after 09:00: a restart within the grace does not ask again the same day.
    from disclosure.requests import open_possible_request

    with_db(harness.path, open_possible_request, "某问题", "u", "webhook", "b", "c")
    harness.now.moment = at("2026-11-30T09:20:00")
    await harness.start()
    await asyncio.sleep(0.1)
    assert harness.sent == []


def test_reminder_config_is_checked(tmp_path: Path) -> None:
    from config import load_settings
    from errors import ConfigError

    def load(section: str) -> Any:
        path = tmp_path / "c.toml"
        path.write_text(f"[reminders]\n{section}\n", encoding="utf-8")
        return load_settings(path, environ={})

    assert load('to = "内部"\nat = "08:30"\nahead = 3').reminders.hour_minute == (8, 30)
    assert load('to = "内部+!外包"\nat = "8:05"').reminders.at == "08:05"
    for section, message in (('to = "*"', "不能用 \\*"), ('to = "＊"', "不能用 \\*"),
                             ('to = "!内部"', "也不能只写 ! 项"), ('to = "内部,!外包"', "每个“或”项都要写明群名或标签"),
                             ('to = "内部+"', r"\[reminders\] to: 目标表达式"),
                             ('at = "9:0"', r"\[reminders\] at: 应为 HH:MM 格式的时刻"),
                             ('at = "24:00"', "HH:MM"), ("ahead = 0", r"\[reminders\] ahead: 应为 1–20，现为 0"),
                             ("every = 1", r"\[reminders\] every: 未知的键")):
        with pytest.raises(ConfigError, match=message):
            load(section)


def test_the_reminder_names_notices_that_need_a_person(db_path: Path) -> None:
    from scheduler import attention, outbox, reminders

    adapters = {b: Recorder(b, []) for b in ("bot-a", "bot-b")}

    def broadcast(db: Database, notice_id: int, when: str) -> dict[str, int]:
        jobs.schedule(db, notice_id, {"at": when}, now=at(when) - timedelta(hours=1))
        outbox.release(db, notice_id, 1, adapters, at(when))
        return {grp: row_id for row_id, grp in db.execute("SELECT id, grp FROM deliveries WHERE notice_id = ?",
                                                          [notice_id])}

    def setup(db: Database) -> tuple[int, int]:
        recall = approved_notice(db, "问题产品下架通知", product="某品牌月饼", reply_by="2026-11-25T17:00")
        for row_id in broadcast(db, recall, "2026-11-20T09:00").values():
            outbox.record(db, row_id, "sent", at("2026-11-20T09:01"))
        notices.record_ack(db, recall, "餐饮-东区", "已下架", "店主")
        other = approved_notice(db)
        rows = broadcast(db, other, "2026-11-26T09:00")
        outbox.record(db, rows["餐饮-东区"], "dead", at("2026-11-26T09:01"), "dingtalk 310000: keywords not in content")
        assert outbox.claim(db, "bot-b", at("2026-11-26T09:01"), 60)["grp"] == "餐饮-西区"
        outbox.recover(db)  # the gateway stopped while posting to 餐饮-西区: uncertain
        return recall, other

    recall, other = with_db(db_path, setup)
    now = at("2026-11-27T09:00")
    assert with_db(db_path, attention.undelivered, now) == [{"id": other, "title": "标题", "dead": 1, "uncertain": 1}]
    assert with_db(db_path, attention.unconfirmed_recalls, now) == [
        {"id": recall, "title": "标题", "reply_by": "2026-11-25 17:00", "groups": ["餐饮-西区"]}]
    data, message = with_db(db_path, reminders.compose, now)
    assert message is not None and data["requests"]["pending"] == 0
    assert f"通知 {other}《标题》：1 个群未送达；1 个群发送中断、是否送达待确认" in message.body
    assert f"通知 {recall}《标题》：回复期限 2026-11-25 17:00，1 个群未回复“已下架”（餐饮-西区）" in message.body
    # A week on, staff have seen both every working day: they leave the reminder.
    assert with_db(db_path, reminders.compose, at("2026-12-04T09:00"))[1] is None


async def test_the_reminder_is_not_what_a_staff_group_acknowledges_and_needs_a_group(harness: Harness) -> None:
    from scheduler import reminders

    def notice_to_staff(db: Database) -> int:
        _staff_and_overdue(db)
        notice_id = int(notices.create_notice(db, "通知公告", "内部会议", "正文", "内部", {}, "alice")["id"])
        notices.submit(db, notice_id, "alice")
        notices.approve(db, notice_id, "bob")
        jobs.schedule(db, notice_id, {"now": True}, now=at("2026-11-27T08:30"))
        return notice_id

    notice_id = with_db(harness.path, notice_to_staff)
    _with_reminders(harness)
    harness.now.moment = at("2026-11-27T08:30:00")
    scheduler = await harness.start()
    await harness.wait_sent(1)  # 工作人员 only: 局办公室 subscribes to 培训通知 alone
    harness.now.moment = at("2026-11-27T09:00:00")
    await scheduler.send_reminder()
    await harness.wait_sent(3)
    acked = with_db(harness.path, notices.acknowledge, "工作人员", "收到")
    assert acked is not None and acked["id"] == notice_id  # the meeting notice, not the reminder sent after it
    assert with_db(harness.path, reminders.queue, RemindersConfig(to="不存在"), at("2026-11-30T09:00")) is None
