"""WeCom adapter: official vectors on the crypto and the pure functions, pushes and replies against a fake WeCom."""

from __future__ import annotations

import base64
import json
import logging
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
    CannotDecrypt,
    ConfigError,
    MissingSignature,
    PermanentError,
    RateLimited,
    TemporaryError,
    UnknownBot,
)
from platforms import Inbound, Message, RawRequest, Target, create
from platforms._aes import CryptoError, WeComCrypto, pkcs7_pad, pkcs7_unpad
from platforms.wecom import MARKDOWN_LIMIT, STREAM_LIMIT, TEXT_LIMIT, WeComPlatform
from tests.fakes.wecom import FakeWeCom

# PLATFORMS.md §1.5, copied byte for byte.
SAMPLE_TOKEN, SAMPLE_KEY, CORPID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3T"
    "UUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsij"
    "ff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5w"
    "LVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZ"
    "ZIs2pDBS8R07+qN+E7Q=="
)
ENCRYPT_MSG = "<xml><MsgType><![CDATA[text]]></MsgType><Text><Content><![CDATA[您好，已收到]]></Content></Text></xml>"
ENCRYPT_OUT = (
    "ZA4HuQypHxnRrA+A6SOHGN9SvUObJG4M13+unLI/g0cCZc0xBG4wwQ0CYhtaYGEbVeBxUyjuWgk41acJC5VSmH/x3efJY8EYmZbqxzUcVLvxUGow5A"
    "3URl5BQ0/+JCZVh6GVwlclkiDxyheGsaRf18e6wy4UfLSjEXDktJZ7YQ4iqhFz3HyPxZkpEb8juJVRrTcEI2wAiNrNbllHwPdcrg=="
)
ROBOT_TOKEN, ROBOT_KEY = "robotToken123", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ROBOT_QUERY = {"msg_signature": "9c263035ba5dec6edffb53bee139615fdc22dd1b", "timestamp": "1735000000",
               "nonce": "nonce123"}
ROBOT_BODY = (
    b'{"encrypt": "jn1L23DB+6ELqJ+6bruv23hVWI60km+vuU2UdNDhPPjr1iYPJrpDBh+MmvOt8BGBwOvsOubZsU4jPtLJC9nFQbn7fBeURGr'
    b'MZI4o2tsTSZLEvErRF9qoJH1kQRcJ6jl1RmkFxMrg5ETaefXr4lgUlaL+vom5NYv+nt/2M/Qexx29SZIXg0Tf6ul3y7jiGyKRLdOegjCxh+O'
    b'pEHMnEMuBX8YF+CSeLefzRBDEKl6QfX2eiFUPWMymtdVZVVHZ+Jc5/Bw0gsrKInds5/mEofpuN5aIRbdN0cyqveeMasvspwVeFqoJdvk33Z9'
    b'DccOiT47cJFF4JK2O7CdO+rwAA0dXBmIy+SFkFYeVDjafwN1PuuNJalzou+nXwOzoElSYxbaaElUlH6RKVdzEGtjJRmqr++qJb9O+zKx3gn7'
    b'to5CyY5KTSHd7qzDXoKobM4j5BHGGO4dfD+jiGhjp9EA7mMv/qA=="}'
)
T0 = 1735000000.0
HOOK_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"  # long enough for mask() to show only a hint
Server = Callable[..., Awaitable[TestServer]]


def receiver(**options: Any) -> WeComPlatform:
    return WeComPlatform("wc", {"token": ROBOT_TOKEN, "aes_key": ROBOT_KEY, **options})


def robot_crypto(random: bytes = b"aaaabbbbccccdddd") -> WeComCrypto:
    return WeComCrypto(ROBOT_TOKEN, ROBOT_KEY, "", random_bytes=lambda n: random[:n])


def callback(message: dict[str, Any], now: float = T0, stamp: str = "1735000000") -> RawRequest:
    """A POST as WeCom sends it: the message encrypted with receiveid "" and signed."""
    crypto = robot_crypto()
    encrypt = crypto.encrypt(json.dumps(message, ensure_ascii=False))
    query = {"msg_signature": crypto.signature(stamp, "n1", encrypt), "timestamp": stamp, "nonce": "n1"}
    return RawRequest("POST", query, {}, json.dumps({"encrypt": encrypt}).encode(), now)


