"""Feishu adapter: official vectors on the pure functions, pushes and API replies against a fake Feishu."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
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
from platforms._aes import CryptoError, FeishuCipher
from platforms.feishu import BODY_LIMIT, FeishuPlatform, bot_sign, event_signature
from tests.fakes.feishu import FakeFeishu, HookBot

# PLATFORMS.md §3.3, copied byte for byte.
EK, VT = "feishuEncryptKey123", "feishuVerificationToken456"
VECTOR_HEADERS = {"x-lark-request-timestamp": "1735000000", "x-lark-request-nonce": "nonce-abc",
                  "x-lark-signature": "5c74bbbaab1c5cd6426fc84d591b165042aa4b321161e811b6ac81adbca4fec2"}
VECTOR_BODY = (
    b'{"encrypt":"MDEyMzQ1Njc4OWFiY2RlZnMKwFobsw9j56KaxdYNL2h1rMeMmvrSlA/LLRp+xQHMzKc0go+VLA4Gx4bG1KNigEmIpPXlZ3zY'
    b'qdEv/M4QfJmS0duTBS+D87fc6ssJT7r78iXTcjLzttqB/+ZF64x930+3+/l4OPNEdNH12U8Og2iUz/Gf79kr432BUrFfMptEFHoSRyYZV6vP'
    b'MjBiFuB42yrAJXogeZk3PKOcQWuX6vTmTHocm5yJidTkNppMA4vclGAA63cNylFZW1YfnXi2p02Qh6jNIx2UeGw6ZEBeict9uayEQEJXa03f'
    b'4cIYKSCgur88ETSGG9qEL4y6Mnhv6Kx1s5PlGVxF9Bn0YBmLNgaTVnh/j/I1NwE5E/OXFCfEaNiRUp0S4mb/ADqjN+YwFq5Ub1T2B4H4hGef'
    b'VkTf5kMGb6frfgBrnDqcWmfu+xW9oBVuCgupNmLvw6Nx7ZARqIUZPRc+I70kmHOOQXB+P2e5plY5RIxcJf8757WeKsojHNvAdOABSrzCKrxU'
    b'NY7xm1ZerGKUPIpa3NI2OiVOxkRl7cu+VNroH9f8133JZhQnUcIllpD9GCfoQyVXT6AdMlW/FEeKjDeEmF+3xklvpyLE2xbhcUhEzLZGKR6P'
    b'yPEeIWlLkxeDSp3IjvyfbsomedYpEvMKEsE9FMwxvp059kfE8MIRtYOoGlN4vWeCqJ+PUiJ+AuNUlNYR/Z2dEnrv5zBGlWA6K+DaSgYc+7NB'
    b'0B5yJBWfUstMhNd75YQqRQ74RiYvf+FPl5/mZzoBbY016KdIiWCaqxsx9A6w1r4NSKKRho2QGkrphC3PiwDOgRnjtFKRaEZFs53aChmYBE+h'
    b'OjVrRD62gH004CcXY+dk0vo="}'
)
CHALLENGE_BODY = (
    b'{"encrypt": "MDEyMzQ1Njc4OWFiY2RlZnZBNQjJUe7FQQ5jKGjzat+Y2UaHPnXVHtt2wp0B6phMMkNlMWJHxfr62Wcw1kW5tEK3weX9h7QqO1E0'
    b'4Xn8+ImT40DyCg6LIHdxdhjzMNzPr4J0r6oec3V4ew54WZ9x2wIk5FC7RPKP4Y6VxO6BMbc="}'
)
T0 = 1735000000.0
APP_SECRET = "appSecret"
HOOK = "7a8b9c0d-1111-2222-3333-444455556666"
HOOK_URL = f"https://open.feishu.cn/open-apis/bot/v2/hook/{HOOK}"
HOOK_SECRET = "hookSecretForSigning"
Server = Callable[..., Awaitable[TestServer]]


class Clock:
    """A settable clock shared by the adapter and the fake."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def receiver(**options: Any) -> FeishuPlatform:
    base = {"encrypt_key": EK, "verification_token": VT, "app_id": "cli_a", "app_secret": APP_SECRET}
    return FeishuPlatform("fs", {**base, **options})


