"""The outbox against a fake platform server: retries, rate-limit pauses per bot, dead letters, crashes, acks."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime, timedelta
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import clock
import platforms
from config.settings import GroupConfig, SchedulerConfig, Settings
from errors import InvalidInput, PermanentError, RateLimited, TemporaryError
from handlers import Context
from handlers import notice_commands, notice_questions
from platforms import Inbound, Message, Platform, Target, split_utf8
from platforms.limiter import Limiter
from scheduler import Scheduler, groups, jobs, notices, outbox
from store import Store, get_meta, open_db, set_meta, transaction

DING_HOOK = "https://oapi.dingtalk.com/robot/send?access_token=t"
GROUPS = tuple(GroupConfig(f"群{i}", "bot-a" if i < 4 else "bot-b", f"c{i}", ("餐饮",)) for i in range(8))


class FakeServer:
    """Records every post; `script[chat]` lists the answers to give that chat's posts, then success."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.script: dict[str, list[int]] = {}
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        data = await request.json()
        data["at"] = time.monotonic()
        self.posts.append(data)
        if self.delay:
            await asyncio.sleep(self.delay)
        answers = self.script.get(data["chat"], [])
        return web.json_response({"errcode": answers.pop(0) if answers else 0})

    def delivered(self, chat: str) -> int:
        return sum(1 for p in self.posts if p["chat"] == chat and p["ok"])


class HttpPlatform(Platform):
    """An in-test adapter posting to the fake: errcode 1 = 5xx-like, 2 = rate limit, 3 = bad sign."""

    name: ClassVar[str] = "fakehttp"
    per_minute: ClassVar[int] = 6000
    max_bytes: ClassVar[int] = 4096
    push_keys: ClassVar[tuple[str, ...]] = ("url",)
    optional_keys: ClassVar[tuple[str, ...]] = ("max_bytes",)

    def render(self, message: Message) -> list[dict[str, Any]]:
        limit = int(self.opt("max_bytes", self.max_bytes))
        return [{"text": part} for part in split_utf8(message.body, limit)]

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        async with http.post(self.opt("url"), json={"chat": target.chat, "text": body["text"], "ok": True}) as resp:
            code = (await resp.json())["errcode"]
        if code == 1:
            raise TemporaryError("fake: 503", code=503)
        if code == 2:
            raise RateLimited("fake: too many", retry_after=0.5, code=130101)
        if code == 3:
            raise PermanentError("fake: bad sign", code=310000)


class Rig:
    def __init__(self, path: Path, url: str, **options: Any) -> None:
        self.path, self.url, self.options = path, url, options
        self.settings = Settings(db=str(path), scheduler=SchedulerConfig(misfire_grace=3600, poll_interval=0.05))
        self.http: aiohttp.ClientSession | None = None
        self.store: Store | None = None
        self.scheduler: Scheduler | None = None

    async def start(self) -> Scheduler:
        self.http = aiohttp.ClientSession()
        self.store = Store(self.path)
        self.store.start()
        adapters = {b: HttpPlatform(b, {"url": self.url, **self.options}) for b in ("bot-a", "bot-b")}
        self.scheduler = Scheduler(self.store, self.settings, adapters, lambda: self.http, retry_base=0.05)
        await self.scheduler.start()
        return self.scheduler

    async def stop(self) -> None:
        if self.scheduler:
            await self.scheduler.stop()
        if self.store:
            await self.store.close()
        if self.http:
            await self.http.close()
        self.scheduler = self.store = self.http = None

    def db(self, fn: Any, *args: Any) -> Any:
        db = open_db(self.path)
        try:
            with transaction(db):
                return fn(db, *args)
        finally:
            db.close()

    async def until(self, check: Any, timeout: float = 8.0) -> Any:
        for _ in range(int(timeout / 0.05)):
            value = self.db(check)
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError("condition not reached")


@pytest.fixture
async def fake(aiohttp_server: Any) -> AsyncIterator[tuple[FakeServer, TestServer]]:
    server = FakeServer()
    app = web.Application()
    app.router.add_post("/send", server.handle)
    yield server, await aiohttp_server(app)