def text_message(content: str = "@食药监小助手 如何查询药店许可证", **override: Any) -> dict[str, Any]:
    message = {"msgid": "m1", "aibotid": "AIBOTID", "chatid": "wrkSFfCgAAxxxx", "chattype": "group",
               "from": {"userid": "zhangsan"}, "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response",
               "msgtype": "text", "text": {"content": content}}
    message.update(override)
    return message


# --- the crypto layer against the published vectors ------------------------------------------------------
def test_official_verify_url_sample() -> None:
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, CORPID)
    assert crypto.signature("1409659589", "263014780", ECHOSTR) == "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    assert crypto.decrypt(ECHOSTR) == b"1616140317555161061"


def test_official_decrypt_msg_sample() -> None:
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, CORPID)
    assert crypto.signature("1409659813", "1372623149", SAMPLE_ENCRYPT) == "477715d11cdb4164915debcba66cb864d751f3e6"
    xml = crypto.decrypt(SAMPLE_ENCRYPT).decode()
    for field, value in [("ToUserName", "wx5823bf96d3bd56c7"), ("FromUserName", "mycreate"),
                         ("MsgType", "text"), ("Content", "hello"), ("MsgId", "4561255354251345929")]:
        assert f"<{field}><![CDATA[{value}]]></{field}>" in xml or f"<{field}>{value}</{field}>" in xml
    assert "<CreateTime>1409659813</CreateTime>" in xml and "<AgentID>218</AgentID>" in xml


def test_deterministic_encrypt_vector() -> None:
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, CORPID, random_bytes=lambda n: b"aaaabbbbccccdddd"[:n])
    encrypt = crypto.encrypt(ENCRYPT_MSG)
    assert encrypt == ENCRYPT_OUT
    assert crypto.signature("1409659813", "1372623149", encrypt) == "7794e3ece270197a556c422e0829c9b371afad1e"
    assert crypto.decrypt(encrypt).decode() == ENCRYPT_MSG


def test_receiveid_and_key_are_checked() -> None:
    with pytest.raises(CryptoError, match="receiveid"):
        WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, "").decrypt(ECHOSTR)  # app sample, smart-robot receiveid
    with pytest.raises(CryptoError):
        WeComCrypto(SAMPLE_TOKEN, ROBOT_KEY, CORPID).decrypt(ECHOSTR)
    with pytest.raises(CryptoError, match="base64"):
        WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, CORPID).decrypt("not base64!")


@pytest.mark.parametrize("size", [0, 1, 31, 32, 33, 100])
def test_pkcs7_block_32(size: int) -> None:
    padded = pkcs7_pad(b"x" * size, 32)
    assert len(padded) % 32 == 0 and len(padded) > size
    assert pkcs7_unpad(padded, 32) == b"x" * size
    with pytest.raises(CryptoError):
        pkcs7_unpad(padded[:-1] + b"\x00", 32)


# --- inbound: the smart-robot vector and refusals -----------------------------------------------------------
def test_smart_robot_vector_verifies_and_parses() -> None:
    plat = receiver(max_skew="0")  # the vector is old; 0 disables the window
    req = RawRequest("POST", ROBOT_QUERY, {}, ROBOT_BODY, time.time())
    assert plat.handshake(req) is None
    plat.verify(req)
    [event] = plat.parse(req)
    assert event == Inbound(
        platform="wecom", bot="wc", event_id="CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=", text="如何查询药店许可证",
        chat="wrkSFfCgAAxxxx", chat_type="group", sender="zhangsan",
        handle={"response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC",
                "aibotid": "AIBOTID"})


def test_vector_within_the_default_window() -> None:
    receiver().verify(RawRequest("POST", ROBOT_QUERY, {}, ROBOT_BODY, T0 + 3599))


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce"])
def test_missing_signature_parts_are_401(missing: str) -> None:
    query = {k: v for k, v in ROBOT_QUERY.items() if k != missing}
    with pytest.raises(MissingSignature):
        receiver().verify(RawRequest("POST", query, {}, ROBOT_BODY, T0))