def message_event(text: str = "@_user_1 药品召回怎么查", chat_type: str = "group", event_id: str = "ev1",
                  mentions: list[dict[str, Any]] | None = None, **message: Any) -> dict[str, Any]:
    if mentions is None:
        mentions = [{"key": "@_user_1", "id": {"open_id": "ou_bot", "user_id": "", "union_id": "on_bot"},
                     "name": "食药监小助手", "tenant_key": "tk"}]
    body = {"message_id": "om_m1", "chat_id": "oc_chat1", "chat_type": chat_type, "message_type": "text",
            "content": json.dumps({"text": text}, ensure_ascii=False), "mentions": mentions, **message}
    return {"schema": "2.0",
            "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "create_time": "1735000000000",
                       "token": VT, "app_id": "cli_a", "tenant_key": "tk"},
            "event": {"sender": {"sender_id": {"open_id": "ou_user1"}, "sender_type": "user"}, "message": body}}


def delivery(event: dict[str, Any], now: float = T0, stamp: str = "1735000000", key: str = EK) -> RawRequest:
    """An event as Feishu delivers it: encrypted and signed with the Encrypt Key."""
    body = json.dumps({"encrypt": FeishuCipher(key).encrypt(json.dumps(event, ensure_ascii=False))}).encode()
    headers = {"x-lark-request-timestamp": stamp, "x-lark-request-nonce": "n1",
               "x-lark-signature": event_signature(stamp, "n1", key, body)}
    return RawRequest("POST", {}, headers, body, now)


# --- official vectors -------------------------------------------------------------------------------------------
def test_doc_aes_sample_decrypts() -> None:
    assert FeishuCipher("test key").decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"


def test_custom_bot_sign_vector() -> None:
    assert bot_sign("1599360473", "demo") == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
    assert bot_sign("1599360473", "demo") != "DkEDUyVoOOJ539qBvUgMyzkzIdRWlf4e/V3Rq+ONJnQ="  # the DingTalk mix-up


def test_event_vector_verifies_and_parses() -> None:
    plat = receiver(max_skew="0")  # the vector is old; 0 disables the window
    req = RawRequest("POST", {}, VECTOR_HEADERS, VECTOR_BODY, time.time())
    assert event_signature("1735000000", "nonce-abc", EK, VECTOR_BODY) == VECTOR_HEADERS["x-lark-signature"]
    assert plat.handshake(req) is None
    plat.verify(req)
    assert plat.parse(req) == [Inbound(
        platform="feishu", bot="fs", event_id="5e3702a84e847582be8db7fb73283c02", text="药品召回怎么查",
        chat="oc_chat1", chat_type="group", sender="ou_user1", handle={"message_id": "om_m1", "chat_id": "oc_chat1"})]


def test_event_vector_with_zero_signature_is_403() -> None:
    headers = {**VECTOR_HEADERS, "x-lark-signature": "0" * 64}
    with pytest.raises(BadSignature):
        receiver(max_skew="0").verify(RawRequest("POST", {}, headers, VECTOR_BODY, T0))


def test_encrypted_url_verification_vector() -> None:
    ack = receiver().handshake(RawRequest("POST", {}, {}, CHALLENGE_BODY, T0))
    assert ack is not None and ack.status == 200
    assert json.loads(ack.body) == {"challenge": "ajls384kdjx98XX"}


def test_url_verification_checks_the_token_first() -> None:
    with pytest.raises(BadSignature):
        receiver(verification_token="someoneElse").handshake(RawRequest("POST", {}, {}, CHALLENGE_BODY, T0))
    plain = json.dumps({"challenge": "c1", "type": "url_verification"}).encode()
    with pytest.raises(MissingSignature):
        receiver(encrypt_key="").handshake(RawRequest("POST", {}, {}, plain, T0))
    plain = json.dumps({"challenge": "c1", "token": VT, "type": "url_verification"}).encode()
    ack = receiver(encrypt_key="").handshake(RawRequest("POST", {}, {}, plain, T0))
    assert ack is not None and json.loads(ack.body) == {"challenge": "c1"}


# --- refusals ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("missing", list(VECTOR_HEADERS))
def test_missing_signature_headers_are_401(missing: str) -> None:
    headers = {k: v for k, v in VECTOR_HEADERS.items() if k != missing}
    with pytest.raises(MissingSignature):
        receiver(max_skew="0").verify(RawRequest("POST", {}, headers, VECTOR_BODY, T0))