@pytest.fixture
async def rig(tmp_path: Path, fake: tuple[FakeServer, TestServer]) -> AsyncIterator[Rig]:
    db = open_db(tmp_path / "o.db")
    groups.sync_config_groups(db, GROUPS)
    db.close()
    r = Rig(tmp_path / "o.db", str(fake[1].make_url("/send")))
    yield r
    await r.stop()


def publish(db: Any, to: str = "餐饮", kind: str = "通知公告", body: str = "请各单位自查。", **fields: str) -> int:
    notice_id = int(notices.create_notice(db, kind, "标题", body, to, fields, "alice")["id"])
    notices.submit(db, notice_id, "alice")
    notices.approve(db, notice_id, "bob")
    jobs.schedule(db, notice_id, {"now": True})
    return notice_id


def finished(notice_id: int) -> Any:
    def check(db: Any) -> Any:
        shown = notices.show(db, notice_id)
        return shown if shown["status"] in ("done", "partly_failed") else None
    return check


async def test_broadcast_with_injected_failures_delivers_each_group_once_or_dead(rig: Rig, fake: Any) -> None:
    server, _ = fake
    server.script = {"c0": [1, 1], "c1": [2], "c2": [3], "c5": [1], "c6": [2, 1]}
    await rig.start()
    notice_id = rig.db(publish)
    shown = await rig.until(finished(notice_id))
    by_group = {d["group"]: d for d in shown["deliveries"]}
    assert len(by_group) == 8 and shown["status"] == "partly_failed"
    assert by_group["群2"]["status"] == "dead" and by_group["群2"]["code"] == "310000"
    for i in range(8):
        delivered = sum(1 for p in server.posts if p["chat"] == f"c{i}")
        expected_status = "dead" if i == 2 else "sent"
        assert by_group[f"群{i}"]["status"] == expected_status
        assert delivered == {0: 3, 1: 2, 2: 1, 5: 2, 6: 3}.get(i, 1)  # each success exactly once
    assert by_group["群0"]["attempts"] == 3 and by_group["群3"]["attempts"] == 1
    await asyncio.sleep(0.3)
    assert len(server.posts) == 3 + 2 + 1 + 1 + 1 + 2 + 3 + 1  # nothing more after the end


async def test_rate_limit_pauses_that_bot_only(rig: Rig, fake: Any) -> None:
    server, _ = fake
    server.script = {"c0": [2]}  # bot-a's first post is refused with retry_after 0.5 s
    await rig.start()
    notice_id = rig.db(publish)
    await rig.until(finished(notice_id))
    first = server.posts[0]["at"]
    a_posts = [p["at"] - first for p in server.posts if p["chat"] in ("c0", "c1", "c2", "c3")]
    b_posts = [p["at"] - first for p in server.posts if p["chat"] not in ("c0", "c1", "c2", "c3")]
    assert max(b_posts) < 0.45  # bot-b never waited for bot-a's pause
    assert sorted(a_posts)[1] >= 0.45  # bot-a sent nothing else during its pause
    assert rig.db(get_meta, "outbox_pause:bot-a") and rig.db(get_meta, "outbox_pause:bot-b") is None  # on record


async def test_a_restart_remembers_the_last_minutes_posts_and_the_platforms_pause(tmp_path: Path) -> None:
    """DingTalk allows 20 posts a minute and answers the 21st with a ten-minute lockout: a gateway restarted in
    the middle of a broadcast must neither start a fresh minute nor forget a lockout it was told of."""
    store = Store(tmp_path / "g.db")
    store.start()
    now = clock.now()

    def earlier_run(db: Any) -> None:
        for part in range(1, 21):
            db["deliveries"].insert({
                "notice_id": 1, "send_n": 1, "grp": "餐饮-东区", "part": part, "bot": "ding", "chat": "",
                "platform": "dingtalk", "body": "{}", "status": "sent", "attempts": 1, "next_at": clock.iso(now),
                "updated_at": clock.iso(now - timedelta(seconds=30))})
        set_meta(db, "outbox_pause:ding2", clock.iso(now + timedelta(minutes=9)))

    try:
        await store.run(earlier_run)
        adapters = {bot: platforms.create(bot, "dingtalk", {"webhook": DING_HOOK}) for bot in ("ding", "ding2", "ding3")}
        box = outbox.Outbox(store, adapters, lambda: None, now=lambda: now)
        await box.restore()
        assert 31.0 <= box.limiters["ding"].wait_time() <= 32.0  # 60 s + margin after the first, to the second
        assert box.limiters["ding2"].wait_time() == pytest.approx(540.0, abs=1.0)  # stamps are whole seconds
        assert box.limiters["ding3"].wait_time() == 0.0
    finally:
        await store.close()


