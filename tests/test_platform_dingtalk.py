"""DingTalk adapter: official vectors on the pure functions, pushes and replies against a fake DingTalk."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from errors import (
    BadPayload,
    BadSignature,
    ConfigError,
    MissingSignature,
    PermanentError,
    RateLimited,
    TemporaryError,
)
from platforms import Inbound, Message, RawRequest, Target, create
from platforms.dingtalk import DingTalkPlatform, sign, signed_url
from store import open_db
from tests.fakes.dingtalk import FakeDingTalk, Robot

# Copied byte for byte from PLATFORMS.md §2.3: "SEC" followed by 63 zeros.
SECRET = "SEC000000000000000000000000000000000000000000000000000000000000000"
APP_SECRET = "appSecretExample1234567890"
TOKEN = "0123456789abcdef0123456789abcdef"
T0 = 1735000000.0  # the vectors' timestamp, in seconds

Server = Callable[..., Awaitable[TestServer]]


def event_body(**override: Any) -> bytes:
    body = {
        "msgtype": "text", "text": {"content": "@食药监小助手 药店营业时间?"}, "msgId": "msgABC123",
        "createAt": 1735000000000, "conversationType": "2", "conversationId": "cidGroup==",
        "conversationTitle": "餐饮-东区", "senderId": "$:LWCP_v1:$abc", "senderNick": "张三",
        "senderStaffId": "staff001", "chatbotUserId": "$:LWCP_v1:$bot", "isInAtList": True,
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
        "sessionWebhookExpiredTime": 1735005400000,
    }
    body.update(override)
    return json.dumps(body, ensure_ascii=False).encode()


def request(body: bytes = b"{}", now: float = T0, /, **headers: str) -> RawRequest:
    return RawRequest("POST", {}, headers, body, now)


def signed(body: bytes, now: float = T0, stamp: int = 1735000000000) -> RawRequest:
    return request(body, now, timestamp=str(stamp), sign=sign(APP_SECRET, stamp))


def receiver(**options: Any) -> DingTalkPlatform:
    return DingTalkPlatform("dt", {"app_secret": APP_SECRET, **options})


def pusher(base: str, **options: Any) -> DingTalkPlatform:
    plat = DingTalkPlatform("dt", {"webhook": f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
                                   "api_base": base, "secret": SECRET, **options})
    plat.clock = lambda: T0
    plat.timeout = 0.5
    return plat


@pytest.fixture
def fake() -> FakeDingTalk:
    fake = FakeDingTalk(clock=lambda: T0)
    fake.add_robot(Robot(TOKEN, secret=SECRET, keywords=("食药监",)))
    return fake


@pytest.fixture
async def base(aiohttp_server: Server, fake: FakeDingTalk) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("")).rstrip("/")


# --- signatures: official vectors ------------------------------------------------------------------
@pytest.mark.parametrize(("stamp", "encoded"), [
    (1735000000000, "WKd2tv48MdLw5y73k16jmzna7CuWN43feCRwuSCiYTs%3D"),
    (1735000000001, "76tqsaOVz9uoF%2FpCjJ3HDOw%2BYzWFS3bONT5Vw14%2BVsc%3D"),
])
def test_push_sign_vectors(stamp: int, encoded: str) -> None:
    url = signed_url(f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}", SECRET, stamp)
    assert url.endswith(f"&timestamp={stamp}&sign={encoded}")


def test_inbound_vector_verifies_with_window_disabled() -> None:
    plat = receiver(max_skew=0)
    req = request(b"{}", time.time(), timestamp="1735000000000", sign="McPdUcBsP038i6zQBFzPaf0OqqPBgn6KoBgPNIcFHuU=")
    plat.verify(req)


def test_inbound_vector_is_stale_with_the_window_on() -> None:
    req = request(b"{}", time.time(), timestamp="1735000000000", sign="McPdUcBsP038i6zQBFzPaf0OqqPBgn6KoBgPNIcFHuU=")
    with pytest.raises(BadSignature, match="stale"):
        receiver().verify(req)


@pytest.mark.parametrize(("offset", "ok"), [(3599, True), (-3599, True), (3601, False), (-3601, False)])
def test_skew_window_is_one_hour_both_ways(offset: int, ok: bool) -> None:
    req = signed(b"{}", now=T0 + offset)
    if ok:
        receiver().verify(req)
    else:
        with pytest.raises(BadSignature):
            receiver().verify(req)


@pytest.mark.parametrize(("headers", "error"), [
    ({}, MissingSignature),
    ({"timestamp": "1735000000000"}, MissingSignature),
    ({"sign": "McPdUcBsP038i6zQBFzPaf0OqqPBgn6KoBgPNIcFHuU="}, MissingSignature),
    ({"timestamp": "1735000000000", "sign": "McPdUcBsP038i6zQBFzPaf0OqqPBgn6KoBgPNIcFHuU%3D"}, BadSignature),
    ({"timestamp": "1735000000001", "sign": "McPdUcBsP038i6zQBFzPaf0OqqPBgn6KoBgPNIcFHuU="}, BadSignature),
    ({"timestamp": "17350000000OO", "sign": "McPdUcBsP038i6zQBFzPaf0OqqPBgn6KoBgPNIcFHuU="}, BadSignature),
    ({"timestamp": "9" * 400, "sign": sign(APP_SECRET, "9" * 400)}, BadSignature),  # signed, but no time
])
def test_missing_or_wrong_sign_refused(headers: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        receiver().verify(request(**headers))
    assert caught.value.status == (401 if error is MissingSignature else 403)  # type: ignore[attr-defined]


def test_push_only_bot_refuses_inbound() -> None:
    plat = DingTalkPlatform("dt", {"webhook": "https://oapi.dingtalk.com/robot/send?access_token=x"})
    assert not plat.can_receive and plat.can_push
    with pytest.raises(BadSignature):
        plat.verify(signed(b"{}"))


# --- parse -----------------------------------------------------------------------------------------
def test_parse_group_mention() -> None:
    [event] = receiver().parse(signed(event_body()))
    assert event == Inbound(
        platform="dingtalk", bot="dt", event_id="msgABC123", text="药店营业时间?", chat="cidGroup==",
        chat_type="group", sender="staff001", sender_name="张三",
        handle={"sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
                "sessionWebhookExpiredTime": 1735005400000, "senderStaffId": "staff001"},
    )


def test_a_bad_api_base_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[bots.dt\] api_base: 应为网址"):
        receiver(api_base="oapi.dingtalk.com")


@pytest.mark.parametrize("webhook", ["https://x", "https://oapi.dingtalk.com/robot/send", 5])
def test_a_push_webhook_without_its_access_token_is_a_config_error(webhook: Any) -> None:
    with pytest.raises(ConfigError, match=r"\[bots.dt\] webhook: 应为自定义机器人的 Webhook 地址"):
        DingTalkPlatform("dt", {"webhook": webhook})


@pytest.mark.parametrize(("url", "api_base", "accepted"), [
    ("https://oapi.dingtalk.com/robot/sendBySession?session=s1", "", True),
    ("https://api.dingtalk.com/robot/sendBySession?session=s1", "", True),
    ("http://127.0.0.1:8099/robot/sendBySession?session=s1", "http://127.0.0.1:8099", True),  # a fake, a proxy
    ("https://evil.example/robot/sendBySession?session=s1", "", False),
    ("https://oapi.dingtalk.com.evil.example/robot/sendBySession", "", False),
    ("https://evil.example/?next=oapi.dingtalk.com", "", False),
    ("http://oapi.dingtalk.com/robot/sendBySession?session=s1", "", False),  # not https
    ("http://127.0.0.1:8100/robot/sendBySession?session=s1", "http://127.0.0.1:8099", False),
    ("robot/sendBySession?session=s1", "", False),
    # found by fuzzing: a NUL ends the name getaddrinfo reads; ports, brackets, backslashes, full-width slashes
    ("https://localhost\x00.dingtalk.com:8443/robot", "", False), ("https://oapi.dingtalk.com:8443/robot", "", False),
    ("https://oapi.dingtalk.com:99999/robot", "", False), ("https://[oapi.dingtalk.com]/", "", False),
    ("https://evil.example\\@oapi.dingtalk.com/", "", False), ("https://evil.example／.dingtalk.com/", "", False),
    ("https://oapi.dingtalk.com./robot", "", False), ("https://OAPI.DINGTALK.COM/robot", "", True),
])
def test_session_webhook_must_be_dingtalks(url: str, api_base: str, accepted: bool) -> None:
    """The inbound sign covers only the timestamp: a forged event must not choose where our answer is posted."""
    plat = receiver(api_base=api_base) if api_base else receiver()
    if accepted:
        [event] = plat.parse(signed(event_body(sessionWebhook=url)))
        assert event.handle["sessionWebhook"] == url
    else:
        with pytest.raises(BadPayload, match="sessionWebhook"):
            plat.parse(signed(event_body(sessionWebhook=url)))


@pytest.mark.parametrize(("content", "text"), [
    (" 药店营业时间?", "药店营业时间?"),  # DingTalk usually drops the mention and leaves a space
    ("@食药监小助手\u2005药店营业时间?", "药店营业时间?"),
    ("药店 @张三 营业时间?", "药店 营业时间?"),
    ("@张三 @食药监小助手 帮助", "帮助"),  # a colleague mentioned too: still the command
    ("问下 a@b.cn 能收到吗", "问下 a@b.cn 能收到吗"),  # an address is no mention
    ("@食药监小助手", ""),
])
def test_mentions_are_dropped(content: str, text: str) -> None:
    [event] = receiver().parse(signed(event_body(text={"content": content})))
    assert event.text == text


def test_an_expiry_of_infinity_reads_as_none() -> None:
    """JSON's 1e999 is infinity, which int() cannot take: the answer is then tried, not the request refused."""
    [event] = receiver().parse(signed(event_body().replace(b'"sessionWebhookExpiredTime": 1735005400000',
                                                           b'"sessionWebhookExpiredTime": 1e999')))
    assert event.handle["sessionWebhookExpiredTime"] == 0


