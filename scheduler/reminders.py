"""The staff's working-day reminder (办理提醒), pushed to their own groups as an internal notice: the disclosure
requests that need doing (disclosure/digest.py) and the notices that need a person (scheduler/attention.py).

It goes through the outbox like any notice (rate limits, retries, `notice show N` per group), once per working
day at `[reminders] at`, or later that day within `misfire_grace` if the gateway was down then. It is written
by the program from numbers and dates only, so it skips the two-person review that staff-written notices need.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

import clock
from config.settings import RemindersConfig
from disclosure import digest
from disclosure.workdays import load_calendar
from platforms import Message
from scheduler import attention, groups, notices
from scheduler.templates import REMINDER_KIND
from store import bump, dumps, get_meta, set_meta

__all__ = ["compose", "queue", "due_time", "missed_today"]

log = logging.getLogger(__name__)
_DECIDED = "reminders_day"  # meta: the last day whose reminder was sent or found to have nothing to say


def due_time(config: RemindersConfig, now: datetime) -> datetime:
    """Today's reminder time, Asia/Shanghai."""
    hour, minute = config.hour_minute
    return now.astimezone(clock.TZ).replace(hour=hour, minute=minute, second=0, microsecond=0)


def compose(db: Database, now: datetime, ahead: int = digest.AHEAD) -> tuple[dict[str, Any], Message | None]:
    """(what stands today, as data; the message, or None when nothing needs doing)."""
    today = now.astimezone(clock.TZ).date()
    requests = digest.build(db, load_calendar(db), today, ahead)
    undelivered, recalls = attention.undelivered(db, now), attention.unconfirmed_recalls(db, now)
    data = {"day": today.isoformat(), "requests": requests.as_dict(), "undelivered": undelivered,
            "unconfirmed_recalls": recalls}
    sections = digest.lines(requests, ahead) + attention.lines(undelivered, recalls)
    if not sections:
        return data, None
    sections.append("详情：python bot.py requests show 编号 / notice show 编号；全部待督办：python bot.py requests list --overdue")
    return data, Message(title=f"今日待办（{today.isoformat()}）", body="\n\n".join(sections))


def queue(db: Database, config: RemindersConfig, now: datetime) -> int | None:
    """Today's reminder as a notice with one send due now; None on a day off, when today's was already
    decided (queued, or nothing needed doing then: no message is sent to say so), or when `to` matches no group."""
    today = now.astimezone(clock.TZ).date().isoformat()
    if not load_calendar(db).is_workday(date.fromisoformat(today)) or get_meta(db, _DECIDED) == today:
        return None
    if not groups.select_groups(db, config.to):
        log.warning("[reminders] to = %r matches no group: today's reminder reaches nobody (groups list)", config.to)
        return None
    set_meta(db, _DECIDED, today)  # once a day: a restart within the grace does not ask again
    _, message = compose(db, now, config.ahead)
    if message is None:
        return None
    stamp = clock.iso(now)
    notice = {"kind": REMINDER_KIND, "title": message.title, "body": message.body, "fields": {"day": today},
              "audience": config.to}
    notice_id = int(db["notices"].insert({  # type: ignore[arg-type]
        **notice, "fields": dumps(notice["fields"]), "status": "scheduled", "author": "system", "approver": "system",
        "approved_hash": notices.content_hash(notice), "created_at": stamp, "updated_at": stamp}).last_pk)
    notices.audit(db, notice_id, "system", "create", "程序生成的内部办理提醒（只含编号和日期），不经人工审核")
    db["sends"].insert({"notice_id": notice_id, "n": 1, "kind": "notice", "due_at": stamp, "status": "pending"})
    bump(db, "notices")
    return notice_id


def missed_today(config: RemindersConfig, now: datetime, grace: float) -> bool:
    """At start: today's time has passed while the gateway was down, but within the grace for late sends."""
    due = due_time(config, now)
    return due <= now <= due + timedelta(seconds=grace)