async def test_split_message_rows_are_unique_and_report_least_advanced(rig: Rig, fake: Any) -> None:
    server, _ = fake
    rig.options = {"max_bytes": 200}
    body = "\n\n".join(f"第{i}段：请各餐饮单位落实进货查验制度，做好记录。" for i in range(12))
    notice_id = rig.db(lambda db: publish(db, to="群1", body=body))
    server.script = {"c1": [3, 0]}
    scheduler = await rig.start()
    shown = await rig.until(finished(notice_id))
    rows = rig.db(lambda db: list(db.query("SELECT part, status FROM deliveries WHERE notice_id = ?", [notice_id])))
    assert len(rows) > 2 and rows[0]["status"] == "dead" and all(r["status"] == "dead" for r in rows)
    assert shown["deliveries"] == [{**shown["deliveries"][0], "group": "群1", "status": "dead"}]
    assert len(server.posts) == 1  # part 2 never goes out when part 1 is dead
    shown = rig.db(notices.show, notice_id)
    assert (shown["status"], shown["status_text"]) == ("partly_failed", "全部未送达")  # its one group got nothing
    listed = next(n for n in rig.db(notices.list_notices) if n["id"] == notice_id)
    assert listed["status_text"] == "全部未送达"
    assert await scheduler.fire(notice_id, 1) == 0  # a re-run adds nothing


async def test_crash_leaves_uncertain_rows_that_are_not_resent(rig: Rig, fake: Any) -> None:
    server, _ = fake
    notice_id = rig.db(lambda db: publish(db, to="群1"))
    await rig.start()
    await rig.until(finished(notice_id))
    assert len(server.posts) == 1
    await rig.stop()
    rig.db(lambda db: db.execute("UPDATE deliveries SET status = 'sending' WHERE notice_id = ?", [notice_id]))
    scheduler = await rig.start()  # as after a kill -9 between the `sending` row and the outcome
    assert scheduler.recovered == 1
    shown = rig.db(notices.show, notice_id)
    assert [d["status"] for d in shown["deliveries"]] == ["uncertain"] and shown["status"] == "partly_failed"
    await asyncio.sleep(0.3)
    assert len(server.posts) == 1  # not resent silently
    assert rig.db(outbox.resend_uncertain, notice_id, "carol") == 1
    await rig.until(finished(notice_id))
    assert len(server.posts) == 2 and rig.db(notices.show, notice_id)["status"] == "done"


async def test_a_sent_notice_is_not_changed_under_its_readers(rig: Rig, fake: Any) -> None:
    """Once groups have it: no edit, no second broadcast; a cancel stops what is pending and says who has it; a
    cancelled notice's uncertain rows are not resent."""
    await rig.start()
    notice_id = rig.db(lambda db: publish(db, to="群1", kind="问题产品下架通知", reply_by="2099-01-01T17:00"))
    await rig.until(all_sent(notice_id))
    with pytest.raises(InvalidInput, match="已发送到 1 个群，不能修改；如需更正，请另建一条更正通知"):
        rig.db(notices.edit, notice_id, "alice", "新标题")
    with pytest.raises(InvalidInput, match="已发送，不能重新排期"):
        rig.db(jobs.schedule, notice_id, {"now": True})
    assert rig.db(notices.cancel, notice_id, "carol")["status"] == "cancelled"
    assert "已送达的 1 个群不受影响" in rig.db(notices.show, notice_id)["audit"][-1]["detail"]
    rig.db(lambda db: db.execute("UPDATE deliveries SET status = 'uncertain' WHERE notice_id = ?", [notice_id]))
    with pytest.raises(InvalidInput, match="已撤销，不能重发"):
        rig.db(outbox.resend_uncertain, notice_id, "carol")


