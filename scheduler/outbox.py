"""The durable outbox: one delivery row per (notice, send, group, part), written before anything is posted.

States: queued → sending → sent | failed (retried with backoff) | dead (won't be) | uncertain. `sending` is
written before the POST, so a crash leaves `sending` rows that become `uncertain` at start: staff decide
(`notice resend-uncertain`), nothing is resent silently. Each bot has its own lane and rate limiter.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

import clock
from errors import DeliveryError, InvalidInput, PermanentError, RateLimited
from platforms import Platform, Target
from platforms.limiter import MARGIN, Limiter
from scheduler import groups, notices
from scheduler.templates import REMINDER_KIND
from store import Store, bump, dumps, get_meta, loads, set_meta

__all__ = ["release", "refresh_status", "claim", "record", "recover", "recent_posts", "resend_uncertain", "summary",
           "RANK", "Outbox"]

log = logging.getLogger(__name__)
RANK = {"queued": 0, "failed": 1, "sending": 2, "uncertain": 3, "dead": 4, "sent": 5}  # least advanced first
ACTIVE = ("queued", "sending", "failed")
MAX_ATTEMPTS = 8
TIMED_OUT_THEN_SENT = "一次发送超时后重发成功：平台可能两次都收下了，该群或收到两条"
_PAUSE_KEY = "outbox_pause:"  # + bot: until when the platform told it to wait (meta table)


def _targets(db: Database, notice: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    if kind != "ack_reminder":
        return [g for g in groups.select_groups(db, notice["audience"])
                if notice["kind"] == REMINDER_KIND or groups.receives(g, notice["kind"])]
    names = {r[0] for r in db.execute(
        "SELECT DISTINCT d.grp FROM deliveries d JOIN sends s ON s.notice_id = d.notice_id AND s.n = d.send_n"
        " WHERE d.notice_id = ? AND s.kind = 'notice' AND d.status = 'sent' AND d.grp NOT IN"
        " (SELECT grp FROM notice_acks WHERE notice_id = ?)", [notice["id"], notice["id"]])}
    return [g for g in groups.list_groups(db) if g["name"] in names]


def _rows(db: Database, notice: dict[str, Any], n: int, kind: str, group: dict[str, Any], adapter: Platform | None,
          now: str) -> list[dict[str, Any]]:
    base = {"notice_id": notice["id"], "send_n": n, "grp": group["name"], "bot": group["bot"],
            "chat": group["chat"], "next_at": now, "updated_at": now, "attempts": 0}
    if adapter is None or not adapter.can_push:
        return [{**base, "part": 1, "platform": "", "body": "{}", "status": "dead",
                 "error": f"机器人 {group['bot']} 未配置或不能推送", "code": "no_bot"}]
    # 收到 in the chat is read only where the bot receives and the group's chat id tells its messages apart.
    code = "" if adapter.can_receive and group["chat"] else notices.ack_code(db, notice["id"], group["name"])
    parts = adapter.render(notices.message_for(notice, kind, code, at_bot=adapter.mention_to_reply))
    return [{**base, "part": i, "platform": adapter.name, "body": dumps(body), "status": "queued"}
            for i, body in enumerate(parts, 1)]


def release(db: Database, notice_id: int, n: int, adapters: Mapping[str, Platform], now: datetime) -> int:
    """Fire one send: mark it fired (once) and insert its delivery rows; returns rows added."""
    row = db.execute("SELECT kind, due_at, status FROM sends WHERE notice_id = ? AND n = ?", [notice_id, n]).fetchone()
    if row is None or row[2] != "pending":
        return 0
    notice = notices.get_notice(db, notice_id)
    if notices.content_hash(notice) != notice["approved_hash"]:
        db.execute("UPDATE sends SET status = 'cancelled' WHERE notice_id = ? AND n = ?", [notice_id, n])
        notices.audit(db, notice_id, "scheduler", "refuse", "内容与审核时不一致，未发送")
        return 0
    late = int((now - datetime.fromisoformat(row[1])).total_seconds() > 60)
    db.execute("UPDATE sends SET status = 'fired', fired_at = ?, late = ? WHERE notice_id = ? AND n = ?",
               [clock.iso(now), late, notice_id, n])
    stamp = clock.iso(now)
    rows = [r for g in _targets(db, notice, row[0])
            for r in _rows(db, notice, n, row[0], g, adapters.get(g["bot"]), stamp)]
    before = db.execute("SELECT COUNT(*) FROM deliveries WHERE notice_id = ?", [notice_id]).fetchone()[0]
    db["deliveries"].insert_all(rows, ignore=True)
    added = db.execute("SELECT COUNT(*) FROM deliveries WHERE notice_id = ?", [notice_id]).fetchone()[0] - before
    groups_n = len({r["grp"] for r in rows})
    notices.audit(db, notice_id, "scheduler", "release",
                  f"第 {n} 次（{row[0]}）：{groups_n} 个群，{added} 条" + ("，补发" if late else ""))
    refresh_status(db, notice_id)
    return int(added)


def refresh_status(db: Database, notice_id: int) -> None:
    """The notice's status follows its sends and deliveries once scheduling has begun."""
    row = db.execute("SELECT status, cron FROM notices WHERE id = ?", [notice_id]).fetchone()
    if row is None or row[0] not in ("scheduled", "sending", "done", "partly_failed", "missed"):
        return
    if row[0] == "sending" and db.execute("SELECT 1 FROM deliveries WHERE notice_id = ? AND status IN"
                                          " ('queued', 'sending', 'failed') LIMIT 1", [notice_id]).fetchone():
        return  # the common case while a broadcast runs: nothing to recount
    counts = dict(db.execute("SELECT status, COUNT(*) FROM deliveries WHERE notice_id = ? GROUP BY status",
                             [notice_id]).fetchall())
    sends = dict(db.execute("SELECT status, COUNT(*) FROM sends WHERE notice_id = ? GROUP BY status",
                            [notice_id]).fetchall())
    if any(counts.get(s) for s in ACTIVE):
        new = "sending"
    elif sends.get("pending") or row[1]:
        new = "scheduled"
    elif counts:
        new = "done" if set(counts) == {"sent"} else "partly_failed"
    else:
        new = "done" if sends.get("fired") else "missed" if sends.get("missed") else row[0]
    if new != row[0]:
        notices.set_status(db, notice_id, new)