def _tampered_body() -> bytes:
    return ROBOT_BODY.replace(b"jn1L", b"jn1M")


@pytest.mark.parametrize(
    ("query", "body", "options"),
    [
        (ROBOT_QUERY, _tampered_body(), {}),
        ({**ROBOT_QUERY, "msg_signature": "0" * 40}, ROBOT_BODY, {}),
        ({**ROBOT_QUERY, "timestamp": "1735000001"}, ROBOT_BODY, {}),
        ({**ROBOT_QUERY, "nonce": "nonce124"}, ROBOT_BODY, {}),
        (ROBOT_QUERY, ROBOT_BODY, {"token": "otherToken"}),
    ],
    ids=["tampered-body", "wrong-signature", "changed-timestamp", "changed-nonce", "wrong-token"],
)
def test_forgeries_are_403(query: dict[str, str], body: bytes, options: dict[str, str]) -> None:
    with pytest.raises(BadSignature):
        receiver(**options).verify(RawRequest("POST", query, {}, body, T0))


@pytest.mark.parametrize(("now", "options"), [(T0 + 3601, {}), (T0 - 3601, {}), (T0 + 61, {"max_skew": "60"})])
def test_stale_timestamp_is_403(now: float, options: dict[str, str]) -> None:
    with pytest.raises(BadSignature, match="stale"):
        receiver(**options).verify(RawRequest("POST", ROBOT_QUERY, {}, ROBOT_BODY, now))


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf"])
def test_a_timestamp_that_is_no_number_is_403_even_when_signed(stamp: str) -> None:
    """float() reads "nan", and nan compares false with everything: it would have passed any window."""
    plat = receiver()
    encrypt = json.loads(ROBOT_BODY)["encrypt"]
    query = {"msg_signature": plat.crypto.signature(stamp, "n1", encrypt), "timestamp": stamp, "nonce": "n1"}
    with pytest.raises(BadSignature, match="not a number|stale"):
        plat.verify(RawRequest("POST", query, {}, ROBOT_BODY, T0))


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"encrypt": 5}', b"\xff"])
def test_malformed_bodies_are_400(body: bytes) -> None:
    with pytest.raises(BadPayload):
        receiver().verify(RawRequest("POST", ROBOT_QUERY, {}, body, T0))


def test_signed_but_undecryptable_is_400() -> None:
    plat = receiver(aes_key="B" * 43)  # right token, wrong key: the signature passes, decryption cannot
    plat.verify(RawRequest("POST", ROBOT_QUERY, {}, ROBOT_BODY, T0))
    with pytest.raises(CannotDecrypt, match="decrypt") as refused:
        plat.parse(RawRequest("POST", ROBOT_QUERY, {}, ROBOT_BODY, T0))
    assert refused.value.status == 400 and "EncodingAESKey" in refused.value.hint  # what the admin should check
    garbage = base64.b64encode(b"\x00" * 48).decode()
    crypto = robot_crypto()
    query = {"msg_signature": crypto.signature("1735000000", "n", garbage), "timestamp": "1735000000", "nonce": "n"}
    req = RawRequest("POST", query, {}, json.dumps({"encrypt": garbage}).encode(), T0)
    receiver().verify(req)
    with pytest.raises(BadPayload):
        receiver().parse(req)


@pytest.mark.parametrize("message", [
    text_message(msgtype="image", image={"url": "https://x"}),
    text_message(msgtype="stream", stream={"id": "s"}),
    text_message(msgtype="event", event={"eventtype": "enter_chat"}),
])
def test_non_text_messages_are_ignored(message: dict[str, Any]) -> None:
    assert receiver().parse(callback(message)) == []


def test_single_chat_keeps_its_text() -> None:
    [event] = receiver().parse(callback(text_message("药店几点开门？", chattype="single")))
    assert (event.text, event.chat, event.chat_type) == ("药店几点开门？", "", "single")


@pytest.mark.parametrize(("content", "text"), [
    ("@食药监小助手\u2005小饭桌怎么备案", "小饭桌怎么备案"),
    ("@张三 @食药监小助手 帮助", "帮助"),  # a colleague mentioned first: still the command
    ("@食药监小助手 查询 2026-0001 @李四", "查询 2026-0001"),
])
def test_every_mention_is_stripped(content: str, text: str) -> None:
    [event] = receiver().parse(callback(text_message(content)))
    assert event.text == text