def test_limiter_windows_and_pause() -> None:
    now = [0.0]
    limiter = Limiter.per_rate(per_minute=20, per_second=5, clock_fn=lambda: now[0])
    for _ in range(5):
        assert limiter.wait_time() == 0
        limiter.take()
    assert limiter.wait_time() == pytest.approx(1.25)  # a quarter second more than the platform's window
    for second in range(1, 4):
        now[0] = float(second) * 1.25
        for _ in range(5):
            limiter.take()
    now[0] = 4.0
    assert limiter.wait_time() == pytest.approx(57.0)  # 20 in the last 61 s: wait for the first to age out
    limiter.pause(600)
    assert limiter.wait_time() == pytest.approx(600.0)


def all_sent(notice_id: int) -> Any:
    def check(db: Any) -> Any:
        rows = notices.show(db, notice_id)["deliveries"]
        return rows if rows and all(d["status"] == "sent" for d in rows) else None
    return check


def ctx() -> Context:
    return Context(knowledge=None, salt=b"test")  # type: ignore[arg-type]


def inbound(text: str, chat: str, bot: str = "bot-a") -> Inbound:
    return Inbound(platform="fakehttp", bot=bot, event_id=text + chat, text=text, chat=chat, sender="u1")


async def test_acknowledgement_registration_and_reminders(rig: Rig, fake: Any) -> None:
    server, _ = fake
    await rig.start()
    recall = rig.db(lambda db: publish(db, to="群0,群1", kind="问题产品下架通知", reply_by="2099-01-01T17:00"))
    await rig.until(all_sent(recall))
    assert rig.db(notices.get_notice, recall)["status"] == "scheduled"  # reminders still to come
    reply = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("我们已经全部下架了，谢谢", "c0")))
    assert reply.kind == "command" and "已确认" in reply.text
    assert rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("你好", "c0"))) is None
    shown = rig.db(notices.show, recall)
    assert {d["group"]: d["acknowledged"] for d in shown["deliveries"]} == {"群0": True, "群1": False}
    await rig.scheduler.fire(recall, 2)  # the first reply_by reminder
    await rig.until(lambda db: db.execute("SELECT COUNT(*) FROM deliveries WHERE send_n = 2 AND status = 'sent'")
                    .fetchone()[0] == 1)
    assert [p["chat"] for p in server.posts][-1] == "c1" and "请回复" in server.posts[-1]["text"]
    # 收到 with a question after it: the question goes on to the catalog, the 收到 still counts
    assert rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("收到，另外想问下健康证在哪办", "c1"))) is None
    assert {d["group"]: d["acknowledged"] for d in rig.db(notices.show, recall)["deliveries"]}["群1"] is True
    rig.db(lambda db: db.execute("DELETE FROM notice_acks WHERE grp = '群1'"))
    reply = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("本店无此批次", "c1")))
    assert "（无此产品）" in reply.text  # the shop never had it: an answer to the recall all the same
    training = rig.db(lambda db: publish(db, to="群0", kind="培训通知", start="2099-02-01T09:00"))
    await rig.until(finished(training))
    reply = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("报名 张三 某某餐厅", "c0")))
    assert "报名成功" in reply.text
    not_a_recall = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("没有", "c0")))
    assert "随时提问" in not_a_recall.text  # 没有 answers a recall only; the latest notice is the training
    taken_down = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("已下架", "c0")))
    assert "（收到）" in taken_down.text  # nothing to take down in a training notice: recorded as 收到
    usage = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("报名", "c0")))
    assert "报名格式" in usage.text
    for text in ("报名：王五，川味小馆", "报名 赵六、老張家常菜"):  # the punctuation people type
        assert "报名成功" in rig.db(lambda db: notice_commands.handle(db, ctx(), inbound(text, "c0"))).text
    phone = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("报名 张三 13800138000", "c0")))
    assert "报名格式" in phone.text  # a phone number is no unit
    assert rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("报名要带什么材料？", "c0"))) is None
    assert [(r["name"], r["org"]) for r in rig.db(notices.roster, training)] == [
        ("张三", "某某餐厅"), ("王五", "川味小馆"), ("赵六", "老张家常菜")]
    closed = rig.db(lambda db: publish(db, to="群0", kind="培训通知", start="2099-03-01T09:00",
                                       register_by="2026-01-01T17:00"))
    await rig.until(finished(closed))
    late = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound("报名 李四 某某餐厅", "c0")))
    assert "报名已于 2026年01月01日 17:00 截止" in late.text and rig.db(notices.roster, closed) == []