def claim(db: Database, bot: str, now: datetime, lease: float) -> dict[str, Any] | None:
    """Take the next due part for `bot` and write `sending` before anything is posted."""
    stamp = clock.iso(now)
    rows = list(db.query(
        "SELECT * FROM deliveries d WHERE bot = ? AND status IN ('queued', 'failed') AND next_at <= ?"
        " AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.notice_id = d.notice_id AND p.send_n = d.send_n"
        " AND p.grp = d.grp AND p.part < d.part AND p.status != 'sent') ORDER BY next_at, id LIMIT 1",
        [bot, stamp]))
    if not rows:
        return None
    row = rows[0]
    db.execute("UPDATE deliveries SET status = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ?"
               " WHERE id = ?", [clock.iso(now + timedelta(seconds=lease)), stamp, row["id"]])
    return {**row, "attempts": row["attempts"] + 1, "body": loads(row["body"], {})}


def record(db: Database, delivery_id: int, status: str, now: datetime, error: str = "", code: str = "",
           retry_in: float = 0.0) -> None:
    """The outcome of one post; a dead part also kills the later parts of that message. A part sent after a
    timed-out try says so: the platform may have taken both, and staff should know the group may have two."""
    stamp = clock.iso(now)
    if status == "sent":
        timed_out = db.execute("SELECT timed_out FROM deliveries WHERE id = ?", [delivery_id]).fetchone()
        if timed_out is not None and timed_out[0]:
            error, code = TIMED_OUT_THEN_SENT, "timeout"
    db.execute("UPDATE deliveries SET status = ?, error = ?, code = ?, next_at = ?, lease_until = '',"
               " updated_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
               " timed_out = MAX(timed_out, ? = 'timeout') WHERE id = ?",
               [status, error[:500], code, clock.iso(now + timedelta(seconds=retry_in)), stamp, status, stamp,
                code, delivery_id])
    row = db.execute("SELECT notice_id, send_n, grp, part FROM deliveries WHERE id = ?", [delivery_id]).fetchone()
    if status == "dead":
        db.execute("UPDATE deliveries SET status = 'dead', error = '前一部分未能送达', updated_at = ?"
                   " WHERE notice_id = ? AND send_n = ? AND grp = ? AND part > ? AND status IN ('queued', 'failed')",
                   [stamp, *row])
    refresh_status(db, row[0])