@pytest.mark.parametrize(
    ("headers", "body", "options"),
    [
        (VECTOR_HEADERS, VECTOR_BODY.replace(b"MDEy", b"MDEz"), {}),
        (VECTOR_HEADERS, VECTOR_BODY + b" ", {}),
        ({**VECTOR_HEADERS, "x-lark-request-nonce": "nonce-abd"}, VECTOR_BODY, {}),
        (VECTOR_HEADERS, VECTOR_BODY, {"encrypt_key": "anotherEncryptKey"}),
        (VECTOR_HEADERS, VECTOR_BODY, {"verification_token": "anotherToken"}),
    ],
    ids=["tampered-body", "trailing-byte", "changed-nonce", "wrong-encrypt-key", "wrong-verification-token"],
)
def test_forgeries_are_403(headers: dict[str, str], body: bytes, options: dict[str, str]) -> None:
    with pytest.raises(BadSignature):
        receiver(max_skew="0", **options).verify(RawRequest("POST", {}, headers, body, T0))


@pytest.mark.parametrize(("now", "options"), [(T0 + 3601, {}), (T0 - 3601, {}), (T0 + 301, {"max_skew": "300"})])
def test_stale_timestamp_is_403(now: float, options: dict[str, str]) -> None:
    with pytest.raises(BadSignature, match="stale"):
        receiver(**options).verify(RawRequest("POST", {}, VECTOR_HEADERS, VECTOR_BODY, now))
    receiver().verify(RawRequest("POST", {}, VECTOR_HEADERS, VECTOR_BODY, T0 + 3599))


def test_without_encrypt_key_only_the_token_is_checked() -> None:
    plat = receiver(encrypt_key="")
    event = message_event()
    plat.verify(RawRequest("POST", {}, {}, json.dumps(event).encode(), T0))
    event["header"]["token"] = "forged"
    with pytest.raises(BadSignature):
        plat.verify(RawRequest("POST", {}, {}, json.dumps(event).encode(), T0))
    del event["header"]["token"]
    with pytest.raises(MissingSignature):
        plat.verify(RawRequest("POST", {}, {}, json.dumps(event).encode(), T0))
    with pytest.raises(BadPayload, match="encrypt_key"):
        plat.verify(RawRequest("POST", {}, VECTOR_HEADERS, VECTOR_BODY, T0))


@pytest.mark.parametrize("body", [
    b"{not json", b"[1]", b'{"encrypt": "!!!"}', b'{"encrypt": "MDEyMzQ1Njc4OWFiY2RlZg=="}'])
def test_malformed_or_undecryptable_is_400(body: bytes) -> None:
    with pytest.raises(BadPayload):
        receiver().parse(RawRequest("POST", {}, {}, body, T0))


def test_a_signed_event_is_not_decrypted_before_its_signature_is_checked() -> None:
    tampered = VECTOR_BODY.replace(b'{"encrypt":"', b'{"encrypt":"A')  # no longer decrypts at all
    plat = receiver(max_skew="0")
    assert plat.handshake(RawRequest("POST", {}, VECTOR_HEADERS, tampered, T0)) is None
    with pytest.raises(BadSignature):
        plat.verify(RawRequest("POST", {}, VECTOR_HEADERS, tampered, T0))


def test_unsigned_bodies_that_fail_to_decrypt_all_get_the_same_answer() -> None:
    """Bad padding and good padding around a non-JSON plaintext must look alike: no padding oracle."""
    iv = bytes(range(16))
    good_padding = json.dumps({"encrypt": FeishuCipher(EK).encrypt(b"not json at all", iv)}).encode()
    bad_padding = json.dumps({"encrypt": FeishuCipher("anotherKey").encrypt(b"not json at all", iv)}).encode()
    with pytest.raises(CryptoError, match="padding"):  # the precondition: this one really fails its padding
        FeishuCipher(EK).decrypt(json.loads(bad_padding)["encrypt"])
    messages = set()
    for body in (good_padding, bad_padding):
        with pytest.raises(BadPayload) as caught:
            receiver().handshake(RawRequest("POST", {}, {}, body, T0))
        messages.add(str(caught.value))
    assert messages == {"unsigned request that is not a url_verification"}