async def test_questions_about_the_latest_notice_are_answered_from_its_fields(rig: Rig, fake: Any) -> None:
    await rig.start()
    training = rig.db(lambda db: publish(db, to="群0", kind="培训通知", start="2099-02-01T09:30",
                                         place="区政务中心3楼会议室", contact="王科长"))
    recall = rig.db(lambda db: publish(db, to="群0", kind="问题产品下架通知", product="某牌面膜", batch="20261101"))
    await rig.until(finished(training))
    await rig.until(all_sent(recall))

    def ask(text: str, chat: str = "c0") -> str | None:
        reply = rig.db(lambda db: notice_questions.handle(db, ctx(), inbound(text, chat)))
        return None if reply is None else reply.text

    assert ask("培训在哪里？") == "《标题》培训地点：区政务中心3楼会议室"
    assert ask("培训几点开始") == "《标题》培训时间：2099年02月01日 09:30"
    assert ask("培训找谁联系") == "《标题》联系人：王科长"
    assert ask("下架的是哪批") == "《标题》生产日期/批号：20261101"
    assert ask("培训谁参加") is None  # no audience given: the catalog may know
    assert ask("小饭桌在哪里备案") is None  # not about a notice
    assert ask("培训在哪里？", "c1") is None  # this group got no training
    assert ask("怎么报名") == "《标题》报名方式：在本群发送“报名 姓名 单位”，例如“报名 张三 某某餐饮店”。"
    assert ask("我报错了，想取消报名") == "《标题》取消或更正报名，请联系本次培训的联系人：王科长"
    # A bare follow-up is about the group's latest notice, here the recall; anything more is the catalog's.
    assert ask("批号是多少？") == "《标题》生产日期/批号：20261101"
    assert ask("什么产品啊") == "《标题》产品名称：某牌面膜"
    assert ask("几点开始") is None  # the training is not the latest notice
    assert ask("健康证在哪里办") is None and ask("营业时间") is None
    second = rig.db(lambda db: publish(db, to="群1", kind="培训通知", start="2099-03-01T14:00", place="区局二楼"))
    await rig.until(finished(second))
    assert ask("几点开始", "c1") == "《标题》培训时间：2099年03月01日 14:00"
    assert ask("在几楼？", "c1") == "《标题》培训地点：区局二楼"
    after = Context(knowledge=None, salt=b"test", now=lambda: datetime(2099, 2, 3, tzinfo=clock.TZ))  # type: ignore[arg-type]
    assert rig.db(lambda db: notice_questions.handle(db, after, inbound("培训在哪里？", "c0"))) is None  # over


@pytest.mark.parametrize(("text", "expected"), [
    ("收到", "收到"), ("收到收到", "收到"), ("收到，谢谢", "收到"), ("好的收到！", "收到"), ("已收到", "收到"), ("已下架", "已下架"),
    ("我们已经全部下架了，谢谢", "已下架"), ("收到，已下架", "已下架"), ("已阅", "已阅"), ("1", "1"),
    ("收到的通知是什么意思", None), ("下架的产品怎么处理", None), ("谢谢", None), ("好", None),
    # what shops reply to a recall: quantities, the shop itself, "checking", and "we never had it"
    ("收到，马上查", "收到"), ("已下架，本店共下架5盒", "已下架"), ("我们店已经全部下架了", "已下架"), ("已经下架了 共3盒", "已下架"),
    ("已下架 无库存", "已下架"), ("本店无此批次", "无此产品"), ("没有进货", "无此产品"), ("暂无此产品", "无此产品"),
    ("我们家没有这个产品", "无此产品"), ("没有", "无此产品"), ("没有这个证怎么办", None)])
def test_acknowledgements_in_everyday_wording(text: str, expected: str | None) -> None:
    assert notice_commands.acknowledgement(text) == expected