def test_a_question_sent_with_a_screenshot_is_read_from_its_text_items() -> None:
    mixed = {"msg_item": [{"msgtype": "text", "text": {"content": "@食药监小助手 这个标签合格吗"}},
                          {"msgtype": "image", "image": {"url": "https://example/1.png"}}]}
    message = {k: v for k, v in text_message().items() if k != "text"}
    [event] = receiver().parse(callback({**message, "msgtype": "mixed", "mixed": mixed}))
    assert event.text == "这个标签合格吗"


def test_text_message_without_msgid_is_400() -> None:
    message = text_message()
    del message["msgid"]
    with pytest.raises(BadPayload):
        receiver().parse(callback(message))


# --- the URL check ---------------------------------------------------------------------------------------------
def _url_check(plain: str, signature: str | None = None, now: float = T0) -> RawRequest:
    crypto = robot_crypto()
    echostr = crypto.encrypt(plain)
    query = {"timestamp": "1735000000", "nonce": "n2", "echostr": echostr,
             "msg_signature": signature or crypto.signature("1735000000", "n2", echostr)}
    return RawRequest("GET", query, {}, b"", now)


def test_url_check_answers_the_plaintext() -> None:
    ack = receiver().handshake(_url_check("6234786378112345"))
    assert ack is not None and (ack.status, ack.body, ack.content_type) == (200, b"6234786378112345", "text/plain")


def test_url_check_survives_plus_read_as_space() -> None:
    req = _url_check("1616140317555161061")
    assert "+" in req.query["echostr"]  # this plaintext's ciphertext has one; an unescaped + arrives as " "
    spaced = RawRequest("GET", {**req.query, "echostr": req.query["echostr"].replace("+", " ")}, {}, b"", T0)
    ack = receiver().handshake(spaced)
    assert ack is not None and ack.body == b"1616140317555161061"


def test_url_check_refusals() -> None:
    with pytest.raises(BadSignature):
        receiver().handshake(_url_check("123", signature="f" * 40))
    with pytest.raises(MissingSignature):
        receiver().handshake(RawRequest("GET", {"echostr": "abc"}, {}, b"", T0))
    with pytest.raises(BadSignature, match="stale"):
        receiver().handshake(_url_check("123", now=T0 + 7200))
    with pytest.raises(BadPayload):
        receiver().handshake(RawRequest("GET", ROBOT_QUERY, {}, b"", T0))


# --- the inline (passive) reply -------------------------------------------------------------------------------
def _open_reply(body: bytes) -> dict[str, Any]:
    envelope = json.loads(body)
    assert set(envelope) == {"encrypt", "msgsignature", "timestamp", "nonce"}
    crypto = WeComCrypto(ROBOT_TOKEN, ROBOT_KEY, "")
    assert envelope["msgsignature"] == crypto.signature(envelope["timestamp"], envelope["nonce"], envelope["encrypt"])
    return dict(json.loads(crypto.decrypt(envelope["encrypt"])))


def test_inline_reply_is_an_encrypted_finished_stream() -> None:
    plat = receiver()
    plat.clock = lambda: T0
    [event] = plat.parse(callback(text_message()))
    ack = plat.inline(event, "请登录政务服务网查询。", {})
    assert ack.status == 200 and ack.content_type == "application/json"
    assert json.loads(ack.body)["timestamp"] == "1735000000"
    reply = _open_reply(ack.body)
    assert reply["msgtype"] == "stream"
    assert reply["stream"]["finish"] is True and reply["stream"]["content"] == "请登录政务服务网查询。"
    again = _open_reply(plat.duplicate(event, {"text": "请登录政务服务网查询。"}).body)
    assert again["stream"] == reply["stream"]  # a retried msgid gets the same stream id and text


def test_inline_reply_is_cut_to_the_stream_limit() -> None:
    [event] = receiver().parse(callback(text_message()))
    reply = _open_reply(receiver().inline(event, "药" * 10000, {}).body)
    assert len(reply["stream"]["content"].encode()) <= STREAM_LIMIT


