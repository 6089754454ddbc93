"""Broadcast to 1,000 groups over N bots against a local fake, with the platforms' rate limits time-scaled.

    .venv/bin/python bench/bench_broadcast.py [--groups 1000] [--bots 10] [--scale 0.02] [--fail 0.1]

Prints elapsed time against the floor the limits allow (20 per sliding minute per bot, the minute shrunk by
--scale), then delivery figures under injected temporary failures: delivered once each, none duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import GroupConfig, SchedulerConfig, Settings  # noqa: E402
from errors import TemporaryError  # noqa: E402
from platforms import Message, Platform, Target  # noqa: E402
from scheduler import Scheduler, groups, jobs, notices  # noqa: E402
from store import Store, open_db, transaction  # noqa: E402


class BenchPlatform(Platform):
    """DingTalk's documented limit (20 per minute per robot); posts JSON to the fake."""

    name: ClassVar[str] = "bench"
    per_minute: ClassVar[int] = 20
    push_keys: ClassVar[tuple[str, ...]] = ("url",)

    def render(self, message: Message) -> list[dict[str, Any]]:
        return [{"text": f"{message.title}\n{message.body}"}]

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        async with http.post(self.opt("url"), json={"chat": target.chat}) as resp:
            if (await resp.json())["errcode"]:
                raise TemporaryError("bench: injected 503", code=503)


async def fake_server(fail: float, seed: int) -> tuple[web.AppRunner, str, Counter[str], list[int]]:
    """A local platform: fails a share of posts at random, counts successful deliveries per chat."""
    rng, delivered, posts = random.Random(seed), Counter[str](), [0]

    async def handle(request: web.Request) -> web.Response:
        chat = (await request.json())["chat"]
        posts[0] += 1
        if rng.random() < fail:
            return web.json_response({"errcode": 1})
        delivered[chat] += 1
        return web.json_response({"errcode": 0})

    app = web.Application()
    app.router.add_post("/send", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/send", delivered, posts


def prepare(path: Path, n_groups: int, n_bots: int) -> int:
    db = open_db(path)
    configs = [GroupConfig(f"群{i:04d}", f"bot{i % n_bots}", f"c{i}", ("餐饮",)) for i in range(n_groups)]
    with transaction(db):
        groups.sync_config_groups(db, configs)
        notice_id = int(notices.create_notice(db, "通知公告", "压测", "正文", "*", {}, "alice")["id"])
        notices.submit(db, notice_id, "alice")
        notices.approve(db, notice_id, "bob")
        jobs.schedule(db, notice_id, {"now": True})
    db.close()
    return notice_id


async def run(args: argparse.Namespace, fail: float) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp()) / "bench.db"
    notice_id = prepare(path, args.groups, args.bots)
    runner, url, delivered, posts = await fake_server(fail, args.seed)
    store = Store(path)
    store.start()
    http = aiohttp.ClientSession()
    adapters = {f"bot{b}": BenchPlatform(f"bot{b}", {"url": url}) for b in range(args.bots)}
    settings = Settings(db=str(path), scheduler=SchedulerConfig(misfire_grace=3600, poll_interval=0.05))
    scheduler = Scheduler(store, settings, adapters, lambda: http, retry_base=0.001, rate_scale=args.scale)
    started = time.perf_counter()
    await scheduler.start()
    while sum(delivered.values()) < args.groups and time.perf_counter() - started < 600:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.2)  # anything still in flight would show up as a duplicate
    statuses = await store.run(lambda db: dict(db.execute(
        "SELECT status, COUNT(*) FROM deliveries WHERE notice_id = ? GROUP BY status", [notice_id]).fetchall()))
    await scheduler.stop()
    await http.close()
    await store.close()
    await runner.cleanup()
    return {"elapsed": elapsed, "delivered": len(delivered), "duplicates": sum(c - 1 for c in delivered.values()),
            "posts": posts[0], "statuses": statuses}


def floor(posts_per_bot: float, scale: float) -> float:
    """The earliest the last post may go out: 20 per sliding window of 60 s × scale."""
    return (math.ceil(posts_per_bot / 20) - 1) * 60 * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--bots", type=int, default=10)
    parser.add_argument("--scale", type=float, default=0.02, help="minute length factor (0.02 → 1.2 s)")
    parser.add_argument("--fail", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("scheduler").setLevel(logging.ERROR)  # the injected failures would fill the screen
    per_bot = math.ceil(args.groups / args.bots)
    print(f"{args.groups} 个群 / {args.bots} 个机器人，每分钟 20 条（1 分钟缩为 {60 * args.scale:g} 秒）")
    for fail in (0.0, args.fail):
        r = asyncio.run(run(args, fail))
        lower = floor(math.ceil(r["posts"] / args.bots), args.scale)
        print(f"失败注入 {fail:.0%}: 用时 {r['elapsed']:.2f}s，下限 {lower:.2f}s（无失败下限 {floor(per_bot, args.scale):.2f}s），"
              f"比值 {r['elapsed'] / lower:.2f}x；送达 {r['delivered']}/{args.groups}，重复 {r['duplicates']}，"
              f"请求 {r['posts']}，状态 {r['statuses']}")


if __name__ == "__main__":
    main()