@pytest.mark.parametrize("content", ["not json", '{"text": "\\ud800"}', "[" * 100_000, '{"text": 5}'])
def test_content_that_is_not_json_text_is_400(content: str) -> None:
    event = message_event()
    event["event"]["message"]["content"] = content
    with pytest.raises(BadPayload):
        receiver().parse(delivery(event))


# --- what counts as addressed to us ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (message_event(message_type="image", content='{"image_key": "img_x"}'), []),
        ({**message_event(), "header": {**message_event()["header"], "event_type": "im.chat.member.bot.added_v1"}},
         []),
        ({**message_event(), "event": {**message_event()["event"], "sender": {"sender_type": "app"}}}, []),
        (message_event("大家好", mentions=[]), []),
    ],
    ids=["image", "other-event", "from-a-bot", "group-without-mention"],
)
def test_ignored_events(event: dict[str, Any], expected: list[Inbound]) -> None:
    assert receiver().parse(delivery(event)) == expected


def test_bot_open_id_decides_which_mention_is_ours() -> None:
    assert receiver(bot_open_id="ou_bot").parse(delivery(message_event()))[0].text == "药品召回怎么查"
    assert receiver(bot_open_id="ou_another_bot").parse(delivery(message_event())) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("@_user_1 @_user_2 问的许可证怎么办 @_user_12", "问的许可证怎么办"),
    ("@_user_2 @_user_1 订阅 预警信息", "订阅 预警信息"),  # a colleague mentioned first: still the command
    ("@_all @_user_1 健康证在哪里办", "健康证在哪里办"),
])
def test_every_mention_is_dropped(text: str, expected: str) -> None:
    mentions = [*message_event()["event"]["message"]["mentions"],
                {"key": "@_user_2", "id": {"open_id": "ou_li"}, "name": "李四"}]
    [inbound] = receiver(bot_open_id="ou_bot").parse(delivery(message_event(text, mentions=mentions)))
    assert inbound.text == expected


def test_single_chat_needs_no_mention() -> None:
    [inbound] = receiver().parse(delivery(message_event("药店几点开门", chat_type="p2p", mentions=[])))
    assert (inbound.text, inbound.chat, inbound.chat_type) == ("药店几点开门", "", "single")