def test_ack_is_empty() -> None:
    ack = receiver().ack([])
    assert (ack.status, ack.body) == (200, b"")


# --- configuration --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "fragment"), [
    ({"token": "t", "aes_key": "short"}, r"aes_key: 应为企业微信后台生成的 43 位 EncodingAESKey（现为 5 位）$"),
    ({"token": "t", "aes_key": "!" * 43}, r"aes_key: 应为企业微信后台生成的 43 位 EncodingAESKey（不是有效的 base64）$"),
    ({"webhook": "https://x?key=k", "api_base": "https://proxy"}, "api_base: 平台 wecom 没有这个键"),
    ({"token": "t"}, "aes_key: wecom 机器人要接收消息，必须设置"),
    ({"webhook": "https://x?key=k", "keyword": "a"}, "keyword: 平台 wecom 没有这个键"),
    ({"webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "key="),
    ({"token": "t", "aes_key": ROBOT_KEY, "max_skew": "soon"}, "max_skew"),
])
def test_bad_configuration(options: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        create("wc", "wecom", options)


def test_push_only_bot_refuses_callbacks_and_hides_secrets() -> None:
    plat = create("wc", "wecom", {"webhook": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={HOOK_KEY}"})
    assert plat.can_push and not plat.can_receive
    with pytest.raises(UnknownBot):
        plat.verify(RawRequest("POST", ROBOT_QUERY, {}, ROBOT_BODY, T0))
    assert HOOK_KEY not in repr(plat) and ROBOT_TOKEN not in repr(receiver())


# --- rendering ------------------------------------------------------------------------------------------------
def test_short_notice_is_one_markdown_part_with_the_body_verbatim() -> None:
    body = "各餐饮单位：\n\n请于**5月31日**前完成自查。\n- 详见 [通知](https://example.gov.cn/a)"
    [part] = receiver().render(Message(body=body, title="自查提醒"))
    assert part["msgtype"] == "markdown" and body in part["markdown"]["content"]
    assert "自查提醒" in part["markdown"]["content"]


@pytest.mark.parametrize("unit", ["食品安全检查。", 'say "hi"\n', "\\\t"])
def test_long_notice_splits_within_the_byte_limit(unit: str) -> None:
    body = unit * 2000
    parts = receiver().render(Message(body=body, title="通知"))
    assert len(parts) > 1
    for i, part in enumerate(parts, 1):
        content = part["markdown"]["content"]
        escaped = json.dumps(content, ensure_ascii=False).encode()
        assert len(escaped) - 2 <= MARKDOWN_LIMIT
        assert f"({i}/{len(parts)}) " in content


def test_mention_all_uses_text_with_mentioned_list_once() -> None:
    parts = receiver().render(Message(body="请注意。" * 400, title="预警", mention_all=True))
    assert len(parts) > 1 and all(p["msgtype"] == "text" for p in parts)
    assert parts[0]["text"]["mentioned_list"] == ["@all"]
    assert all("mentioned_list" not in p["text"] for p in parts[1:])
    assert all(len(p["text"]["content"].encode()) <= TEXT_LIMIT for p in parts)


# --- pushing against the fake ---------------------------------------------------------------------------------
@pytest.fixture
def fake() -> FakeWeCom:
    return FakeWeCom(keys={HOOK_KEY}, clock=lambda: T0)


async def pusher(aiohttp_server: Server, fake: FakeWeCom, key: str = HOOK_KEY) -> WeComPlatform:
    server = await aiohttp_server(fake.app())
    plat = WeComPlatform("wc", {"webhook": str(server.make_url(f"/cgi-bin/webhook/send?key={key}"))})
    plat.timeout = 0.2
    return plat


async def test_push_is_accepted_and_sent_as_utf8(
        aiohttp_server: Server, fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    plat = await pusher(aiohttp_server, fake)
    message = Message(body="请各药店于本周内完成自查。", title="自查提醒")
    for body in plat.render(message):
        await plat.send(http, Target("wc"), body)
    assert fake.pushes == plat.render(message)
    assert "请各药店".encode() in fake.raw[0]  # not \\u escapes, which would triple the byte count


async def test_every_part_of_a_long_notice_is_accepted(
        aiohttp_server: Server, fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    plat = await pusher(aiohttp_server, fake)
    body = "\n\n".join(f"第{i}条：" + "餐饮服务单位应当建立食品安全自查制度。" * 20 for i in range(12))
    parts = plat.render(Message(body=body, title="培训通知"))
    for part in parts:
        await plat.send(http, Target("wc"), part)
    assert len(fake.pushes) == len(parts) > 1


async def test_fake_refuses_an_oversized_body_with_40058(
        aiohttp_server: Server, fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    plat = await pusher(aiohttp_server, fake)
    with pytest.raises(PermanentError) as info:
        await plat.send(http, Target("wc"), {"msgtype": "markdown", "markdown": {"content": "x" * 4097}})
    assert info.value.code == 40058


async def test_twenty_first_push_in_a_minute_is_rate_limited(
        aiohttp_server: Server, fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    plat = await pusher(aiohttp_server, fake)
    for _ in range(20):
        await plat.send(http, Target("wc"), {"msgtype": "text", "text": {"content": "hi"}})
    with pytest.raises(RateLimited) as info:
        await plat.send(http, Target("wc"), {"msgtype": "text", "text": {"content": "hi"}})
    assert (info.value.code, info.value.retry_after) == (45009, 60)


@pytest.mark.parametrize(
    ("script", "error", "code", "retry_after"),
    [
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, RateLimited, 45009, 60),
        ({"errcode": 45009, "headers": {"Retry-After": "12"}}, RateLimited, 45009, 12),
        ({"status": 429, "headers": {"Retry-After": "7"}}, RateLimited, 429, 7),
        ({"errcode": 93000, "errmsg": "invalid webhook url, hint: [x]"}, PermanentError, 93000, None),
        ({"errcode": 93004}, PermanentError, 93004, None),
        ({"errcode": 93008}, PermanentError, 93008, None),
        ({"errcode": 40058}, PermanentError, 40058, None),
        ({"errcode": -1, "errmsg": "system busy"}, TemporaryError, -1, None),
        ({"status": 500}, TemporaryError, 500, None),
        ({"status": 502}, TemporaryError, 502, None),
        ({"delay": 0.4}, TemporaryError, "timeout", None),
    ],
    ids=["45009", "45009-retry-after", "http-429", "93000", "93004", "93008", "40058", "busy", "http-500",
         "http-502", "timeout"],
)
async def test_scripted_errors_map_to_exceptions(
        aiohttp_server: Server, fake: FakeWeCom, http: aiohttp.ClientSession,
        script: dict[str, Any], error: type[Exception], code: Any, retry_after: float | None) -> None:
    plat = await pusher(aiohttp_server, fake)
    fake.answer_next(**script)
    with pytest.raises(error) as info:
        await plat.send(http, Target("wc"), {"msgtype": "text", "text": {"content": "hi"}})
    assert info.value.code == code  # type: ignore[attr-defined]
    if retry_after is not None:
        assert info.value.retry_after == retry_after  # type: ignore[attr-defined]


async def test_wrong_key_is_permanent_and_never_logged(
        aiohttp_server: Server, fake: FakeWeCom, http: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    wrong = "0000aaaa-bbbb-cccc-dddd-eeeeffff0000"
    plat = await pusher(aiohttp_server, fake, key=wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(PermanentError) as info:
        await plat.send(http, Target("wc"), {"msgtype": "text", "text": {"content": "hi"}})
    assert info.value.code == 93000
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")  # not the fake's log
    assert wrong not in ours and wrong not in str(info.value)
    assert "0000…" in ours  # a hint of which key


async def test_connection_refused_is_temporary(http: aiohttp.ClientSession, unused_tcp_port: int) -> None:
    port = unused_tcp_port
    plat = WeComPlatform("wc", {"webhook": f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={HOOK_KEY}"})
    with pytest.raises(TemporaryError) as info:
        await plat.send(http, Target("wc"), {"msgtype": "text", "text": {"content": "hi"}})
    assert info.value.code == "connection" and HOOK_KEY not in str(info.value)


# --- replying through response_url --------------------------------------------------------------------------
async def test_reply_through_response_url_once(
        aiohttp_server: Server, fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    server = await aiohttp_server(fake.app())
    fake.response_codes.add("RC1")
    url = str(server.make_url("/cgi-bin/aibot/response?response_code=RC1"))
    plat = receiver()
    [event] = plat.parse(callback(text_message(response_url=url)))
    await plat.reply(http, event, "**小饭桌备案**：请到区分局窗口办理。")
    assert fake.answers == [{"msgtype": "markdown", "markdown": {"content": "**小饭桌备案**：请到区分局窗口办理。"}}]
    with pytest.raises(PermanentError):  # one use only
        await plat.reply(http, event, "again")


async def test_reply_without_response_url_is_permanent(http: aiohttp.ClientSession) -> None:
    [event] = receiver().parse(callback(text_message(response_url="")))
    with pytest.raises(PermanentError):
        await receiver().reply(http, event, "x")


async def test_long_reply_is_cut_to_the_markdown_limit(
        aiohttp_server: Server, fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    server = await aiohttp_server(fake.app())
    fake.response_codes.add("RC2")
    [event] = receiver().parse(callback(text_message(
        response_url=str(server.make_url("/cgi-bin/aibot/response?response_code=RC2")))))
    await receiver().reply(http, event, "答" * 3000)
    assert len(fake.answers[0]["markdown"]["content"].encode()) <= MARKDOWN_LIMIT


# --- end to end through the gateway ---------------------------------------------------------------------------
E2E_CONFIG = """
[[bots]]
name = "wecom-main"
platform = "wecom"
token = "env:WECOM_TOKEN"
aes_key = "env:WECOM_AES_KEY"
webhook = "{webhook}"
"""


async def test_end_to_end_mention_gets_an_inline_stream_answer(
        tmp_path: Path, aiohttp_client: Any, aiohttp_server: Server, fake: FakeWeCom,
        caplog: pytest.LogCaptureFixture) -> None:
    from bot import create_app
    from config import load_settings
    from knowledge.catalog import import_file
    from store import open_db

    server = await aiohttp_server(fake.app())
    config = tmp_path / "gongkai.toml"
    config.write_text(E2E_CONFIG.format(webhook=server.make_url(f"/cgi-bin/webhook/send?key={HOOK_KEY}")),
                      encoding="utf-8")
    settings = load_settings(str(config), environ={"WECOM_TOKEN": ROBOT_TOKEN, "WECOM_AES_KEY": ROBOT_KEY},
                             db=str(tmp_path / "e2e.db"))
    db = open_db(settings.db)
    import_file(db, str(Path(__file__).resolve().parent.parent / "knowledge" / "data" / "demo_catalog.jsonl"))
    db.close()
    client = await aiohttp_client(create_app(settings))
    now = str(int(time.time()))
    req = callback(text_message("@食药监小助手 小饭桌怎么备案", msgid="e2e-1"), stamp=now)
    resp = await client.post("/hooks/wecom/wecom-main", params=dict(req.query), data=req.body)
    assert resp.status == 200
    stream = _open_reply(await resp.read())["stream"]
    assert stream["finish"] is True and "小饭桌" in stream["content"]
    again = await client.post("/hooks/wecom/wecom-main", params=dict(req.query), data=req.body)
    assert _open_reply(await again.read())["stream"] == stream  # WeCom's retry: same answer, no second enquiry
    forged = await client.post("/hooks/wecom/wecom-main", params={**req.query, "msg_signature": "0" * 40},
                               data=req.body)
    assert forged.status == 403
    unsigned = await client.post("/hooks/wecom/wecom-main", data=req.body)
    assert unsigned.status == 401
    # The admin setting the robot up reads, in the gateway's log, what to check for each refusal.
    assert "拒绝 wecom/wecom-main：403 签名不符或时间戳过期：请核对配置中的 Token、密钥" in caplog.text
    assert "拒绝 wecom/wecom-main：401 缺少签名" in caplog.text
    typo = await client.post("/hooks/wecom/wecom-mian", params=dict(req.query), data=req.body)
    assert typo.status == 404 and "拒绝 /hooks/wecom/wecom-mian：404 没有这个接收消息的机器人" in caplog.text
