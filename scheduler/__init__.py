"""Scheduled notices in the running gateway: APScheduler (Asia/Shanghai) as the alarm clock, the store as truth.

`Scheduler.start()` (inside the event loop, from the app's cleanup_ctx) marks crashed `sending` rows
uncertain, rebuilds one job per pending send from the `sends` table (sending late, marked 补发, what was
missed within `misfire_grace`; marking older ones missed), starts the outbox lanes, and polls
`revisions()['notices']` so what the CLI schedules is picked up within seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

import clock
from config.settings import Settings
from platforms import Platform
from store import Store, revisions

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)


class Scheduler:
    """Owns the APScheduler instance, the outbox lanes and the poll for changes made elsewhere."""

    def __init__(self, store: Store, settings: Settings, platforms: Mapping[str, Platform],
                 http_session_getter: Callable[[], Any], *, now: Callable[[], datetime] = clock.now,
                 retry_base: float = 5.0, rate_scale: float = 1.0) -> None:
        from scheduler.outbox import Outbox

        self.store, self.settings, self.platforms, self.now = store, settings, platforms, now
        self.grace = float(settings.scheduler.misfire_grace)
        self.outbox = Outbox(store, platforms, http_session_getter, now=now, retry_base=retry_base,
                             rate_scale=rate_scale, idle=max(0.05, settings.scheduler.poll_interval))
        self.aps: AsyncIOScheduler | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._rev: int | None = None
        self._crons: dict[str, str] = {}
        self.recovered = 0

    async def start(self) -> None:
        from scheduler import jobs, outbox

        jobs.bind(self)
        self.aps = AsyncIOScheduler(timezone=clock.TZ, job_defaults={
            "misfire_grace_time": self._grace_int(), "coalesce": True, "max_instances": 1})
        self.aps.start()
        self.recovered = await self.store.run(outbox.recover)
        if self.recovered:
            log.warning("scheduler: %d deliveries were in flight at the last stop: marked uncertain", self.recovered)
        await self.outbox.restore()
        await self.rebuild()
        await self._plan_reminders()
        self.outbox.start()
        self._poll_task = asyncio.create_task(self._poll(), name="scheduler:poll")

    async def stop(self) -> None:
        from scheduler import jobs

        if self._poll_task is not None:
            self._poll_task.cancel()
            await asyncio.gather(self._poll_task, return_exceptions=True)
            self._poll_task = None
        await self.outbox.stop()
        if self.aps is not None and self.aps.running:
            self.aps.shutdown(wait=False)
        jobs.unbind(self)

    def _grace_int(self) -> int:
        return max(1, int(self.grace))  # APScheduler 3 wants a positive int; never its 1 s default

    async def rebuild(self) -> dict[str, Any]:
        """Make APScheduler's jobs match the pending rows; fire what is due (late, within grace)."""
        from scheduler import jobs

        self._rev = (await self.store.run(revisions)).get("notices")
        plan = await self.store.run(jobs.plan, self.now(), self.grace)
        wanted: set[str] = set()
        for notice_id, n, due_at in plan["future"]:
            wanted.add(self._date_job(notice_id, n, due_at))
        for notice_id, expr in plan["cron"]:
            wanted.add(self._cron_job(notice_id, expr))
        assert self.aps is not None
        for job in self.aps.get_jobs():
            if job.id.startswith("notice:") and job.id not in wanted:
                job.remove()
                self._crons.pop(job.id, None)
        for notice_id, n in plan["due"]:
            await self.fire(notice_id, n)
        self.outbox.wake()
        return plan

    def _date_job(self, notice_id: int, n: int, due_at: str) -> str:
        from scheduler import jobs

        job_id = f"notice:{notice_id}:{n}"
        assert self.aps is not None
        if self.aps.get_job(job_id) is None:
            self.aps.add_job(jobs.release_notice, DateTrigger(datetime.fromisoformat(due_at).astimezone(clock.TZ), timezone=clock.TZ),
                             args=[notice_id, n], id=job_id, replace_existing=True,
                             misfire_grace_time=self._grace_int(), coalesce=True)
        return job_id

    def _cron_job(self, notice_id: int, expr: str) -> str:
        """Re-adding an unchanged cron job would recompute its next time and could skip a due round."""
        from scheduler import jobs

        job_id = f"notice:{notice_id}:cron"
        assert self.aps is not None
        if self._crons.get(job_id) != expr or self.aps.get_job(job_id) is None:
            self.aps.add_job(jobs.fire_cron, jobs.parse_cron(expr), args=[notice_id], id=job_id,
                             replace_existing=True, misfire_grace_time=self._grace_int(), coalesce=True)
            self._crons[job_id] = expr
        return job_id

    async def fire(self, notice_id: int, n: int) -> int:
        """Release one send (idempotent: a second call adds nothing) and wake the outbox."""
        from scheduler import outbox

        added = await self.store.run(outbox.release, notice_id, n, self.platforms, self.now())
        self.outbox.wake()
        return added

    async def _plan_reminders(self) -> None:
        """The staff's daily reminder (`[reminders]`): a job at its time, and today's if missed while down."""
        from apscheduler.triggers.cron import CronTrigger

        from scheduler import groups, jobs, reminders

        config = self.settings.reminders
        if not config.to:
            return
        targets = await self.store.run(groups.select_groups, config.to)
        if not targets:
            log.warning("scheduler: [reminders] to = %r matches no group: the reminder reaches nobody", config.to)
        hour, minute = config.hour_minute
        assert self.aps is not None
        self.aps.add_job(jobs.send_reminder, CronTrigger(hour=hour, minute=minute, timezone=clock.TZ),
                         id="reminders:daily", replace_existing=True, misfire_grace_time=self._grace_int(),
                         coalesce=True)
        if reminders.missed_today(config, self.now(), self.grace):
            await self.send_reminder()

    async def send_reminder(self) -> int:
        """Queue today's reminder (once a working day, if there is anything to do) and release it."""
        from scheduler import reminders

        notice_id = await self.store.run(reminders.queue, self.settings.reminders, self.now())
        if notice_id is None:
            return 0
        log.info("scheduler: today's 办理提醒 is notice %d", notice_id)
        return await self.fire(notice_id, 1)

    async def fire_cron(self, notice_id: int) -> int:
        from scheduler import jobs

        n = await self.store.run(jobs.record_cron_round, notice_id, self.now(), self.grace)
        return await self.fire(notice_id, n) if n is not None else 0

    async def _poll(self) -> None:
        """The CLI writes rows and bumps `notices`; this is how the running gateway hears of it."""
        while True:
            await asyncio.sleep(self.settings.scheduler.poll_interval)
            try:
                rev = (await self.store.run(revisions)).get("notices")
                if rev != self._rev:
                    await self.rebuild()
            except Exception:  # keep polling: one bad row must not stop every later notice
                log.exception("scheduler: rebuild failed")