def recent_posts(db: Database, bots: list[str], now: datetime) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Per bot, how many seconds ago it posted in the last minute, and how long the platform's rate-limit pause
    still runs: a restart must not forget either, or its first posts earn DingTalk's ten-minute lockout."""
    window = 60.0 + MARGIN
    ages: dict[str, list[float]] = {bot: [] for bot in bots}
    rows = db.execute("SELECT bot, updated_at FROM deliveries WHERE attempts > 0 AND status != 'queued'"
                      " AND updated_at >= ?", [clock.iso(now - timedelta(seconds=window))])
    for bot, at in rows:
        if bot in ages:  # the stamps are whole seconds: the post may have been up to one later
            ages[bot].append(max(0.0, (now - datetime.fromisoformat(at)).total_seconds() - 1.0))
    pauses = {}
    for bot in bots:
        until = get_meta(db, _PAUSE_KEY + bot)
        if until and (left := (datetime.fromisoformat(until) - now).total_seconds()) > 0:
            pauses[bot] = left
    return ages, pauses


def recover(db: Database) -> int:
    """At start: rows left `sending` by a crash may or may not have arrived; show them, don't resend."""
    rows = db.execute("SELECT notice_id, COUNT(*) FROM deliveries WHERE status = 'sending' GROUP BY notice_id").fetchall()
    db.execute("UPDATE deliveries SET status = 'uncertain', lease_until = '',"
               " error = '发送中断（网关重启），是否送达不确定' WHERE status = 'sending'")
    # later parts of a message whose earlier part is uncertain would wait forever behind it
    db.execute("UPDATE deliveries SET status = 'uncertain', lease_until = '',"
               " error = '前一部分发送中断，本部分未发送，待人工确认' WHERE status IN ('queued', 'failed')"
               " AND EXISTS (SELECT 1 FROM deliveries p WHERE p.notice_id = deliveries.notice_id"
               " AND p.send_n = deliveries.send_n AND p.grp = deliveries.grp AND p.part < deliveries.part"
               " AND p.status = 'uncertain')")
    for notice_id, count in rows:
        notices.audit(db, notice_id, "scheduler", "uncertain", f"{count} 条发送中断，待人工确认")
        refresh_status(db, notice_id)
    if rows:
        bump(db, "notices")
    return sum(c for _, c in rows)


def resend_uncertain(db: Database, notice_id: int | str, by: str) -> int:
    """Staff decided the uncertain rows did not arrive: queue them again (a duplicate is their call)."""
    notice = notices.get_notice(db, notice_id)
    if notice["status"] == "cancelled":
        raise InvalidInput(f"通知 {notice['id']} 已撤销，不能重发")
    cur = db.execute("UPDATE deliveries SET status = 'queued', next_at = ?, error = '' WHERE notice_id = ?"
                     " AND status = 'uncertain'", [clock.iso(clock.now()), notice["id"]])
    notices.audit(db, notice["id"], by or "staff", "resend_uncertain", f"{cur.rowcount} 条重新排队")
    refresh_status(db, notice["id"])
    bump(db, "notices")
    return int(cur.rowcount)


def summary(db: Database, notice_id: int) -> list[dict[str, Any]]:
    """One entry per targeted group for the latest main send: the least advanced part's status."""
    latest = db.execute("SELECT MAX(d.send_n) FROM deliveries d JOIN sends s ON s.notice_id = d.notice_id"
                        " AND s.n = d.send_n WHERE d.notice_id = ? AND s.kind = 'notice'", [notice_id]).fetchone()[0]
    if latest is None:
        return []
    acks = {r[0]: r[1] for r in db.execute("SELECT grp, at FROM notice_acks WHERE notice_id = ?", [notice_id])}
    out: dict[str, dict[str, Any]] = {}
    bots: dict[str, str] = {}
    for r in db.query("SELECT grp, bot, platform, status, attempts, error, code, sent_at FROM deliveries"
                      " WHERE notice_id = ? AND send_n = ? ORDER BY grp, part", [notice_id, latest]):
        bots[r["grp"]] = r["bot"]
        entry = out.setdefault(r["grp"], {"group": r["grp"], "platform": r["platform"], "status": r["status"],
                                          "attempts": 0, "acknowledged": r["grp"] in acks,
                                          "acknowledged_at": acks.get(r["grp"], ""), "error": "", "code": "",
                                          "sent_at": r["sent_at"], "parts": 0})
        entry["parts"] += 1
        entry["attempts"] = max(entry["attempts"], r["attempts"])
        if RANK[r["status"]] < RANK[entry["status"]]:
            entry["status"] = r["status"]
        if r["error"]:
            entry["error"], entry["code"] = r["error"], r["code"]
    now = clock.iso(clock.now())
    for entry in out.values():  # a group waiting behind its robot's lockout (DingTalk 130101: 10 min) says so
        until = get_meta(db, _PAUSE_KEY + bots[entry["group"]]) if entry["status"] in ("queued", "failed") else None
        if until and until > now and not entry["error"]:
            entry["error"] = f"机器人被平台限流，{until[11:16]} 后再发"
    return list(out.values())


