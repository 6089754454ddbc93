"""Send times: planning them into the `sends` table, and the job functions APScheduler calls.

The table is the truth and APScheduler only the alarm clock: `plan()` reads pending sends at start and
whenever the CLI changes something, and job functions take ids only (`release_notice(notice_id, n)`), so
any job can be rebuilt from rows. A restart never sends twice: sends and deliveries have UNIQUE keys.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.cron import CronTrigger
from sqlite_utils import Database

import clock
from errors import InvalidInput
from scheduler import notices, templates
from store import bump

if TYPE_CHECKING:
    from scheduler import Scheduler

__all__ = ["schedule", "plan", "parse_cron", "parse_offsets", "next_workday", "record_cron_round",
           "release_notice", "fire_cron", "send_reminder", "bind", "unbind", "latest_cron_time"]

_OFFSET = re.compile(r"^(\d+)\s*(d|h|m|天|小时|分钟|分)$")
_UNITS = {"d": 86400, "天": 86400, "h": 3600, "小时": 3600, "m": 60, "分钟": 60, "分": 60}
_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SCHEDULABLE = ("approved", "scheduled")
_MAX_OFFSET = 365 * 86400  # seconds: a reminder a year ahead is already generous
_MIN_CRON_GAP = timedelta(hours=1)
_runtime: list[Scheduler] = []


def parse_cron(expr: str) -> CronTrigger:
    """Standard crontab (0 or 7 = Sunday), always Asia/Shanghai: APScheduler 3 counts weekdays from Monday."""
    fields = (expr or "").split()
    if len(fields) != 5:
        raise InvalidInput(f"--cron 需要 5 段（分 时 日 月 周），如 \"0 9 * * 1\"：{expr!r}")
    try:
        return CronTrigger(minute=fields[0], hour=fields[1], day=fields[2], month=fields[3],
                           day_of_week=_weekdays(fields[4]), timezone=clock.TZ)
    except ValueError as exc:
        raise InvalidInput(f"--cron 表达式有误 {expr!r}：{exc}") from None


def _weekdays(field: str) -> str:
    """Crontab's day of week (0 and 7 are Sunday; lists, ranges, steps) as day names, because APScheduler 3 counts
    from Monday: passed on as numbers, 1-5/2 fired Tue/Thu/Sat instead of Mon/Wed/Fri. Names pass through."""
    if field == "*" or not re.fullmatch(r"[\d,\-*/]+", field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        low, dash, high = span.partition("-")
        if dash and not high:  # "1-"; int("") below refuses "-1"
            raise ValueError(f"day of week {part!r}: a range needs both ends")
        first, last = (0, 7) if span == "*" else (int(low), int(high) if high else (7 if step else int(low)))
        if not (0 <= first <= last <= 7) or step and int(step) < 1:
            raise ValueError(f"day of week {part!r}: expected 0-7 (0 and 7 are Sunday)")
        days.update(day % 7 for day in range(first, last + 1, int(step or 1)))
    return ",".join(_DOW[day] for day in sorted(days))


def parse_offsets(text: str) -> list[timedelta]:
    """`3d,1d,1h` → offsets before the event, largest first."""
    out: list[timedelta] = []
    for item in (text or "").replace("，", ",").split(","):
        m = _OFFSET.match(item.strip())
        if not m or int(m.group(1)) == 0:
            raise InvalidInput(f"--before-event 的 {item.strip()!r} 有误：应为 3d,1d,1h 这样的列表（d 天 h 小时 m 分钟）")
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
        if seconds > _MAX_OFFSET:
            raise InvalidInput(f"--before-event 的 {item.strip()!r} 太长：最多提前 365 天")
        out.append(timedelta(seconds=seconds))
    return sorted(set(out), reverse=True)


def next_workday(db: Database, now: datetime, at: str = "09:00") -> datetime:
    """The next working day (调休 aware, staff overrides first) at `at`, Asia/Shanghai."""
    from disclosure.workdays import load_calendar

    try:
        hour, minute = (int(x) for x in (at or "09:00").split(":"))
        clock_time = time(hour, minute)
    except ValueError:
        raise InvalidInput(f"下一个工作日的时间应为 HH:MM：{at!r}") from None
    day = load_calendar(db).add_workdays(now.astimezone(clock.TZ).date(), 1)
    return datetime.combine(day, clock_time, tzinfo=clock.TZ)


def _resolve_at(db: Database, at: str, now: datetime) -> datetime:
    if at.strip().lower().startswith("next-workday"):
        rest = at.strip()[len("next-workday"):].lstrip("@ T")
        return next_workday(db, now, rest or "09:00")
    moment = templates.parse_when(at, "--at")
    if moment < now - timedelta(minutes=1):
        raise InvalidInput(f"--at {at} 已经过去（现在是 {clock.iso(now)}）")
    return moment


def _times(db: Database, notice: dict[str, Any], now: datetime, spec: dict[str, Any]) -> list[tuple[str, datetime]]:
    if spec.get("now"):
        return [("notice", now)]
    if spec.get("at"):
        return [("notice", _resolve_at(db, spec["at"], now))]
    if spec.get("next_workday"):
        return [("notice", next_workday(db, now, spec["next_workday"]))]
    start_text = notice["fields"].get("start")
    if not start_text:
        raise InvalidInput("--before-event 需要通知有 start 字段（培训时间）")
    start = templates.parse_when(start_text, "start")
    times = [start - off for off in parse_offsets(spec["before_event"])]
    times = [t for t in times if t >= now - timedelta(minutes=1)]
    if not times:
        raise InvalidInput(f"培训时间 {start_text} 之前的提醒时间都已过去")
    return [("notice" if i == 0 else "reminder", t) for i, t in enumerate(times)]


def _ack_reminders(notice: dict[str, Any], first: datetime) -> list[tuple[str, datetime]]:
    """Recalls: at most two reminders to groups that have not answered by reply_by."""
    reply_by = notice["fields"].get("reply_by")
    if notice["kind"] != "问题产品下架通知" or not reply_by:
        return []
    due = templates.parse_when(reply_by, "reply_by")
    return [("ack_reminder", t) for t in (due, due + timedelta(days=1)) if t > first]


def schedule(db: Database, notice_id: int | str, spec: dict[str, Any], by: str = "staff",
             now: datetime | None = None) -> dict[str, Any]:
    """Write the send times of an approved notice (replacing pending ones); the gateway picks them up."""
    now = now or clock.now()
    notice = notices.get_notice(db, notice_id)
    if notice["status"] not in _SCHEDULABLE:
        why = {"draft": "须先提交并审核通过才能排期", "submitted": "须先审核通过才能排期",
               "rejected": "须修改后重新提交审核", "sending": "正在发送，不能重新排期"}.get(
            notice["status"], "不能重新排期；如需再发，请另建一条通知")
        raise InvalidInput(f"通知 {notice['id']} 当前为“{notice['status_text']}”，{why}")
    if notices.content_hash(notice) != notice["approved_hash"]:
        raise InvalidInput(f"通知 {notice['id']} 的内容与审核时不一致，请重新提交审核")
    if notices.delivered_groups(db, notice["id"]) and not notice["cron"]:  # a second broadcast, reminders dropped
        raise InvalidInput(f"通知 {notice['id']} 已发送，不能重新排期；未送达的群由发送队列自动重试")
    db.execute("UPDATE sends SET status = 'cancelled' WHERE notice_id = ? AND status = 'pending'", [notice["id"]])
    warning = ""
    if spec.get("cron"):
        trigger = parse_cron(spec["cron"])
        first = trigger.get_next_fire_time(None, now)
        if first is None:
            raise InvalidInput(f"--cron {spec['cron']!r} 永远不会触发（例如 2 月 31 日），请检查日和月")
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
        if second is not None and second - first < _MIN_CRON_GAP:  # * * * * *: every group, every minute
            raise InvalidInput(f"--cron {spec['cron']!r} 每次间隔不到 1 小时，不宜向各群反复推送，请检查分和时")
        db.execute("UPDATE notices SET cron = ?, cron_from = ? WHERE id = ?", [spec["cron"], clock.iso(now),
                                                                               notice["id"]])
        detail = f"周期 {spec['cron']}（Asia/Shanghai）"
    else:
        db.execute("UPDATE notices SET cron = '', cron_from = '' WHERE id = ?", [notice["id"]])
        times = _times(db, notice, now, spec)
        times += _ack_reminders(notice, times[0][1])
        for kind, moment in times:
            _add_send(db, notice["id"], kind, moment)
        detail = "；".join(f"{clock.iso(t)} {kind}" for kind, t in times)
        if _by_workday(spec) and _estimated(db, times[0][1]):
            warning = f"{times[0][1].year} 年调休安排未确认，下一个工作日为预估，请核对"
            detail += f"（{warning}）"
    notices.set_status(db, notice["id"], "scheduled")
    notices.audit(db, notice["id"], by, "schedule", detail)
    return {**notices.get_notice(db, notice["id"]), "warning": warning}


def _by_workday(spec: dict[str, Any]) -> bool:
    return bool(spec.get("next_workday")) or str(spec.get("at") or "").strip().lower().startswith("next-workday")


def _estimated(db: Database, moment: datetime) -> bool:
    from disclosure.workdays import load_calendar

    return bool(load_calendar(db).is_estimated(moment.date()))


def _add_send(db: Database, notice_id: int, kind: str, due: datetime, status: str = "pending") -> int | None:
    """One send row; None when that (kind, time) is already recorded."""
    n = db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM sends WHERE notice_id = ?", [notice_id]).fetchone()[0]
    cur = db.execute("INSERT OR IGNORE INTO sends(notice_id, n, kind, due_at, status) VALUES (?, ?, ?, ?, ?)",
                     [notice_id, n, kind, clock.iso(due), status])
    return int(n) if cur.rowcount else None


def latest_cron_time(expr: str, since: datetime, now: datetime) -> datetime | None:
    """The last cron fire time in (since, now], or None."""
    trigger, last = parse_cron(expr), None
    moment = trigger.get_next_fire_time(None, since + timedelta(seconds=1))
    for _ in range(100_000):
        if moment is None or moment > now:
            break
        last = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return last


def record_cron_round(db: Database, notice_id: int, now: datetime, grace: float) -> int | None:
    """The send row for the cron time just passed; None when already recorded (a restart, a race)."""
    row = db.execute("SELECT cron, cron_from, status FROM notices WHERE id = ?", [notice_id]).fetchone()
    if not row or not row[0] or row[2] not in ("scheduled", "sending", "done", "partly_failed"):
        return None
    recorded = db.execute("SELECT MAX(due_at) FROM sends WHERE notice_id = ? AND kind = 'notice'"
                          " AND status != 'cancelled'", [notice_id]).fetchone()[0]
    since = max(filter(None, [row[1], recorded]))
    moment = latest_cron_time(row[0], datetime.fromisoformat(since), now)
    if moment is None:
        return None
    late = (now - moment).total_seconds() > grace
    n = _add_send(db, notice_id, "notice", moment, "missed" if late else "pending")
    if n is not None and late:
        notices.audit(db, notice_id, "scheduler", "missed", f"周期发送 {clock.iso(moment)} 超过补发时限")
        bump(db, "notices")
        return None
    return n


def plan(db: Database, now: datetime, grace: float) -> dict[str, Any]:
    """Pending sends split into due now (within grace), future, and missed (marked); plus cron notices."""
    due: list[tuple[int, int]] = []
    future: list[tuple[int, int, str]] = []
    missed = 0
    crons = [(r[0], r[1]) for r in db.execute("SELECT id, cron FROM notices WHERE cron != ''"
                                              " AND status IN ('scheduled', 'sending', 'done', 'partly_failed')")]
    for notice_id, _ in crons:
        record_cron_round(db, notice_id, now, grace)
    for notice_id, n, due_at in db.execute("SELECT notice_id, n, due_at FROM sends WHERE status = 'pending'"
                                           " ORDER BY due_at").fetchall():
        moment = datetime.fromisoformat(due_at)
        if moment > now:
            future.append((notice_id, n, due_at))
        elif (now - moment).total_seconds() <= grace:
            due.append((notice_id, n))
        else:
            _mark_missed(db, notice_id, n, due_at)
            missed += 1
    return {"due": due, "future": future, "cron": crons, "missed": missed}


def _mark_missed(db: Database, notice_id: int, n: int, due_at: str) -> None:
    from scheduler import outbox

    db.execute("UPDATE sends SET status = 'missed' WHERE notice_id = ? AND n = ?", [notice_id, n])
    notices.audit(db, notice_id, "scheduler", "missed", f"第 {n} 次发送（{due_at}）网关停机超过补发时限，未发送")
    outbox.refresh_status(db, notice_id)
    bump(db, "notices")


# --- the job functions APScheduler calls: ids only, resolved against the running Scheduler ----------------
def bind(scheduler: Scheduler) -> None:
    _runtime.append(scheduler)


def unbind(scheduler: Scheduler) -> None:
    if scheduler in _runtime:
        _runtime.remove(scheduler)


def _current() -> Scheduler:
    if not _runtime:
        raise RuntimeError("no Scheduler is running")
    return _runtime[-1]


async def release_notice(notice_id: int, n: int) -> None:
    """A send time has come: expand the audience into delivery rows and wake the outbox."""
    await _current().fire(notice_id, n)


async def fire_cron(notice_id: int) -> None:
    """A cron time has come: record the round (once), then release it."""
    await _current().fire_cron(notice_id)


async def send_reminder() -> None:
    """The staff's daily reminder time has come (scheduler/reminders.py)."""
    await _current().send_reminder()