# --- configuration ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "fragment"), [
    ({"verification_token": VT}, "app_id: feishu 机器人要接收消息，必须设置"),
    ({"encrypt_key": EK}, "encrypt_key"),
    ({"webhook": HOOK_URL, "token": "t"}, "token: 平台 feishu 没有这个键"),
    ({"webhook": HOOK_URL, "max_skew": "-1"}, "max_skew"),
    ({"webhook": "0a1b2c3d-token-only"}, "webhook: 应为自定义机器人的 Webhook 地址"),
    ({"webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}, "webhook: 应为自定义机器人的 Webhook 地址"),
    ({"verification_token": VT, "app_id": "a", "app_secret": "s", "secret": "s"}, "secret: 是自定义机器人推送的签名密钥"),
    ({"verification_token": VT, "app_id": "a", "app_secret": "s", "api_base": "https://open.feishu.cn/open-apis"},
     "api_base"),
])
def test_bad_configuration(options: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        create("fs", "feishu", options)


def test_roles_and_repr() -> None:
    push = create("fs", "feishu", {"webhook": HOOK_URL})
    assert push.can_push and not push.can_receive
    both = receiver(webhook=HOOK_URL, secret=HOOK_SECRET)
    assert both.can_push and both.can_receive
    assert all(s not in repr(both) for s in (EK, VT, APP_SECRET, HOOK_SECRET))


# --- rendering --------------------------------------------------------------------------------------------------
def _lines(body: dict[str, Any]) -> list[str]:
    rows = body["content"]["post"]["zh_cn"]["content"]
    return ["".join(e.get("text", "") for e in row) for row in rows if row[0]["tag"] == "text"]


def test_post_keeps_the_body_verbatim() -> None:
    text = "各餐饮单位：\n\n请于**5月31日**前完成自查。\n- 详见 [通知](https://example.gov.cn/a) \"引号\""
    [body] = receiver().render(Message(body=text, title="自查提醒"))
    assert body["msg_type"] == "post" and body["content"]["post"]["zh_cn"]["title"] == "自查提醒"
    assert "\n".join(_lines(body)) == text


@pytest.mark.parametrize("unit", ["食品安全检查。", 'say "hi"\n', "\\\t"])
def test_long_body_splits_under_20kb(unit: str) -> None:
    bodies = receiver().render(Message(body=unit * 6000, title="通知"))
    assert len(bodies) > 1
    for i, body in enumerate(bodies, 1):
        assert len(json.dumps(body, ensure_ascii=False).encode()) <= BODY_LIMIT - 100
        assert _lines(body)[0].startswith(f"({i}/{len(bodies)}) ")


def test_mention_all_opens_the_first_part_only() -> None:
    bodies = receiver().render(Message(body="注意。" * 5000, title="预警", mention_all=True))
    assert bodies[0]["content"]["post"]["zh_cn"]["content"][0] == [{"tag": "at", "user_id": "all"}]
    assert all(b["content"]["post"]["zh_cn"]["content"][0][0]["tag"] == "text" for b in bodies[1:])


# --- pushing against the fake -----------------------------------------------------------------------------------
@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeFeishu:
    fake = FakeFeishu(app_secret=APP_SECRET, clock=clock)
    fake.add_hook(HookBot(HOOK, secret=HOOK_SECRET, keywords=("通知", "预警")))
    fake.add_hook(HookBot("unsigned-hook-token-0000", keywords=("通知",)))
    return fake


async def platform_for(aiohttp_server: Server, fake: FakeFeishu, clock: Clock, hook: str = HOOK,
                       timeout: float = 0.2, **options: Any) -> FeishuPlatform:
    """`timeout` is short so that scripted delays time out quickly; tests of rates, which open many connections
    at once on a loaded machine, give more."""
    server = await aiohttp_server(fake.app())
    base = str(server.make_url("/")).rstrip("/")
    opts = {"webhook": f"{base}/open-apis/bot/v2/hook/{hook}", "secret": HOOK_SECRET, "verification_token": VT,
            "encrypt_key": EK, "app_id": "cli_a", "app_secret": APP_SECRET, "api_base": base, **options}
    plat = FeishuPlatform("fs", {k: v for k, v in opts.items() if v is not None})
    plat.clock, plat.timeout = clock, timeout
    return plat


async def test_signed_push_is_accepted(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    [body] = plat.render(Message(body="请各单位做好防暑降温。", title="高温预警"))
    await plat.send(http, Target("fs"), body)
    [pushed] = fake.pushes
    assert pushed["timestamp"] == "1735000000" and pushed["sign"] == bot_sign("1735000000", HOOK_SECRET)
    assert "timestamp" not in body  # render stays unsigned: each attempt signs afresh


async def test_unsigned_push_carries_no_sign(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock, hook="unsigned-hook-token-0000", secret=None)
    await plat.send(http, Target("fs"), plat.render(Message(body="正文", title="通知"))[0])
    assert "sign" not in fake.pushes[0] and "timestamp" not in fake.pushes[0]


async def test_every_part_of_a_long_notice_is_accepted(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    bodies = plat.render(Message(body="\n".join(f"第{i}项：食品安全自查要点说明。" * 8 for i in range(300)),
                                 title="培训通知"))
    for i, body in enumerate(bodies):
        clock.now = T0 + i  # 5 a second
        await plat.send(http, Target("fs"), body)
    assert len(fake.pushes) == len(bodies) > 1


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ({"secret": "wrongSecret"}, 19021),
        ({"clock_offset": -3700}, 19021),
        ({"title": "没有关键词"}, 19024),
        ({"hook": "no-such-hook-token-000"}, 19001),
        ({"oversize": True}, 9499),
    ],
    ids=["bad-sign", "clock-skew", "keyword", "unknown-hook", "over-20kb"],
)
async def test_fake_refusals_are_permanent(aiohttp_server: Server, fake: FakeFeishu, clock: Clock,
                                           http: aiohttp.ClientSession, setup: dict[str, Any], code: int) -> None:
    options = {"secret": setup["secret"]} if "secret" in setup else {}
    plat = await platform_for(aiohttp_server, fake, clock, hook=setup.get("hook", HOOK), **options)
    plat.clock = Clock(T0 + setup.get("clock_offset", 0))
    body = plat.render(Message(body="正文", title=setup.get("title", "通知")))[0]
    if setup.get("oversize"):
        body["content"]["post"]["zh_cn"]["content"] = [[{"tag": "text", "text": "通知" * 4000}]]
    with pytest.raises(PermanentError) as info:
        await plat.send(http, Target("fs"), body)
    assert info.value.code == code


async def test_sixth_push_in_a_second_is_rate_limited(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    body = plat.render(Message(body="正文", title="通知"))[0]
    for _ in range(5):
        await plat.send(http, Target("fs"), body)
    with pytest.raises(RateLimited) as info:
        await plat.send(http, Target("fs"), body)
    assert info.value.code == 11232 and 0 < info.value.retry_after <= 10


@pytest.mark.parametrize(
    ("script", "error", "code", "retry_after"),
    [
        ({"code": 11232}, RateLimited, 11232, 5),
        ({"code": 11232, "headers": {"x-ogw-ratelimit-reset": "3"}}, RateLimited, 11232, 3),
        ({"status": 429, "headers": {"Retry-After": "9"}}, RateLimited, 429, 9),
        ({"code": 19021}, PermanentError, 19021, None),
        ({"code": 19022}, PermanentError, 19022, None),
        ({"code": 19024}, PermanentError, 19024, None),
        ({"code": 19007}, PermanentError, 19007, None),
        ({"code": 9499, "status": 400}, PermanentError, 9499, None),
        ({"status": 500}, TemporaryError, 500, None),
        ({"status": 503}, TemporaryError, 503, None),
        ({"delay": 0.4}, TemporaryError, "timeout", None),
    ],
    ids=["11232", "11232-reset-header", "http-429", "19021", "19022", "19024", "19007", "9499", "http-500",
         "http-503", "timeout"],
)
async def test_scripted_errors_map_to_exceptions(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession,
        script: dict[str, Any], error: type[Exception], code: Any, retry_after: float | None) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    fake.answer_next("hook", **script)
    with pytest.raises(error) as info:
        await plat.send(http, Target("fs"), plat.render(Message(body="正文", title="通知"))[0])
    assert info.value.code == code  # type: ignore[attr-defined]
    if retry_after is not None:
        assert info.value.retry_after == retry_after  # type: ignore[attr-defined]


# --- replying through the API -----------------------------------------------------------------------------------
def _event(plat: FeishuPlatform, event_id: str = "ev1") -> Inbound:
    return plat.parse(delivery(message_event(event_id=event_id)))[0]


async def test_replies_share_one_cached_token(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    await plat.reply(http, _event(plat, "ev1"), "请登录国家药监局网站查询召回信息。")
    await plat.reply(http, _event(plat, "ev2"), "第二个回答")
    assert fake.token_calls == 1
    assert [(r["message_id"], r["text"]) for r in fake.replies] == [
        ("om_m1", "请登录国家药监局网站查询召回信息。"), ("om_m1", "第二个回答")]
    assert fake.replies[0]["body"]["uuid"] != fake.replies[1]["body"]["uuid"]


async def test_token_is_refreshed_after_expiry(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    await plat.reply(http, _event(plat, "ev1"), "一")
    clock.now += 7200 - 299  # inside Feishu's validity, past our 5-minute margin
    await plat.reply(http, _event(plat, "ev2"), "二")
    assert fake.token_calls == 2 and len(fake.replies) == 2


async def test_token_rejected_by_feishu_is_refreshed_once(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    await plat.reply(http, _event(plat, "ev1"), "一")
    fake.revoke_tokens()
    await plat.reply(http, _event(plat, "ev2"), "二")
    assert fake.token_calls == 2 and [r["text"] for r in fake.replies] == ["一", "二"]


async def test_retried_reply_is_deduplicated_by_uuid(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    event = _event(plat)
    await plat.reply(http, event, "回答")
    await plat.reply(http, event, "回答")  # the reply worker retrying after a lost answer
    assert len(fake.replies) == 1


async def test_long_reply_goes_in_parts(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    await plat.reply(http, _event(plat), "药品召回信息说明。" * 2000)
    assert len(fake.replies) > 1
    assert all(r["text"].startswith(f"({i}/{len(fake.replies)}) ") for i, r in enumerate(fake.replies, 1))


def _chat_event(plat: FeishuPlatform, fake: FakeFeishu, n: int, chat: str) -> Inbound:
    """Message n in `chat`, made known to the fake so it counts the reply against that chat."""
    fake.message_chats[f"om_{n}"] = chat
    return plat.parse(delivery(message_event(event_id=f"ev{n}", message_id=f"om_{n}", chat_id=chat)))[0]


def _most_in_one_second(times: list[float]) -> int:
    return max(sum(1 for u in times if t <= u < t + 1) for t in times)


async def test_a_busy_chat_gets_at_most_five_replies_a_second(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock, timeout=5.0)
    events = [_chat_event(plat, fake, n, "oc_busy") for n in range(8)]
    started = time.monotonic()
    await asyncio.gather(*[plat.reply(http, event, f"回答{n}") for n, event in enumerate(events)])
    assert len(fake.replies) == 8  # none refused with 230020: the fake allows 5 per second per chat
    assert time.monotonic() - started >= 1.0  # the sixth waited for the window
    assert _most_in_one_second([r["at"] for r in fake.replies]) <= 5


async def test_a_busy_chat_does_not_hold_up_another(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock, timeout=5.0)
    for n in range(5):
        await plat.reply(http, _chat_event(plat, fake, n, "oc_busy"), "回答")
    started = time.monotonic()
    await plat.reply(http, _chat_event(plat, fake, 99, "oc_quiet"), "另一个群的回答")
    assert time.monotonic() - started < 0.5 and len(fake.replies) == 6


def test_quiet_chats_are_forgotten_busy_ones_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import platforms.feishu as feishu

    monkeypatch.setattr(feishu, "_CHAT_LIMITERS", 2)
    plat = receiver()
    busy = plat._chat_limiter(Inbound("feishu", "fs", "e1", "问", chat="oc_busy"))
    busy.take()  # a reply just went there: its window must survive
    plat._chat_limiter(Inbound("feishu", "fs", "e2", "问", chat="oc_quiet"))
    plat._chat_limiter(Inbound("feishu", "fs", "e3", "问", chat="oc_new"))
    assert set(plat._chat_limiters) == {"oc_busy", "oc_new"}
    assert plat._chat_limiter(Inbound("feishu", "fs", "e4", "问", chat="oc_busy")) is busy


async def test_replies_stay_under_fifty_a_second_per_app(
        aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession) -> None:
    plat = await platform_for(aiohttp_server, fake, clock, timeout=5.0)
    events = [_chat_event(plat, fake, n, f"oc_{n % 12}") for n in range(60)]  # 12 chats x 5: only the app limit
    await asyncio.gather(*[plat.reply(http, event, "回答") for event in events])
    assert len(fake.replies) == 60  # none refused with 99991400: the fake allows 50 per second per app
    assert _most_in_one_second([r["at"] for r in fake.replies]) <= 50


@pytest.mark.parametrize(
    ("endpoint", "script", "error", "code"),
    [
        ("token", {"code": 10014, "status": 400}, PermanentError, 10014),
        ("token", {"status": 500}, TemporaryError, 500),
        ("reply", {"code": 230020, "status": 400}, RateLimited, 230020),
        ("reply", {"code": 230002, "status": 400}, PermanentError, 230002),
        ("reply", {"delay": 0.4}, TemporaryError, "timeout"),
    ],
    ids=["bad-app-secret", "token-5xx", "reply-rate-limited", "bot-not-in-chat", "reply-timeout"],
)
async def test_reply_errors(aiohttp_server: Server, fake: FakeFeishu, clock: Clock, http: aiohttp.ClientSession,
                            endpoint: str, script: dict[str, Any], error: type[Exception], code: Any) -> None:
    plat = await platform_for(aiohttp_server, fake, clock)
    fake.answer_next(endpoint, **script)
    with pytest.raises(error) as info:
        await plat.reply(http, _event(plat), "回答")
    assert info.value.code == code  # type: ignore[attr-defined]


# --- end to end through the gateway -----------------------------------------------------------------------------
E2E_CONFIG = """
[[bots]]
name = "feishu-main"
platform = "feishu"
encrypt_key = "env:FEISHU_ENCRYPT_KEY"
verification_token = "env:FEISHU_VERIFICATION_TOKEN"
app_id = "cli_a"
app_secret = "env:FEISHU_APP_SECRET"
api_base = "{api_base}"
"""


async def _feishu_gateway(tmp_path: Path, aiohttp_client: Any, aiohttp_server: Server) -> tuple[Any, FakeFeishu]:
    """The gateway with one Feishu bot pointed at a fake Feishu, on the demo catalog."""
    from bot import create_app
    from config import load_settings
    from knowledge.catalog import import_file
    from store import open_db

    fake = FakeFeishu(app_secret=APP_SECRET)
    server = await aiohttp_server(fake.app())
    config = tmp_path / "gongkai.toml"
    config.write_text(E2E_CONFIG.format(api_base=str(server.make_url("/")).rstrip("/")), encoding="utf-8")
    env = {"FEISHU_ENCRYPT_KEY": EK, "FEISHU_VERIFICATION_TOKEN": VT, "FEISHU_APP_SECRET": APP_SECRET}
    settings = load_settings(str(config), environ=env, db=str(tmp_path / "e2e.db"))
    db = open_db(settings.db)
    import_file(db, str(Path(__file__).resolve().parent.parent / "knowledge" / "data" / "demo_catalog.jsonl"))
    db.close()
    return await aiohttp_client(create_app(settings)), fake


async def test_end_to_end_mention_is_answered_through_the_reply_api(
        tmp_path: Path, aiohttp_client: Any, aiohttp_server: Server) -> None:
    client, fake = await _feishu_gateway(tmp_path, aiohttp_client, aiohttp_server)
    challenge = await client.post("/hooks/feishu/feishu-main", data=CHALLENGE_BODY)
    assert await challenge.json() == {"challenge": "ajls384kdjx98XX"}
    req = delivery(message_event("@_user_1 小饭桌怎么备案", event_id="e2e-1"), stamp=str(int(time.time())))
    resp = await client.post("/hooks/feishu/feishu-main", data=req.body, headers=dict(req.headers))
    assert resp.status == 200
    await fake.wait_replies(1)
    assert fake.replies[0]["message_id"] == "om_m1" and "小饭桌" in fake.replies[0]["text"]
    again = await client.post("/hooks/feishu/feishu-main", data=req.body, headers=dict(req.headers))
    assert again.status == 200  # Feishu's retry: acknowledged, not answered twice
    forged = await client.post("/hooks/feishu/feishu-main", data=req.body,
                               headers={**req.headers, "x-lark-signature": hashlib.sha256(b"x").hexdigest()})
    assert forged.status == 403
    tampered = await client.post("/hooks/feishu/feishu-main", data=req.body.replace(b'"encrypt": "', b'"encrypt": "A'),
                                 headers=dict(req.headers))
    assert tampered.status == 403 and "Signature" in (await tampered.json())["error"]
    assert fake.token_calls == 1 and len(fake.replies) == 1


async def test_a_busy_chat_does_not_hold_up_the_answer_to_another_chat(
        tmp_path: Path, aiohttp_client: Any, aiohttp_server: Server) -> None:
    """Twelve questions in one chat, then one in another: the other chat's answer does not wait for the first
    chat's 5-a-second backlog, and the busy chat's answers keep their order."""
    client, fake = await _feishu_gateway(tmp_path, aiohttp_client, aiohttp_server)
    stamp = str(int(time.time()))
    for n, chat in [*((n, "oc_busy") for n in range(12)), (99, "oc_quiet")]:
        fake.message_chats[f"om_{n}"] = chat
        req = delivery(message_event("@_user_1 小饭桌怎么备案", event_id=f"lane-{n}", message_id=f"om_{n}",
                                     chat_id=chat), stamp=stamp)
        assert (await client.post("/hooks/feishu/feishu-main", data=req.body, headers=dict(req.headers))).status == 200
    await fake.wait_replies(13, timeout=10)
    order = [r["message_id"] for r in fake.replies]
    assert order.index("om_99") <= 5  # among the busy chat's first second, not after its 12 answers
    assert [m for m in order if m != "om_99"] == [f"om_{n}" for n in range(12)]
    assert _most_in_one_second([r["at"] for r in fake.replies if r["message_id"] != "om_99"]) <= 5