async def test_push_only_groups_confirm_with_a_code_from_any_channel_or_staff(rig: Rig, fake: Any) -> None:
    """A group whose bot cannot read replies gets a confirmation code in the notice; the code sent from any
    channel the gateway reads (here another bot's chat) acknowledges that group; staff record phone calls."""
    server, _ = fake
    await rig.start()
    recall = rig.db(lambda db: publish(db, to="群1,群5", kind="问题产品下架通知"))
    await rig.until(all_sent(recall))
    code = {g: rig.db(notices.ack_code, recall, g) for g in ("群1", "群5")}
    texts = {p["chat"]: p["text"] for p in server.posts}
    assert f"确认 {code['群1']}" in texts["c1"] and code["群5"] in texts["c5"] and code["群1"] not in texts["c5"]
    wrong = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound(f"确认 {recall}-ZZZZ", "elsewhere")))
    assert "无效" in wrong.text
    reply = rig.db(lambda db: notice_commands.handle(db, ctx(), inbound(f"确认 {code['群1'].lower()}", "x", "other")))
    assert "群1" in reply.text and "已确认" in reply.text
    assert rig.db(lambda db: notices.record_staff_ack(db, recall, "群5", "电话确认", "王五"))["earlier"] is None
    assert rig.db(notices.show, recall)["audit"][-1]["detail"] == "群5：电话确认"  # who took the call, on record
    again = rig.db(lambda db: notices.record_staff_ack(db, recall, "群1", "电话确认", "王五"))
    assert again["earlier"]["text"].startswith("确认")  # 群1 confirmed by code first: that answer stands
    with pytest.raises(InvalidInput):
        rig.db(lambda db: notices.record_ack(db, recall, "群7", "电话确认", "王五"))  # never sent there
    shown = rig.db(notices.show, recall)
    assert {d["group"]: d["acknowledged"] for d in shown["deliveries"]} == {"群1": True, "群5": True}


_CHILD = """
import asyncio, sys, aiohttp
from tests.test_outbox import HttpPlatform
from config.settings import SchedulerConfig, Settings
from scheduler import Scheduler
from store import Store

async def main(path, url):
    store = Store(path)
    store.start()
    http = aiohttp.ClientSession()
    adapters = {b: HttpPlatform(b, {"url": url}) for b in ("bot-a", "bot-b")}
    settings = Settings(db=path, scheduler=SchedulerConfig(misfire_grace=3600, poll_interval=0.05))
    await Scheduler(store, settings, adapters, lambda: http).start()
    await asyncio.sleep(60)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_sigkill_mid_post_is_uncertain_not_resent(rig: Rig, fake: Any) -> None:
    server, _ = fake
    server.delay = 30.0  # the child is killed while it waits for this answer
    notice_id = rig.db(lambda db: publish(db, to="群1"))
    root = Path(__file__).resolve().parent.parent
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD, str(rig.path), rig.url, cwd=root)
    try:
        for _ in range(200):
            if server.posts:
                break
            await asyncio.sleep(0.05)
    finally:
        child.kill()  # SIGKILL: no cleanup, no outcome written
        await child.wait()
    assert len(server.posts) == 1
    server.delay = 0.0
    scheduler = await rig.start()
    assert scheduler.recovered == 1
    await asyncio.sleep(0.3)
    assert len(server.posts) == 1  # restart did not repeat it silently
    assert [d["status"] for d in rig.db(notices.show, notice_id)["deliveries"]] == ["uncertain"]


@pytest.mark.parametrize("chat", ["", "cidGroupOne"])
def test_a_receiving_bot_reads_收到_only_where_the_groups_chat_id_tells_it_apart(chat: str, tmp_path: Path) -> None:
    """DingTalk's enterprise robot can sit in many groups and take private chats: a group configured without
    its conversationId cannot be told apart, so its notices carry a confirmation code instead of 收到请回复."""
    adapter = platforms.create("ding", "dingtalk", {"app_secret": "s", "webhook": DING_HOOK}, "test")
    assert adapter.can_receive and adapter.can_push
    notice = {"id": 7, "kind": "通知公告", "title": "节前检查", "body": "请做好自查。", "fields": {}}
    group = {"name": "餐饮-东区", "bot": "ding", "chat": chat}
    db = open_db(tmp_path / "g.db")
    [row] = outbox._rows(db, notice, 1, "notice", group, adapter, "2026-11-27T09:00:00+08:00")
    text = json.loads(row["body"])["markdown"]["text"]
    code = notices.ack_code(db, 7, "餐饮-东区")
    db.close()
    assert (f"确认 {code}" in text) is (chat == "")
    assert ("回复“收到”" in text) is (chat != "")


def test_a_failed_post_is_described_in_chinese_with_the_platforms_words_kept() -> None:
    adapter = platforms.create("ding", "dingtalk", {"webhook": DING_HOOK}, "test")
    timeout = TemporaryError("dingtalk send: no answer within 10s", code="timeout")
    assert adapter.describe(timeout) == "平台在时限内没有答复，消息可能已经送达（dingtalk send: no answer within 10s）"
    assert adapter.describe(TemporaryError("dingtalk: HTTP 502", code=502)).startswith("平台服务器出错（HTTP 502）")
    locked = RateLimited("dingtalk 130101: send too fast", retry_after=600, code=130101)
    assert adapter.describe(locked).startswith("发送太快（每分钟最多 20 条），机器人被暂停 10 分钟（dingtalk 130101")
    assert adapter.describe(PermanentError("something new", code="x1")) == "something new"  # unknown: as it came


def test_a_part_that_once_timed_out_is_marked_when_it_goes_through_whatever_came_between(tmp_path: Path) -> None:
    """A timed-out post may have arrived: a 500 on the next try does not make the group's second copy less likely."""
    db = open_db(tmp_path / "g.db")
    now = clock.now()
    db["deliveries"].insert({"notice_id": 1, "send_n": 1, "grp": "QQ群", "part": 1, "bot": "qq", "chat": "1001",
                             "platform": "onebot", "body": "{}", "status": "sending", "attempts": 1,
                             "next_at": clock.iso(now), "updated_at": clock.iso(now)})
    delivery = db.execute("SELECT id FROM deliveries").fetchone()[0]
    with transaction(db):
        outbox.record(db, delivery, "failed", now, "平台在时限内没有答复", "timeout", 1.0)
    with transaction(db):
        outbox.record(db, delivery, "failed", now, "平台服务器出错（HTTP 500）", "500", 1.0)
    with transaction(db):
        outbox.record(db, delivery, "sent", now)
    assert db.execute("SELECT status, error FROM deliveries").fetchone() == ("sent", outbox.TIMED_OUT_THEN_SENT)
    db.close()