def test_parse_single_chat_uses_sender_id_without_staff_id() -> None:
    body = event_body(conversationType="1", senderStaffId=None, conversationId="cidSingle")
    [event] = receiver().parse(signed(body))
    assert (event.chat, event.chat_type, event.sender) == ("", "single", "$:LWCP_v1:$abc")


def test_non_text_is_ignored() -> None:
    body = event_body(msgtype="picture", text=None, content={"downloadCode": "x"})
    assert receiver().parse(signed(body)) == []


@pytest.mark.parametrize("body", [b"not json", b"[1]", b"\xff\xfe", event_body(msgId=""), event_body(text={})])
def test_malformed_body(body: bytes) -> None:
    with pytest.raises(BadPayload):
        receiver().parse(signed(body))


# --- config ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{"webhook": ""}, {"app_secret": APP_SECRET, "max_skew": -1},
                                     {"app_secret": APP_SECRET, "max_skew": "1h"},
                                     {"app_secret": APP_SECRET, "keyword": 3}, {"app_secret": "x", "token": "y"}])
def test_bad_config(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        create("dt", "dingtalk", options)


def test_repr_hides_secrets() -> None:
    plat = pusher("http://x", app_secret=APP_SECRET)
    assert TOKEN not in repr(plat) and SECRET not in repr(plat) and APP_SECRET not in repr(plat)


# --- render ----------------------------------------------------------------------------------------
def test_render_markdown_with_keyword_and_title() -> None:
    message = Message("**停业**通知：\n- 东区\n[详情](https://e.x/1)", "公告")
    [body] = pusher("http://x", keyword="食药监").render(message)
    assert body == {"msgtype": "markdown", "markdown": {
        "title": "公告", "text": "### 公告\n\n**停业**通知：\n- 东区\n[详情](https://e.x/1)\n\n食药监"}}


def test_render_keeps_text_when_keyword_present_and_titles_from_body() -> None:
    plat = pusher("http://x", keyword=["市场监管", "食药监"])
    [body] = plat.render(Message("# 食药监提醒\n正文", mention_all=True))
    assert body["markdown"] == {"title": "食药监提醒", "text": "# 食药监提醒\n正文"}
    assert body["at"] == {"isAtAll": True}


def test_render_splits_long_messages_each_with_keyword() -> None:
    plat = pusher("http://x", keyword="食药监")
    body = "\n\n".join(f"第{i}段：" + "药品安全" * 60 for i in range(40))
    parts = plat.render(Message(body, "长公告", mention_all=True))
    assert len(parts) > 3
    for part in parts:
        text = part["markdown"]["text"]
        assert len(text.encode()) <= plat.max_bytes and "食药监" in text and part["markdown"]["title"] == "长公告"
    # The heading leads every part: "(1/4) ### 长公告" would show the ### as text.
    heads = [f"### 长公告\n\n({i}/{len(parts)}) 第" for i in range(1, len(parts) + 1)]
    assert [p["markdown"]["text"][:len(h)] for p, h in zip(parts, heads)] == heads
    assert [("at" in p) for p in parts] == [True] + [False] * (len(parts) - 1)


# --- send against the fake -------------------------------------------------------------------------
async def test_send_success_signs_once(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk) -> None:
    plat = pusher(base, keyword="食药监")
    await plat.send(http, Target("dt"), plat.render(Message("明日抽检", "通知"))[0])
    [sent] = fake.sent
    assert sent["body"]["markdown"]["text"] == "### 通知\n\n明日抽检\n\n食药监"
    assert sent["query"].endswith("&timestamp=1735000000000&sign=WKd2tv48MdLw5y73k16jmzna7CuWN43feCRwuSCiYTs%3D")


async def test_send_sign_with_plus_and_slash(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk) -> None:
    plat = pusher(base, keyword="食药监")
    plat.clock = lambda: 1735000000.001
    await plat.send(http, Target("dt"), plat.render(Message("正文"))[0])
    assert fake.sent[0]["query"].endswith("sign=76tqsaOVz9uoF%2FpCjJ3HDOw%2BYzWFS3bONT5Vw14%2BVsc%3D")


async def test_send_long_message_all_parts_accepted(http: aiohttp.ClientSession, base: str,
                                                    fake: FakeDingTalk) -> None:
    plat = pusher(base, keyword="食药监")
    body = "\n".join(f"{i}. " + "餐饮服务单位应当" * 30 for i in range(60))
    for part in plat.render(Message(body, "长通知")):
        await plat.send(http, Target("dt"), part)
    assert len(fake.sent) > 4
    assert all(len(json.dumps(s["body"], ensure_ascii=False).encode()) < 20000 for s in fake.sent)


@pytest.mark.parametrize(("script", "error", "code"), [
    ({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, RateLimited, 130101),
    ({"errcode": 310000, "errmsg": "ip 1.2.3.4 not in whitelist"}, PermanentError, 310000),
    ({"errcode": 300001, "errmsg": "token is not exist"}, PermanentError, 300001),
    ({"errcode": -1, "errmsg": "系统繁忙"}, TemporaryError, -1),
    ({"status": 500}, TemporaryError, 500),
    ({"status": 502}, TemporaryError, 502),
    ({"status": 404}, PermanentError, 404),
    ({"delay": 2.0}, TemporaryError, "timeout"),
])
async def test_scripted_errors(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk,
                               script: dict[str, Any], error: type[Exception], code: object) -> None:
    fake.answer_next(**script)
    plat = pusher(base, keyword="食药监")
    with pytest.raises(error) as caught:
        await plat.send(http, Target("dt"), plat.render(Message("正文"))[0])
    assert caught.value.code == code  # type: ignore[attr-defined]
    if error is RateLimited:
        assert caught.value.retry_after == 600  # type: ignore[attr-defined]


@pytest.mark.parametrize(("options", "clock", "errmsg"), [
    ({"secret": "SEC" + "1" * 63}, T0, "sign not match"),
    ({}, T0 - 3601, "invalid timestamp"),
    ({"keyword": ""}, T0, "keywords not in content"),
])
async def test_fake_refuses_like_dingtalk(http: aiohttp.ClientSession, base: str, options: dict[str, Any],
                                          clock: float, errmsg: str) -> None:
    plat = pusher(base, **{"keyword": "食药监", **options})
    plat.clock = lambda: clock
    with pytest.raises(PermanentError, match=errmsg) as caught:
        await plat.send(http, Target("dt"), plat.render(Message("正文"))[0])
    assert caught.value.code == 310000


async def test_twenty_per_minute_then_locked(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk) -> None:
    plat = pusher(base, keyword="食药监")
    body = plat.render(Message("正文"))[0]
    for _ in range(20):
        await plat.send(http, Target("dt"), body)
    with pytest.raises(RateLimited):
        await plat.send(http, Target("dt"), body)
    fake.clock = lambda: T0 + 120
    plat.clock = lambda: T0 + 120
    with pytest.raises(RateLimited):  # still inside the 10-minute lockout
        await plat.send(http, Target("dt"), body)


async def test_connection_refused_is_temporary(http: aiohttp.ClientSession, unused_tcp_port: int) -> None:
    plat = pusher(f"http://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(TemporaryError):
        await plat.send(http, Target("dt"), plat.render(Message("正文"))[0])


async def test_no_secret_in_logs_or_errors(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    plat = pusher(base, keyword="食药监")
    await plat.send(http, Target("dt"), plat.render(Message("正文"))[0])
    fake.answer_next(status=500)
    with pytest.raises(TemporaryError) as caught:
        await plat.send(http, Target("dt"), plat.render(Message("正文"))[0])
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("aiohttp.access"))
    assert "dt: sent markdown to 127.0.0.1/robot/send?access_token=0123…" in ours
    for secret in (TOKEN, SECRET):
        assert secret not in ours and secret not in str(caught.value)


# --- reply through the sessionWebhook ----------------------------------------------------------------
def reply_event(base: str, expires: int = 1735005400000, chat_type: str = "group") -> Inbound:
    return Inbound("dingtalk", "dt", "m1", "问题", "cid", chat_type, "staff001", "张三",
                   {"sessionWebhook": f"{base}/robot/sendBySession?session=s1",
                    "sessionWebhookExpiredTime": expires, "senderStaffId": "staff001"})


async def test_reply_posts_to_session_webhook(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk) -> None:
    plat = receiver()
    plat.clock = lambda: T0
    await plat.reply(http, reply_event(base), "周一至周日 8:00-22:00")
    assert fake.replies == [{"session": "s1", "body": {
        "msgtype": "text", "text": {"content": "周一至周日 8:00-22:00"}, "at": {"atUserIds": ["staff001"]}}}]


async def test_reply_goes_through_api_base(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk) -> None:
    """With `api_base` set (a proxy, a fake), DingTalk's sessionWebhook is reached through it, like the push."""
    plat = receiver(api_base=base)
    plat.clock = lambda: T0
    await plat.reply(http, reply_event("https://oapi.dingtalk.com"), "答复")
    assert [r["session"] for r in fake.replies] == ["s1"]


async def test_reply_after_expiry_is_permanent(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk) -> None:
    plat = receiver()
    plat.clock = lambda: T0 + 2 * 3600
    with pytest.raises(PermanentError, match="sessionWebhook 已过期"):
        await plat.reply(http, reply_event(base), "答复")
    assert fake.replies == []


async def test_reply_errcode_is_read(http: aiohttp.ClientSession, base: str, fake: FakeDingTalk) -> None:
    fake.answer_next(errcode=130101, errmsg="send too fast")
    plat = receiver()
    plat.clock = lambda: T0
    with pytest.raises(RateLimited):
        await plat.reply(http, reply_event(base), "答复")


# --- end to end through the gateway -------------------------------------------------------------------
E2E_CONFIG = """
[[bots]]
name = "dt-main"
platform = "dingtalk"
app_secret = "env:DT_APP_SECRET"
api_base = "{base}"
"""


async def test_gateway_replies_through_session_webhook(aiohttp_client: Any, tmp_path: Any, base: str,
                                                       fake: FakeDingTalk) -> None:
    from bot import create_app
    from config import load_settings

    path = tmp_path / "gongkai.toml"
    path.write_text(E2E_CONFIG.format(base=base), encoding="utf-8")
    settings = load_settings(str(path), environ={"DT_APP_SECRET": APP_SECRET}, db=str(tmp_path / "t.db"))
    client = await aiohttp_client(create_app(settings))
    now_ms = int(time.time() * 1000)
    body = event_body(createAt=now_ms, sessionWebhook=f"{base}/robot/sendBySession?session=e2e",
                      sessionWebhookExpiredTime=now_ms + 90 * 60 * 1000)
    headers = {"timestamp": str(now_ms), "sign": sign(APP_SECRET, now_ms), "Content-Type": "application/json"}
    assert (await client.post("/hooks/dingtalk/dt-main", data=body)).status == 401
    resp = await client.post("/hooks/dingtalk/dt-main", data=body, headers=headers)
    assert resp.status == 200
    for _ in range(200):  # the reply is deferred to a worker: wait for it, at most 2 s
        if fake.replies:
            break
        await asyncio.sleep(0.01)
    [reply] = fake.replies
    assert reply["session"] == "e2e" and reply["body"]["msgtype"] == "text"
    assert reply["body"]["text"]["content"] and reply["body"]["at"] == {"atUserIds": ["staff001"]}
    assert (await client.post("/hooks/dingtalk/dt-main", data=body, headers=headers)).status == 200
    await asyncio.sleep(0.05)
    assert len(fake.replies) == 1  # a repeated msgId is answered once
    forged = event_body(msgId="forged", createAt=now_ms, sessionWebhook="https://evil.example/collect?session=x",
                        sessionWebhookExpiredTime=now_ms + 90 * 60 * 1000)
    resp = await client.post("/hooks/dingtalk/dt-main", data=forged, headers=headers)  # replayed headers
    assert resp.status == 400 and "evil.example" in (await resp.json())["error"]
    db = open_db(settings.db)
    assert [r["event_id"] for r in db["enquiries"].rows] == ["msgABC123"]  # the forged event is not logged
    db.close()


async def test_an_answer_that_cannot_be_posted_stays_queued_with_why(
        aiohttp_client: Any, tmp_path: Any, base: str, fake: FakeDingTalk) -> None:
    """A posted answer leaves the `replies` queue; one DingTalk refuses stays there with its status and error,
    and the enquiry log shows staff which question's answer never arrived."""
    from bot import create_app
    from config import load_settings
    from disclosure.enquiries import enquiry_stats, list_enquiries
    from store import open_db

    path = tmp_path / "gongkai.toml"
    path.write_text(E2E_CONFIG.format(base=base), encoding="utf-8")
    settings = load_settings(str(path), environ={"DT_APP_SECRET": APP_SECRET}, db=str(tmp_path / "t.db"))
    client = await aiohttp_client(create_app(settings))
    now_ms = int(time.time() * 1000)
    headers = {"timestamp": str(now_ms), "sign": sign(APP_SECRET, now_ms), "Content-Type": "application/json"}
    fake.answer_next(errcode=300001, errmsg="robot not found")  # the first answer is refused for good

    async def ask_and_settle(n: int) -> list[dict[str, Any]]:
        body = event_body(msgId=f"msg-{n}", createAt=now_ms, sessionWebhook=f"{base}/robot/sendBySession?session=s{n}",
                          sessionWebhookExpiredTime=now_ms + 90 * 60 * 1000)
        assert (await client.post("/hooks/dingtalk/dt-main", data=body, headers=headers)).status == 200
        for _ in range(200):  # until the worker has posted (or given up on) this answer
            db = open_db(settings.db)
            rows = list(db.query("SELECT event_id, status, error FROM replies"))
            db.close()
            if all(r["status"] != "queued" for r in rows) and (rows if n == 1 else fake.replies):
                return rows
            await asyncio.sleep(0.01)
        raise AssertionError(f"answer {n} was not settled: {rows}")

    assert [(r["event_id"], r["status"]) for r in await ask_and_settle(1)] == [("msg-1", "dead")]
    rows = await ask_and_settle(2)
    assert [r["session"] for r in fake.replies] == ["s2"]
    assert [(r["event_id"], r["status"]) for r in rows] == [("msg-1", "dead")]  # the posted one left the queue
    db = open_db(settings.db)  # staff see which asker never got the answer, and why
    lost = list_enquiries(db, undelivered=True)
    assert [(e["delivery"], e["delivery_error"]) for e in lost] == [("dead", "dingtalk 300001: robot not found")]
    assert [e["delivery"] for e in list_enquiries(db)] == ["", "dead"]  # newest first: msg-2 went out
    assert enquiry_stats(db)["undelivered"] == 1
    # never posted again, so the queue no longer holds the asker's DingTalk ids or the reply handle
    assert [r["event"] for r in db.query("SELECT event FROM replies")] == ["{}"]
    db.close()
    assert "300001" in rows[0]["error"] or "robot not found" in rows[0]["error"]


async def test_reply_queued_before_a_crash_is_posted_at_the_next_start(
        aiohttp_client: Any, tmp_path: Any, base: str, fake: FakeDingTalk) -> None:
    """The answer is a `replies` row written with the event; a gateway that died before posting posts it
    when it starts again, and only once."""
    from bot import create_app
    from config import load_settings
    from handlers import Context, handle_inbound, installation_salt
    from knowledge import Knowledge
    from store import open_db, transaction

    path = tmp_path / "gongkai.toml"
    path.write_text(E2E_CONFIG.format(base=base), encoding="utf-8")
    settings = load_settings(str(path), environ={"DT_APP_SECRET": APP_SECRET}, db=str(tmp_path / "t.db"))
    now_ms = int(time.time() * 1000)
    raw = signed(event_body(createAt=now_ms, sessionWebhook=f"{base}/robot/sendBySession?session=crash",
                            sessionWebhookExpiredTime=now_ms + 90 * 60 * 1000), now_ms / 1000, now_ms)
    [event] = DingTalkPlatform("dt-main", settings.bots[0].options).parse(raw)
    db = open_db(settings.db)  # the first gateway: the event is answered and committed, then it dies
    with transaction(db):
        ctx = Context(knowledge=Knowledge.build([]), salt=installation_salt(db))
        handle_inbound(db, ctx, event, True)
    assert [r["status"] for r in db["replies"].rows] == ["queued"]
    db.close()
    await aiohttp_client(create_app(settings))  # the second gateway starts
    for _ in range(200):
        if fake.replies:
            break
        await asyncio.sleep(0.01)
    assert [r["session"] for r in fake.replies] == ["crash"]
    for _ in range(200):
        db = open_db(settings.db)
        status = [r["status"] for r in db["replies"].rows]
        db.close()
        if status == []:
            break
        await asyncio.sleep(0.01)
    assert status == []  # posted: gone from the queue, so a third start posts nothing


async def test_a_slow_bot_does_not_hold_up_another_bots_answers(
        aiohttp_client: Any, aiohttp_server: Server, tmp_path: Any) -> None:
    """Each bot answers on its own lane: one whose sessionWebhook hangs delays only its own replies."""
    from bot import create_app
    from config import load_settings

    slow, quick = FakeDingTalk(), FakeDingTalk()
    slow.answer_next(delay=1.0)
    slow_base = str((await aiohttp_server(slow.app())).make_url("")).rstrip("/")
    quick_base = str((await aiohttp_server(quick.app())).make_url("")).rstrip("/")
    path = tmp_path / "gongkai.toml"
    path.write_text(E2E_CONFIG.format(base=slow_base)
                    + E2E_CONFIG.format(base=quick_base).replace('"dt-main"', '"dt-other"'), encoding="utf-8")
    settings = load_settings(str(path), environ={"DT_APP_SECRET": APP_SECRET}, db=str(tmp_path / "t.db"))
    client = await aiohttp_client(create_app(settings))
    now_ms = int(time.time() * 1000)
    for bot, base, msg in (("dt-main", slow_base, "m-slow"), ("dt-other", quick_base, "m-quick")):
        body = event_body(msgId=msg, createAt=now_ms, sessionWebhook=f"{base}/robot/sendBySession?session={msg}",
                          sessionWebhookExpiredTime=now_ms + 90 * 60 * 1000)
        headers = {"timestamp": str(now_ms), "sign": sign(APP_SECRET, now_ms), "Content-Type": "application/json"}
        assert (await client.post(f"/hooks/dingtalk/{bot}", data=body, headers=headers)).status == 200
    for _ in range(50):  # well inside the slow bot's 1 s hang
        if quick.replies:
            break
        await asyncio.sleep(0.01)
    assert [r["session"] for r in quick.replies] == ["m-quick"]
    health = await (await client.get("/healthz")).json()
    assert health["answers_pending"] == {"dt-main": 1}  # the hung answer shows; the posted one does not
    assert slow.replies == []  # still hanging
    for _ in range(300):  # the hang ends after 1 s and the answer goes out
        if slow.replies and not (await (await client.get("/healthz")).json())["answers_pending"]:
            break
        await asyncio.sleep(0.01)
    assert [r["session"] for r in slow.replies] == ["m-slow"]
    assert (await (await client.get("/healthz")).json())["answers_pending"] == {}


async def test_the_staff_reminder_reaches_a_dingtalk_group_signed_and_with_its_keyword(
        aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any) -> None:
    """The gateway starts a little after [reminders] at (within the grace): today's 今日待办 goes out at once,
    through the outbox to the custom robot, which checks the 加签 and the keyword as DingTalk does."""
    from datetime import timedelta

    import clock
    from bot import create_app
    from config import load_settings
    from disclosure.requests import open_possible_request
    from disclosure.workdays import set_override

    fake = FakeDingTalk()  # the platform's own clock: now
    fake.add_robot(Robot(TOKEN, secret=SECRET, keywords=("食药监",)))
    base = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    now = clock.now()
    at = max(now - timedelta(minutes=1), now.replace(hour=0, minute=0)).strftime("%H:%M")
    path = tmp_path / "gongkai.toml"
    path.write_text(f"""
[scheduler]
poll_interval = 0.05

[reminders]
to = "内部"
at = "{at}"

[[bots]]
name = "dt-office"
platform = "dingtalk"
webhook = "https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
secret = "env:DT_SECRET"
keyword = "食药监"
api_base = "{base}"

[[groups]]
name = "局办公室"
bot = "dt-office"
tags = ["内部"]
""", encoding="utf-8")
    settings = load_settings(str(path), environ={"DT_SECRET": SECRET}, db=str(tmp_path / "r.db"))
    db = open_db(settings.db)
    set_override(db, now.date(), "work")  # whatever day the test runs on, it is a working day here
    open_possible_request(db, "某小区化粪池谁管", "u1", "webhook", "open", "c1")
    db.close()
    await aiohttp_client(create_app(settings))
    for _ in range(300):
        if fake.sent:
            break
        await asyncio.sleep(0.01)
    [sent] = fake.sent
    markdown = sent["body"]["markdown"]
    assert sent["body"]["msgtype"] == "markdown" and markdown["title"].startswith("办理提醒：今日待办（")
    assert "待甄别的群聊线索：1 件" in markdown["text"] and "食药监" in markdown["text"]
    assert "化粪池" not in markdown["text"]
