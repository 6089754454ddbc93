"""OneBot v11 adapter: the signed vector on the pure functions, API calls against a fake implementation."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from errors import BadPayload, BadSignature, MissingSignature, PermanentError, TemporaryError
from platforms import Ack, Inbound, Message, RawRequest, Target
from platforms.onebot import OneBotPlatform, segments, sign
from tests.fakes.onebot import FakeOneBot

# PLATFORMS.md §4, exact bytes.
SECRET = "onebotSecret"
BODY = ('{"time":1735000000,"self_id":10001,"post_type":"message","message_type":"group","sub_type":"normal",'
        '"message_id":42,"group_id":123456,"user_id":654321,"message":[{"type":"at","data":{"qq":"10001"}},'
        '{"type":"text","data":{"text":" 药店营业时间?"}}],"raw_message":"[CQ:at,qq=10001] 药店营业时间?",'
        '"font":0,"sender":{"user_id":654321,"nickname":"市民","card":"","role":"member"}}').encode()
SIGNATURE = "sha1=150635bbd2c96c9d52b44f4d2372fb5fbb33dd4a"
ACCESS_TOKEN = "onebotAccessToken"

Server = Callable[..., Awaitable[TestServer]]


def request(body: bytes = BODY, /, **headers: str) -> RawRequest:
    return RawRequest("POST", {}, {"x-self-id": "10001", **headers}, body, 1735000000.0)


def event(**override: Any) -> bytes:
    data = json.loads(BODY)
    data.update(override)
    return json.dumps(data, ensure_ascii=False).encode()


def receiver(**options: Any) -> OneBotPlatform:
    return OneBotPlatform("qq", {"secret": SECRET, **options})


def pusher(base: str, **options: Any) -> OneBotPlatform:
    plat = OneBotPlatform("qq", {"api_base": base, "access_token": ACCESS_TOKEN, **options})
    plat.timeout = 0.5
    return plat


@pytest.fixture
def fake() -> FakeOneBot:
    return FakeOneBot(access_token=ACCESS_TOKEN)


@pytest.fixture
async def base(aiohttp_server: Server, fake: FakeOneBot) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("")).rstrip("/")


# --- verify: the signed vector -----------------------------------------------------------------------
def test_signature_vector() -> None:
    assert sign(SECRET, BODY) == SIGNATURE
    receiver().verify(request(**{"x-signature": SIGNATURE}))


@pytest.mark.parametrize(("body", "headers", "error", "status"), [
    (BODY.replace(b"42", b"43"), {"x-signature": SIGNATURE}, BadSignature, 403),
    (BODY, {"x-signature": SIGNATURE.upper()}, BadSignature, 403),
    (BODY, {}, MissingSignature, 401),
])
def test_bad_signatures(body: bytes, headers: dict[str, str], error: type[Exception], status: int) -> None:
    with pytest.raises(error) as caught:
        receiver().verify(request(body, **headers))
    assert caught.value.status == status  # type: ignore[attr-defined]


def test_without_secret_unsigned_is_accepted() -> None:
    OneBotPlatform("qq", {}).verify(request())


# --- parse ---------------------------------------------------------------------------------------------
def test_vector_parses_to_the_question() -> None:
    [parsed] = receiver().parse(request(**{"x-signature": SIGNATURE}))
    assert parsed == Inbound(
        platform="onebot", bot="qq", event_id="10001:42", text="药店营业时间?", chat="123456", chat_type="group",
        sender="654321", sender_name="市民",
        handle={"message_type": "group", "group_id": 123456, "user_id": 654321, "message_id": 42},
    )


@pytest.mark.parametrize("message", [
    [{"type": "text", "data": {"text": "大家好"}}],
    [{"type": "at", "data": {"qq": "99999"}}, {"type": "text", "data": {"text": " 你好"}}],
    "[CQ:at,qq=99999] 你好",
    "没有人被@",
])
def test_group_message_not_for_the_bot_is_ignored(message: Any) -> None:
    assert receiver().parse(request(event(message=message))) == []


@pytest.mark.parametrize(("message", "text"), [
    ("[CQ:at,qq=10001] 药店营业时间?", "药店营业时间?"),
    ("[CQ:reply,id=7][CQ:at,qq=10001] 问 &#91;急&#93; [CQ:face,id=1]", "问 [急]"),
    ([{"type": "text", "data": {"text": "请问 "}}, {"type": "at", "data": {"qq": 10001}},
      {"type": "at", "data": {"qq": "555"}}, {"type": "text", "data": {"text": " 在吗"}}], "请问 在吗"),  # others dropped too
])
def test_group_mention_forms(message: Any, text: str) -> None:
    [parsed] = receiver().parse(request(event(message=message)))
    assert parsed.text == text


def test_self_id_from_config_then_header_then_body() -> None:
    body = event(message="[CQ:at,qq=777] hi")
    assert OneBotPlatform("qq", {"self_id": "777"}).parse(request(body))[0].event_id == "777:42"
    assert receiver().parse(RawRequest("POST", {}, {}, event(self_id=10001), 0.0))[0].event_id == "10001:42"


def test_private_message_is_always_addressed() -> None:
    body = event(message_type="private", sub_type="friend", message="营业时间", group_id=None)
    [parsed] = receiver().parse(request(body))
    assert (parsed.chat, parsed.chat_type, parsed.text, parsed.sender) == ("", "single", "营业时间", "654321")


@pytest.mark.parametrize("override", [
    {"post_type": "meta_event", "meta_event_type": "heartbeat"},
    {"post_type": "notice", "notice_type": "group_increase"},
    {"post_type": "request", "request_type": "friend"},
    {"post_type": "message_sent"},
    {"message_type": "guild"},
])
def test_other_events_are_ignored(override: dict[str, Any]) -> None:
    assert receiver().parse(request(event(**override))) == []


@pytest.mark.parametrize("body", [b"", b"{", b"[]", event(message_id=None), event(message=3)])
def test_malformed(body: bytes) -> None:
    with pytest.raises(BadPayload):
        receiver().parse(request(body))


def test_segments_of_a_cq_string() -> None:
    assert segments("a[CQ:image,file=x.jpg,url=http://h/?a=1&amp;b=2]b") == [
        {"type": "text", "data": {"text": "a"}},
        {"type": "image", "data": {"file": "x.jpg", "url": "http://h/?a=1&b=2"}},
        {"type": "text", "data": {"text": "b"}},
    ]


def test_a_cq_parameter_stops_at_a_bracket() -> None:
    """[ and ] are escaped inside a CQ code, so "[CQ:a," before a real code is text. Reading on to the next ]
    made "[CQ:a,[CQ:a,..." take time growing with the square of its length (a 1 MB body: many minutes)."""
    assert segments("[CQ:a,[CQ:face,id=1]") == [
        {"type": "text", "data": {"text": "[CQ:a,"}},
        {"type": "face", "data": {"id": "1"}},
    ]
    assert segments("[CQ:a," * 100_000) == [{"type": "text", "data": {"text": "[CQ:a," * 100_000}}]


# --- inline reply ----------------------------------------------------------------------------------------
def test_inline_quick_operation() -> None:
    plat = receiver()
    [parsed] = plat.parse(request())
    ack = plat.inline(parsed, "您好 [CQ:face,id=1]", {})
    assert ack.status == 200 and ack.content_type == "application/json"
    assert json.loads(ack.body) == {"reply": "您好 [CQ:face,id=1]", "auto_escape": True, "at_sender": True}
    assert plat.inline(parsed, "", {}) == Ack(204, b"")
    assert plat.duplicate(parsed, {"text": "您好"}) == Ack(204, b"")  # the group has the answer already


# --- render and send ------------------------------------------------------------------------------------------
def test_render_segments_and_mention_all() -> None:
    plat = pusher("http://x")
    assert plat.render(Message("**周五**停水", "通知")) == [
        {"message": [{"type": "text", "data": {"text": "【通知】\n**周五**停水"}}]}]
    [body] = plat.render(Message("正文", mention_all=True))
    assert body["message"][0] == {"type": "at", "data": {"qq": "all"}}


def test_render_splits() -> None:
    plat = pusher("http://x")
    parts = plat.render(Message("\n".join("食品安全抽检结果公示" * 20 for _ in range(30)), mention_all=True))
    assert len(parts) > 2
    assert all(len(p["message"][-1]["data"]["text"].encode()) <= plat.max_bytes for p in parts)
    assert [p["message"][0]["type"] for p in parts] == ["at"] + ["text"] * (len(parts) - 1)


async def test_send_group_msg(http: aiohttp.ClientSession, base: str, fake: FakeOneBot) -> None:
    plat = pusher(base)
    body = plat.render(Message("明日抽检", "通知"))[0]
    await plat.send(http, Target("qq", "123456"), body)
    assert fake.sent == [{"action": "send_group_msg", "auth": f"Bearer {ACCESS_TOKEN}",
                          "body": {"group_id": 123456, "message": body["message"]}}]


async def test_async_answer_is_success(http: aiohttp.ClientSession, base: str, fake: FakeOneBot) -> None:
    fake.answer_next(answer="async")
    plat = pusher(base)
    await plat.send(http, Target("qq", "123456"), plat.render(Message("正文"))[0])


@pytest.mark.parametrize(("options", "script", "error", "code"), [
    ({"access_token": ""}, {}, PermanentError, 401),
    ({"access_token": "wrong"}, {}, PermanentError, 403),
    ({}, {"status": 500}, TemporaryError, 500),
    ({}, {"status": 503}, TemporaryError, 503),
    ({}, {"retcode": 100}, PermanentError, 100),
    ({}, {"retcode": 102}, PermanentError, 102),
    ({}, {"retcode": 104}, PermanentError, 104),
    ({}, {"retcode": 103}, TemporaryError, 103),
    ({}, {"retcode": 201}, TemporaryError, 201),
    ({}, {"delay": 2.0}, TemporaryError, "timeout"),
    ({"api_base": "http://127.0.0.1:9/nothing"}, {}, TemporaryError, "connection"),
])
async def test_send_errors(http: aiohttp.ClientSession, base: str, fake: FakeOneBot, options: dict[str, Any],
                           script: dict[str, Any], error: type[Exception], code: object) -> None:
    if script:
        fake.answer_next(**script)
    plat = pusher(base, **options)
    with pytest.raises(error) as caught:
        await plat.send(http, Target("qq", "123456"), plat.render(Message("正文"))[0])
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert fake.sent == []


@pytest.mark.parametrize("chat", ["", "群A", "12x"])
async def test_send_needs_a_group_number(http: aiohttp.ClientSession, base: str, chat: str) -> None:
    plat = pusher(base)
    with pytest.raises(PermanentError):
        await plat.send(http, Target("qq", chat), plat.render(Message("正文"))[0])


async def test_late_reply_uses_send_msg(http: aiohttp.ClientSession, base: str, fake: FakeOneBot) -> None:
    plat = pusher(base, secret=SECRET)
    [parsed] = plat.parse(request())
    await plat.reply(http, parsed, "您好")
    assert fake.sent[0]["body"] == {"message_type": "group", "group_id": 123456, "message": "您好",
                                    "auto_escape": True}


async def test_fake_checks_content_type_and_body(http: aiohttp.ClientSession, base: str) -> None:
    auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    async with http.post(f"{base}/send_group_msg", data=b"group_id=1", headers=auth) as resp:
        assert resp.status == 406
    json_type = {**auth, "Content-Type": "application/json"}
    async with http.post(f"{base}/send_group_msg", data=b"{", headers=json_type) as resp:
        assert resp.status == 400
    async with http.post(f"{base}/send_group_msg?access_token={ACCESS_TOKEN}", json={"group_id": 1}) as resp:
        assert (await resp.json())["retcode"] == 100


# --- end to end through the gateway -------------------------------------------------------------------
E2E_CONFIG = """
[[bots]]
name = "qq-main"
platform = "onebot"
secret = "env:ONEBOT_SECRET"
"""


async def test_gateway_answers_with_a_quick_operation(aiohttp_client: Any, tmp_path: Any) -> None:
    from bot import create_app
    from config import load_settings

    path = tmp_path / "gongkai.toml"
    path.write_text(E2E_CONFIG, encoding="utf-8")
    settings = load_settings(str(path), environ={"ONEBOT_SECRET": SECRET}, db=str(tmp_path / "t.db"))
    client = await aiohttp_client(create_app(settings))
    headers = {"X-Self-ID": "10001", "X-Signature": SIGNATURE, "Content-Type": "application/json"}
    resp = await client.post("/hooks/onebot/qq-main", data=BODY, headers=headers)
    assert resp.status == 200
    answer = await resp.json()
    assert answer["reply"] and answer["auto_escape"] is True and answer["at_sender"] is True
    for _ in range(2):  # retried or replayed: a quick operation is a message in the group, so none the second time
        again = await client.post("/hooks/onebot/qq-main", data=BODY, headers=headers)
        assert again.status == 204 and await again.read() == b""
    tampered = await client.post("/hooks/onebot/qq-main", data=BODY.replace(b"42", b"43"), headers=headers)
    assert tampered.status == 403
    ignored = await client.post("/hooks/onebot/qq-main", data=event(message="闲聊"),
                                headers={**headers, "X-Signature": sign(SECRET, event(message="闲聊"))})
    assert ignored.status == 200