class Outbox:
    """One lane per pushing bot: wait for the limiter, claim a due part, post it, record the outcome."""

    def __init__(self, store: Store, adapters: Mapping[str, Platform], http: Callable[[], Any], *,
                 now: Callable[[], datetime] = clock.now, retry_base: float = 5.0, rate_scale: float = 1.0,
                 lease: float = 120.0, idle: float = 1.0) -> None:
        self.store, self.http, self.now = store, http, now
        self.adapters = {bot: a for bot, a in adapters.items() if a.can_push}
        self.limiters = {bot: Limiter.per_rate(a.per_minute, a.per_second, rate_scale) for bot, a in self.adapters.items()}
        self.retry_base, self.lease, self.idle = retry_base, lease, idle
        self._events = {bot: asyncio.Event() for bot in self.adapters}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    async def restore(self) -> None:
        """Before the lanes start: the posts and the rate-limit pauses of the last run still count."""
        ages, pauses = await self.store.run(recent_posts, list(self.adapters), self.now())
        for bot, limiter in self.limiters.items():
            limiter.seed(ages[bot])
            if bot in pauses:
                limiter.pause(pauses[bot])
                log.info("outbox %s: the platform's rate-limit pause still runs for %.0f s", bot, pauses[bot])

    def start(self) -> None:
        for bot in self.adapters:
            self._tasks[bot] = asyncio.create_task(self._lane(bot), name=f"outbox:{bot}")

    def wake(self) -> None:
        for event in self._events.values():
            event.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Let posts in flight finish (so they are not left `sending`), then stop the lanes."""
        self._stopping = True
        self.wake()
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _lane(self, bot: str) -> None:
        limiter, event = self.limiters[bot], self._events[bot]
        while not self._stopping:
            wait = limiter.wait_time()
            if wait > 0:  # woken early by stop(): a ten-minute lockout must not hold up a restart
                event.clear()
                try:
                    await asyncio.wait_for(event.wait(), wait)
                except TimeoutError:
                    pass
                continue
            event.clear()
            try:
                row = await self.store.run(claim, bot, self.now(), self.lease)
            except Exception:  # the database is busy or gone: try again later, never kill the lane
                log.exception("outbox %s: claim failed", bot)
                row = None
            if row is None:
                try:
                    await asyncio.wait_for(event.wait(), self.idle)
                except TimeoutError:
                    pass
                continue
            limiter.take()
            await self._post(bot, row)

    async def _post(self, bot: str, row: dict[str, Any]) -> None:
        status, error, code, retry_in = "sent", "", "", 0.0
        try:
            await self.adapters[bot].send(self.http(), Target(bot, row["chat"]), row["body"])
        except RateLimited as exc:
            self.limiters[bot].pause(exc.retry_after)  # this bot only; the other lanes go on
            until = clock.iso(self.now() + timedelta(seconds=exc.retry_after))
            await self.store.run(set_meta, _PAUSE_KEY + bot, until)  # a restart keeps the pause
            status, error, code, retry_in = "failed", self.adapters[bot].describe(exc), str(exc.code or "rate"), \
                exc.retry_after
        except PermanentError as exc:
            status, error, code = "dead", self.adapters[bot].describe(exc), str(exc.code or "")
        except DeliveryError as exc:
            status, error, code = "failed", self.adapters[bot].describe(exc), str(exc.code or "")
            retry_in = self._backoff(row["attempts"])
        except Exception as exc:  # an adapter bug or a transport error it did not wrap: retry, and say what
            status, error, code = "failed", f"{type(exc).__name__}: {exc}", "error"
            retry_in = self._backoff(row["attempts"])
        if status == "failed" and row["attempts"] >= MAX_ATTEMPTS:
            status, error = "dead", f"已重试 {row['attempts']} 次：{error}"
        if status != "sent":
            log.warning("outbox %s: %s #%s %s: %s", bot, row["grp"], row["part"], status, error)
        await self.store.run(record, row["id"], status, self.now(), error, code, retry_in)

    def _backoff(self, attempts: int) -> float:
        """Exponential with jitter, so a hundred failed groups do not retry in the same second."""
        return min(900.0, self.retry_base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)
