"""A broadcast to groups on four platforms' fakes, with injected 500s, rate limits and timeouts.

The real adapters (built by `platforms.create` from a TOML config) post to the fake platform servers in
tests/fakes over loopback HTTP; the real Scheduler and Outbox deliver; staff drive it through the CLI.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web

import bot
import platforms
from config import load_settings
from config.settings import Settings
from scheduler import Scheduler, groups, notices, outbox
from store import Store, open_db, transaction
from tests.fakes.dingtalk import FakeDingTalk, Robot
from tests.fakes.feishu import FakeFeishu, HookBot
from tests.fakes.onebot import FakeOneBot
from tests.fakes.wecom import FakeWeCom

PLATFORMS = ("wecom", "dingtalk", "feishu", "onebot")
WEBHOOK_PLATFORMS = ("wecom", "dingtalk", "feishu")  # one push robot per group: each group has a bot of its own
WECOM_KEYS = tuple(f"wecom-robot-key-000{i}" for i in range(3))
DT_TOKENS, DT_SECRET, KEYWORD = tuple(f"dt-access-token-{i}" for i in range(3)), "SECa1b2c3d4+/=e5f6", "市场监管"
FS_TOKENS, FS_SECRET = tuple(f"fs-hook-token-{i}" for i in range(3)), "fs-sign-secret"
OB_TOKEN = "onebot-access-token"
TIMEOUT = 0.25  # the adapters' per-request timeout in this test; injected delays are longer
SLOW = TIMEOUT + 0.5
TITLE = "食品安全自查"
BODY = "请各餐饮服务单位于本周五前完成食品安全自查。\n发现问题立即整改，并保存整改记录。"
GROUPS: dict[str, list[tuple[str, str]]] = {  # per platform: (group name, chat)
    "wecom": [("企微-东区餐饮", ""), ("企微-西区餐饮", ""), ("企微-南区餐饮", "")],
    "dingtalk": [("钉钉-东区餐饮", ""), ("钉钉-西区餐饮", ""), ("钉钉-南区餐饮", "")],
    "feishu": [("飞书-东区餐饮", ""), ("飞书-西区餐饮", ""), ("飞书-南区餐饮", "")],
    "onebot": [("QQ-东区餐饮", "100001"), ("QQ-西区餐饮", "100002"), ("QQ-南区餐饮", "100003")],
}
UNTARGETED = ("QQ-学校食堂", "200001")  # tagged 学校 only: `--to 餐饮` must not reach it


@dataclass
class Fakes:
    wecom: FakeWeCom
    dingtalk: FakeDingTalk
    feishu: FakeFeishu
    onebot: FakeOneBot
    base: dict[str, str] = field(default_factory=dict)
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {p: [] for p in PLATFORMS})

    def accepted(self, platform: str) -> list[dict[str, Any]]:
        """The bodies each fake accepted (passed its signature, token, keyword and schema checks)."""
        if platform == "wecom":
            return self.wecom.pushes
        if platform == "dingtalk":
            return [s["body"] for s in self.dingtalk.sent]
        if platform == "feishu":
            return self.feishu.pushes
        return [s["body"] for s in self.onebot.sent]


def tap(app: web.Application, calls: list[dict[str, Any]]) -> web.Application:
    """Record every request a fake receives (on arrival) and the answer it gave, errors included."""

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()  # cached: the fake's handler reads the same bytes
        call: dict[str, Any] = {"query": request.query_string, "body": raw, "status": None, "answer": None}
        calls.append(call)
        response = await handler(request)
        call["status"] = response.status
        body = getattr(response, "body", None)
        call["answer"] = json.loads(body) if isinstance(body, bytes) and body[:1] == b"{" else None
        return response

    app.middlewares.append(record)
    return app


@pytest.fixture
async def fakes(aiohttp_server: Any) -> Fakes:
    f = Fakes(wecom=FakeWeCom(keys=set(WECOM_KEYS)), dingtalk=FakeDingTalk(), feishu=FakeFeishu(),
              onebot=FakeOneBot(access_token=OB_TOKEN))
    for token in DT_TOKENS:
        f.dingtalk.add_robot(Robot(token, DT_SECRET, (KEYWORD,)))  # 加签 and a keyword, as set in the group
    for token in FS_TOKENS:
        f.feishu.add_hook(HookBot(token, FS_SECRET))
    for name in PLATFORMS:
        server = await aiohttp_server(tap(getattr(f, name).app(), f.calls[name]))
        f.base[name] = f"http://{server.host}:{server.port}"
    return f


def config_text(f: Fakes) -> str:
    lines = ["[scheduler]", "poll_interval = 0.05", ""]
    for i in range(3):
        lines += [
            "[[bots]]", f'name = "wecom-push-{i}"', 'platform = "wecom"', f'webhook = "env:WECOM_WEBHOOK_{i}"', "",
            "[[bots]]", f'name = "dingtalk-push-{i}"', 'platform = "dingtalk"', f'webhook = "env:DINGTALK_WEBHOOK_{i}"',
            'secret = "env:DINGTALK_SECRET"', f'keyword = "{KEYWORD}"', "",
            "[[bots]]", f'name = "feishu-push-{i}"', 'platform = "feishu"', f'webhook = "env:FEISHU_WEBHOOK_{i}"',
            'secret = "env:FEISHU_SECRET"', "",
        ]
    lines += ["[[bots]]", 'name = "onebot-push"', 'platform = "onebot"', f'api_base = "{f.base["onebot"]}"',
              'access_token = "env:ONEBOT_TOKEN"', ""]
    areas = ("东区", "西区", "南区")
    for platform, entries in GROUPS.items():
        for i, ((name, chat), area) in enumerate(zip(entries, areas)):
            bot_name = f"{platform}-push-{i}" if platform in WEBHOOK_PLATFORMS else f"{platform}-push"
            lines += ["[[groups]]", f'name = "{name}"', f'bot = "{bot_name}"', f'chat = "{chat}"',
                      f'tags = ["餐饮", "{area}"]', ""]
    lines += ["[[groups]]", f'name = "{UNTARGETED[0]}"', 'bot = "onebot-push"', f'chat = "{UNTARGETED[1]}"',
              'tags = ["学校"]', ""]
    return "\n".join(lines)


def secrets(f: Fakes) -> dict[str, str]:
    hooks = {}
    for i in range(3):
        hooks[f"WECOM_WEBHOOK_{i}"] = f"{f.base['wecom']}/cgi-bin/webhook/send?key={WECOM_KEYS[i]}"
        hooks[f"DINGTALK_WEBHOOK_{i}"] = f"{f.base['dingtalk']}/robot/send?access_token={DT_TOKENS[i]}"
        hooks[f"FEISHU_WEBHOOK_{i}"] = f"{f.base['feishu']}/open-apis/bot/v2/hook/{FS_TOKENS[i]}"
    return {**hooks, "DINGTALK_SECRET": DT_SECRET, "FEISHU_SECRET": FS_SECRET, "ONEBOT_TOKEN": OB_TOKEN}


class Rig:
    """The config file, the database, the CLI, and the real Scheduler with the real adapters."""

    def __init__(self, tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.fakes, self.monkeypatch, self.capsys = fakes, monkeypatch, capsys
        self.config = tmp_path / "gongkai.toml"
        self.config.write_text(config_text(fakes), encoding="utf-8")
        self.db = tmp_path / "broadcast.db"
        self.env = secrets(fakes)
        self.store: Store | None = None
        self.scheduler: Scheduler | None = None
        self.http: aiohttp.ClientSession | None = None

    async def start(self, **overrides: str) -> Settings:
        """Load the config with its secrets, sync the groups, start Store + Scheduler as the gateway would."""
        self.env.update(overrides)
        for name, value in self.env.items():  # the CLI reads the same config from the real environment
            self.monkeypatch.setenv(name, value)
        settings = load_settings(str(self.config), environ=self.env, db=str(self.db))
        db = open_db(settings.db)
        try:
            with transaction(db):
                groups.sync_config_groups(db, settings.groups)
        finally:
            db.close()
        adapters = {b.name: platforms.create(b.name, b.platform, b.options, b.source) for b in settings.bots}
        for adapter in adapters.values():
            adapter.timeout = TIMEOUT  # type: ignore[attr-defined]
        self.http = aiohttp.ClientSession()
        self.store = Store(settings.db)
        self.store.start()
        self.scheduler = Scheduler(self.store, settings, adapters, lambda: self.http, retry_base=0.05,
                                   rate_scale=0.05)
        await self.scheduler.start()
        return settings

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.store is not None:
            await self.store.close()
        if self.http is not None:
            await self.http.close()
        self.scheduler = self.store = self.http = None

    def cli(self, *args: str) -> Any:
        """`python bot.py --config CFG --db DB ... --json`, in process; returns the parsed stdout."""
        self.capsys.readouterr()
        code = bot.main(["--config", str(self.config), "--db", str(self.db), *args, "--json"])
        out = self.capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)

    def publish(self) -> int:
        created = self.cli("notice", "create", "--kind", "自查提醒", "--title", TITLE, "--body", BODY,
                           "--to", "餐饮", "--by", "alice")
        notice_id = int(created["id"])
        self.cli("notice", "submit", str(notice_id), "--by", "alice")
        self.cli("notice", "approve", str(notice_id), "--by", "bob")
        self.cli("notice", "schedule", str(notice_id), "--now")
        return notice_id

    async def finished(self, notice_id: int, groups_n: int, timeout: float = 8.0) -> dict[str, Any]:
        """Poll the database until every targeted group's delivery is final (nothing queued/sending/failed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            db = open_db(self.db)
            try:
                shown = notices.show(db, notice_id)
            finally:
                db.close()
            rows = shown["deliveries"]
            if len(rows) == groups_n and all(r["status"] not in ("queued", "sending", "failed") for r in rows):
                return shown
            if loop.time() > deadline:
                raise AssertionError(f"broadcast not finished: {[(r['group'], r['status']) for r in rows]}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def rig(tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str]) -> AsyncIterator[Rig]:
    r = Rig(tmp_path, fakes, monkeypatch, capsys)
    yield r
    await r.stop()


def text_of(platform: str, body: dict[str, Any]) -> str:
    """The readable text of one accepted body, the way each platform shows it."""
    if platform == "wecom":
        return str(body["markdown"]["content"])
    if platform == "dingtalk":
        return str(body["markdown"]["text"])
    if platform == "feishu":
        rows = body["content"]["post"]["zh_cn"]["content"]
        return "\n".join("".join(seg.get("text", "") for seg in row if seg["tag"] == "text") for row in rows)
    return "".join(seg["data"]["text"] for seg in body["message"] if seg["type"] == "text")


def failures(calls: list[dict[str, Any]]) -> int:
    """Requests a fake answered with anything but success (timeouts included: they answer 500 late)."""
    def ok(call: dict[str, Any]) -> bool:
        answer = call["answer"] or {}
        return call["status"] == 200 and answer.get("errcode", answer.get("code", answer.get("retcode"))) == 0
    return sum(1 for c in calls if not ok(c))


async def test_broadcast_with_500s_rate_limits_and_timeouts_delivers_every_group_once(rig: Rig) -> None:
    f = rig.fakes
    # Three injected failures per platform, answered to the first three requests each fake receives.
    # Rate limits carry a short server wait hint: the adapters honour it, and rate_scale does not scale it.
    f.wecom.answer_next(status=500)
    f.wecom.answer_next(errcode=45009, errmsg="api freq out of limit", headers={"Retry-After": "0.2"})
    f.wecom.answer_next(status=500, delay=SLOW)  # the adapter times out first; the late answer is a failure too
    # DingTalk's rate-limit code 130101 means a fixed 600 s lockout (not scaled): a 500, -1 and a timeout instead.
    f.dingtalk.answer_next(status=500)
    f.dingtalk.answer_next(errcode=-1, errmsg="系统繁忙")
    f.dingtalk.answer_next(status=500, delay=SLOW)
    f.feishu.answer_next("hook", status=500)
    f.feishu.answer_next("hook", code=11232, msg="frequency limited", headers={"x-ogw-ratelimit-reset": "0.2"})
    f.feishu.answer_next("hook", status=500, delay=SLOW)
    f.onebot.answer_next(status=500)
    f.onebot.answer_next(retcode=103)
    f.onebot.answer_next(status=500, delay=SLOW)
    injected = {"wecom": 3, "dingtalk": 3, "feishu": 3, "onebot": 3}

    await rig.start()
    notice_id = rig.publish()
    targeted = [name for entries in GROUPS.values() for name, _ in entries]
    await rig.finished(notice_id, len(targeted))
    shown = rig.cli("notice", "show", str(notice_id))

    assert shown["status"] == "done"
    by_group = {d["group"]: d for d in shown["deliveries"]}
    assert sorted(by_group) == sorted(targeted)  # the 学校 group is not targeted, so not listed
    assert all(d["status"] == "sent" and not d["acknowledged"] for d in by_group.values()), by_group
    # The one group per platform whose post timed out before it went through is marked: it may have two.
    assert sum(d["error"] == outbox.TIMED_OUT_THEN_SENT for d in by_group.values()) == len(PLATFORMS)
    for platform in PLATFORMS:
        fake_calls = f.calls[platform]
        rows = [by_group[name] for name, _ in GROUPS[platform]]
        accepted = f.accepted(platform)
        assert len(accepted) == len(rows), platform  # every row sent, as many acceptances as rows: no duplicate
        assert failures(fake_calls) == injected[platform], platform
        assert sum(r["attempts"] for r in rows) == len(fake_calls), platform  # every request is a counted attempt
        assert sum(r["attempts"] - 1 for r in rows) == injected[platform], platform
        assert any(r["attempts"] >= 2 for r in rows), platform
        for body in accepted:
            assert BODY in text_of(platform, body), platform  # the notice body verbatim
            assert TITLE in json.dumps(body, ensure_ascii=False), platform
    assert not f.wecom.script and not f.dingtalk.script and not f.feishu.script["hook"] and not f.onebot.script

    # Signed or authorised, as the fakes checked before accepting: DingTalk 加签 in the query and the keyword,
    # Feishu timestamp/sign in the body, OneBot the Bearer token.
    assert all("timestamp=" in s["query"] and "sign=" in s["query"] for s in f.dingtalk.sent)
    assert all(KEYWORD in s["body"]["markdown"]["text"] for s in f.dingtalk.sent)
    robots = Counter(parse_qs(s["query"])["access_token"][0] for s in f.dingtalk.sent)
    assert robots == Counter(DT_TOKENS)  # each group's own robot, once
    assert all(p["timestamp"] and p["sign"] for p in f.feishu.pushes)
    assert all(s["auth"] == f"Bearer {OB_TOKEN}" for s in f.onebot.sent)

    # OneBot groups are told apart by group_id: each got exactly one accepted message, and the groups hit by
    # an injected failure show as many extra attempts in `notice show`.
    chats = {chat: name for name, chat in GROUPS["onebot"]}
    accepted_per_chat = Counter(str(s["body"]["group_id"]) for s in f.onebot.sent)
    assert accepted_per_chat == Counter({chat: 1 for chat in chats})
    requests_per_chat = Counter(str(json.loads(c["body"])["group_id"]) for c in f.calls["onebot"])
    assert UNTARGETED[1] not in requests_per_chat
    for chat, name in chats.items():
        assert by_group[name]["attempts"] == requests_per_chat[chat], name
    failed_chats = {str(json.loads(c["body"])["group_id"]) for c in f.calls["onebot"] if c["status"] != 200
                    or (c["answer"] or {}).get("retcode")}
    assert failed_chats and all(by_group[chats[c]]["attempts"] >= 2 for c in failed_chats)

    assert sum(len(f.accepted(p)) for p in PLATFORMS) == len(targeted)


MEANINGS = {"310000": "不符合机器人的安全设置：关键词、加签密钥或 IP 白名单（",
            "19021": "签名校验失败：secret 与机器人的不符，或服务器时间不准（"}


@pytest.mark.parametrize(("broken", "env", "code"), [
    ("dingtalk", "DINGTALK_SECRET", "310000"),  # 加签 secret does not match the robot's: sign not match
    ("feishu", "FEISHU_SECRET", "19021"),  # signature secret does not match the bot's: sign match fail
])
async def test_permanent_error_dead_letters_that_bots_groups_only(rig: Rig, broken: str, env: str,
                                                                 code: str) -> None:
    f = rig.fakes
    f.wecom.answer_next(status=500)  # a temporary failure elsewhere is still retried to success
    await rig.start(**{env: "a-secret-that-is-not-the-robots"})
    notice_id = rig.publish()
    targeted = [name for entries in GROUPS.values() for name, _ in entries]
    await rig.finished(notice_id, len(targeted))
    shown = rig.cli("notice", "show", str(notice_id))

    by_group = {d["group"]: d for d in shown["deliveries"]}
    assert sorted(by_group) == sorted(targeted)
    for platform in PLATFORMS:
        for name, _ in GROUPS[platform]:
            row = by_group[name]
            if platform == broken:
                assert (row["status"], row["code"], row["attempts"]) == ("dead", code, 1), row
                # staff read why in Chinese, the platform's own words after it for a support ticket
                assert row["error"].startswith(MEANINGS[code]) and code in row["error"], row
            else:
                assert row["status"] == "sent", row
    assert f.accepted(broken) == []
    assert len(f.calls[broken]) == len(GROUPS[broken])  # one try per group: a permanent error is not retried
    for platform in PLATFORMS:
        if platform != broken:
            assert len(f.accepted(platform)) == len(GROUPS[platform]), platform
    assert shown["status"] == "partly_failed" and shown["status_text"] == "部分失败"