def test_confirmation_codes_are_keyed_per_installation_and_old_ones_keep_working(tmp_path: Path) -> None:
    """A code anyone could compute from the notice number and a group's name would let one shop confirm a recall
    for another: codes are keyed with a secret of the installation. Notices sent before keep their codes."""
    import hashlib

    one, two = open_db(tmp_path / "one.db"), open_db(tmp_path / "two.db")
    try:
        assert notices.ack_code(one, 3, "餐饮-东区") != notices.ack_code(two, 3, "餐饮-东区")
        assert notices.ack_code(one, 3, "餐饮-东区") == notices.ack_code(one, 3, "餐饮-东区")  # derived, stable
        set_meta(one, notices.ACK_KEYED_FROM, "5")  # as m015 records on a database that had notices 1-4
        digest = hashlib.blake2b("3:餐饮-东区".encode(), digest_size=8).digest()
        value, alphabet = int.from_bytes(digest, "big"), "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
        unkeyed = "3-" + "".join(alphabet[(value >> (5 * i)) % len(alphabet)] for i in range(4))
        assert notices.ack_code(one, 3, "餐饮-东区") == unkeyed  # the code printed in an old notice
    finally:
        one.close()
        two.close()


async def test_a_group_waiting_behind_its_robots_lockout_says_until_when(rig: Rig, fake: Any) -> None:
    """And the lockout, ten minutes on DingTalk, does not hold up the gateway's stop."""
    server, _ = fake
    notice_id = rig.db(lambda db: publish(db, to="群1,群5"))
    rig.db(set_meta, "outbox_pause:bot-a", clock.iso(clock.now() + timedelta(minutes=10)))  # as after a 130101
    await rig.start()
    await rig.until(lambda db: [p for p in server.posts if p["chat"] == "c5"])  # bot-b is not held up
    waiting = {d["group"]: d for d in rig.db(notices.show, notice_id)["deliveries"]}
    assert waiting["群1"]["status"] == "queued" and waiting["群1"]["error"].startswith("机器人被平台限流，")
    assert waiting["群1"]["error"].endswith("后再发") and waiting["群5"]["status"] == "sent"
    started = time.perf_counter()
    await rig.stop()
    assert time.perf_counter() - started < 5.0  # not the outbox's 10 s give-up
