"""The running gateway's parts: store, adapters, catalog index, HTTP client, background tasks.

`Gateway.start()` / `stop()` are called from the app's cleanup context. The gateway polls the database's
revision counters so that changes made by the CLI (a catalog import) take effect without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import aiohttp
from sqlite_utils import Database

import clock
import platforms
from config import Settings
from config.settings import group_problems
from errors import ConfigError, DeliveryError, RateLimited, TemporaryError
from handlers import Context, Reply, handle_inbound, installation_salt
from knowledge import Knowledge
from knowledge.catalog import all_items, seed_demo
from platforms import Inbound, Platform
from scheduler import Scheduler
from scheduler.groups import list_groups, sync_config_groups
from store import Store, loads, revisions

__all__ = ["Gateway"]

log = logging.getLogger(__name__)
_REPLY_ATTEMPTS = 3
_REPLY_WORKERS = 2  # concurrent answers per bot
_REPLY_MAX_AGE = 3600  # seconds; WeCom's response_url lives 1 h, DingTalk's sessionWebhook ~90 min
_REPLY_MAX_WAIT = 30.0  # seconds; a chat answer later than this is no answer


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.db)
        self.platforms: dict[str, Platform] = {
            b.name: platforms.create(b.name, b.platform, b.options, b.source) for b in settings.bots
        }
        self.ctx: Context | None = None
        self.http: aiohttp.ClientSession | None = None
        self.scheduler: Scheduler | None = None
        self._revisions: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._replies: dict[str, asyncio.Queue[tuple[Platform, Inbound, str]]] = {}
        self.answers_pending: dict[str, int] = {}  # per bot: deferred answers queued or being posted

    async def start(self) -> None:
        self.store.start()
        salt = await self.store.run(self._prepare)
        self.ctx = Context(knowledge=Knowledge.build([]), salt=salt, top_k=self.settings.catalog.top_k,
                           reminders=self.settings.reminders)
        await self.reload_catalog()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        await self._requeue_replies()
        self._spawn(self._poll())
        self.scheduler = Scheduler(self.store, self.settings, self.platforms, lambda: self.http)
        await self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.close()
        await self.store.close()

    def _prepare(self, db: Database) -> bytes:
        """Config groups into the table, the demo catalog into an empty default database, the salt."""
        try:
            sync_config_groups(db, self.settings.groups)
        except ConfigError as exc:  # a [[groups]] entry that clashes with the database: name the file too
            raise ConfigError(f"{self.settings.source}: {exc}") from None
        self._check_groups(db)
        if self.settings.catalog.seed and not self.settings.db_overridden:
            seeded = seed_demo(db, self.settings.catalog.seed)
            if seeded:
                log.info("loaded %d demo catalog items", seeded)
        self._revisions = revisions(db)
        return installation_salt(db)

    def _check_groups(self, db: Database) -> None:
        """Name at start the groups notices cannot reach as meant: on a bot that cannot push (e.g. a Feishu app bot
        without a custom-bot webhook), or twice in one chat (staff added before such groups were refused)."""
        pushing = []
        for group in list_groups(db):
            adapter = self.platforms.get(group["bot"])
            if adapter is None or not adapter.can_push:
                log.warning("群 %s 的机器人 %s %s：发给这个群的通知都会失败", group["name"], group["bot"],
                            "未配置" if adapter is None else "不能推送（缺少推送所需的 webhook 或 api_base）")
            else:
                pushing.append((group["name"], group["bot"], adapter.name, group["chat"]))
        for name, _, problem in group_problems(pushing):
            log.warning("群 %s：%s（请用 groups remove 移除多余的群）", name, problem)

    async def reload_catalog(self) -> None:
        """Rebuild the index off the event loop and swap it in whole."""
        assert self.ctx is not None
        started = time.perf_counter()
        items = await self.store.run(lambda db: all_items(db))
        knowledge = await asyncio.get_running_loop().run_in_executor(None, Knowledge.build, items)
        self.ctx.use_catalog(knowledge, items)
        log.info("catalog: %d items indexed in %.0f ms", len(items), (time.perf_counter() - started) * 1000)
        if not items:
            log.warning("catalog is empty: every question will open a possible request; "
                        "load one with `python bot.py catalog import FILE`")

    async def handle(self, event: Inbound, deferred: bool = False) -> tuple[Reply, bool]:
        """Dedupe, answer and log one event in one transaction (queuing the answer when `deferred`)."""
        assert self.ctx is not None
        return await self.store.run_quick(handle_inbound, self.ctx, event, deferred)

    def reply_later(self, platform: Platform, event: Inbound, text: str) -> None:
        """Queue an answer on its bot's own lane: a slow or failing platform holds up only itself. Where the
        platform limits replies per chat (Feishu, 5/s), each chat has a lane of its own, with one worker that
        ends when the lane is empty: a busy chat then holds up only itself, and its answers keep their order."""
        per_chat = platform.reply_limit_per_chat
        key = f"{platform.bot}/{event.chat or 'user:' + event.sender}" if per_chat else platform.bot
        lane = self._replies.get(key)
        if lane is None:
            lane = self._replies[key] = asyncio.Queue()
            for _ in range(1 if per_chat else _REPLY_WORKERS):
                self._spawn(self._reply_worker(key, lane, until_empty=per_chat))
        lane.put_nowait((platform, event, text))
        self.answers_pending[platform.bot] = self.answers_pending.get(platform.bot, 0) + 1

    async def _requeue_replies(self) -> None:
        """Answers queued before a crash and not yet posted: post them now, unless too old to matter."""
        since = clock.iso(clock.now() - timedelta(seconds=_REPLY_MAX_AGE))
        for row in await self.store.run(_queued_replies, since):
            platform = self.platforms.get(row["bot"])
            if platform is not None:
                self.reply_later(platform, Inbound(**loads(row["event"])), row["text"])

    async def _reply_worker(self, key: str, lane: asyncio.Queue[tuple[Platform, Inbound, str]],
                            until_empty: bool = False) -> None:
        while not (until_empty and lane.empty()):
            platform, event, text = await lane.get()
            try:
                status, attempts, error = await self._post_reply(platform, event, text)
            finally:
                self.answers_pending[platform.bot] -= 1
            # Not awaited: it commits with the next batch all the same, and the worker takes the next answer.
            self.store.submit(_mark_reply, event.platform, event.event_id, status, attempts, error)
        del self._replies[key]  # a per-chat lane with nothing left: the next answer opens a new one

    async def _post_reply(self, platform: Platform, event: Inbound, text: str) -> tuple[str, int, str]:
        """(status, attempts, error): a few quick retries, then give up; a chat answer late is no answer."""
        for attempt in range(1, _REPLY_ATTEMPTS + 1):
            try:
                await platform.reply(self.http, event, text)
                return "sent", attempt, ""
            except (TemporaryError, RateLimited) as exc:
                delay = getattr(exc, "retry_after", 0.5 * 2**attempt)
                log.warning("reply to %s/%s failed (%s), attempt %d", event.platform, event.bot, exc, attempt)
                if attempt == _REPLY_ATTEMPTS or delay > _REPLY_MAX_WAIT:  # e.g. a locked-out robot
                    return "failed", attempt, platform.describe(exc)
                await asyncio.sleep(delay)
            except DeliveryError as exc:
                log.error("reply to %s/%s dropped: %s", event.platform, event.bot, exc)
                return "dead", attempt, platform.describe(exc)
            except Exception as exc:  # a bug in an adapter must not stop the worker
                log.exception("reply to %s/%s crashed", event.platform, event.bot)
                return "dead", attempt, repr(exc)
        return "failed", _REPLY_ATTEMPTS, ""

    async def _poll(self) -> None:
        """Pick up changes written by the CLI (catalog import ...) within a poll interval."""
        while True:
            await asyncio.sleep(self.settings.scheduler.poll_interval)
            try:
                current = await self.store.run(revisions)
                if current.get("catalog") != self._revisions.get("catalog"):
                    await self.reload_catalog()
                self._revisions = current
            except Exception:  # keep polling; the next round may succeed
                log.exception("poll failed")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # keep a reference: the loop only holds weak ones
        task.add_done_callback(self._tasks.discard)


def _queued_replies(db: Database, since: str) -> list[dict[str, Any]]:
    """Queued answers newer than `since`, with their text from the enquiry log; older ones are marked expired
    (their reply handle is gone)."""
    db.execute("UPDATE replies SET status = 'expired', event = '{}' WHERE status = 'queued' AND created_at < ?",
               [since])
    return list(db.query(
        "SELECT r.bot, r.event, e.reply AS text FROM replies r JOIN enquiries e"
        " ON e.channel = r.platform AND e.event_id = r.event_id WHERE r.status = 'queued' ORDER BY r.created_at"))


def _mark_reply(db: Database, platform: str, event_id: str, status: str, attempts: int, error: str) -> None:
    """A posted answer leaves the queue; one that could not be posted stays, with why, but without the event:
    it is never posted again, and the event holds the sender's own platform id."""
    if status == "sent":
        db.execute("DELETE FROM replies WHERE platform = ? AND event_id = ?", [platform, event_id])
        return
    db.execute("UPDATE replies SET status = ?, attempts = ?, error = ?, event = '{}' WHERE platform = ? AND event_id = ?",
               [status, attempts, error, platform, event_id])
