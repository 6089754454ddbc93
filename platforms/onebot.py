"""QQ through a OneBot v11 implementation (go-cqhttp, NapCat, Lagrange ...): HTTP POST events in, HTTP API out.

Inbound: `X-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>` when `secret` is set. There is no timestamp, so a
captured request replays: the gateway's persisted dedupe on event_id = "self_id:message_id" is the only guard.
The answer goes in the response as a quick operation. Push: POST `{api_base}/send_group_msg`, Bearer `access_token`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar


from errors import BadPayload, BadSignature, MissingSignature, PermanentError, TemporaryError
from platforms import (
    Ack,
    Inbound,
    Message,
    Platform,
    RawRequest,
    Target,
    drop_mentions,
    json_object,
    safe_equal,
    split_utf8,
)

__all__ = ["OneBotPlatform", "sign", "segments"]

log = logging.getLogger(__name__)

TEMPORARY_RETCODES = frozenset({103, 201})  # failed, worker pool busy
# Inside a CQ code [ and ] are escaped (&#91; &#93;), so a parameter stops at either: stopping only at ] made
# "[CQ:a,[CQ:a,..." take time growing with the square of its length.
_CQ = re.compile(r"\[CQ:([A-Za-z0-9_.-]+)((?:,[^\[\]]*)?)\]")


def sign(secret: str, body: bytes) -> str:
    """The X-Signature value the implementation sends."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def segments(message: Any) -> list[dict[str, Any]]:
    """The message as a segment array, whether the implementation posts segments or a CQ-code string."""
    if isinstance(message, list):
        return [s for s in message if isinstance(s, dict)]
    if not isinstance(message, str):
        raise BadPayload("field 'message': expected a string or an array of segments")
    out: list[dict[str, Any]] = []
    pos = 0
    for match in _CQ.finditer(message):
        if match.start() > pos:
            out.append({"type": "text", "data": {"text": _unescape(message[pos:match.start()])}})
        data = dict(kv.partition("=")[::2] for kv in match.group(2).split(",")[1:])
        out.append({"type": match.group(1), "data": {k: _unescape(v) for k, v in data.items()}})
        pos = match.end()
    if pos < len(message):
        out.append({"type": "text", "data": {"text": _unescape(message[pos:])}})
    return out


def _unescape(text: str) -> str:
    return text.replace("&#91;", "[").replace("&#93;", "]").replace("&#44;", ",").replace("&amp;", "&")


class OneBotPlatform(Platform):
    name: ClassVar[str] = "onebot"
    inline_reply: ClassVar[bool] = True
    max_bytes: ClassVar[int] = 4500  # QQ cuts or refuses very long messages; leave room for the part marker
    per_minute: ClassVar[int] = 20  # no documented limit: QQ risk control punishes bursts, so be cautious
    push_keys: ClassVar[tuple[str, ...]] = ("api_base",)
    optional_keys: ClassVar[tuple[str, ...]] = ("secret", "access_token", "self_id")
    secret_keys: ClassVar[tuple[str, ...]] = ("secret", "access_token")
    mention_to_reply: ClassVar[bool] = True  # group messages that do not @ the bot are not ours to read
    code_meanings: ClassVar[Mapping[str, str]] = {  # retcodes
        "100": "参数错误（群号或消息格式不被接受）",
        "102": "数据无效，或机器人在该群没有发言权限",
        "103": "发送失败，稍后重试",
        "104": "QQ 登录凭据已过期，需要重新登录机器人账号",
        "201": "OneBot 实现繁忙，稍后重试",
    }

    # --- inbound -----------------------------------------------------------------
    def verify(self, req: RawRequest) -> None:
        secret = self.opt("secret")
        if not secret:
            return  # unsigned by configuration: the implementation should then listen on localhost only
        given = req.headers.get("x-signature", "")
        if not given:
            raise MissingSignature("missing X-Signature header")
        if not safe_equal(given, sign(secret, req.body)):
            raise BadSignature("X-Signature does not match the body")

    def parse(self, req: RawRequest) -> list[Inbound]:
        data = json_object(req.body)
        if data.get("post_type") != "message" or data.get("message_type") not in ("group", "private"):
            return []  # meta_event (heartbeats), notice, request, message_sent
        self_id = str(self.opt("self_id") or req.headers.get("x-self-id") or data.get("self_id") or "")
        message_id, user_id = data.get("message_id"), data.get("user_id")
        if message_id is None or not self_id:
            raise BadPayload("fields 'message_id' and 'self_id': required")
        group = data["message_type"] == "group"
        parts = segments(data.get("message", ""))
        if group and not _mentions(parts, self_id):
            return []  # group chatter not addressed to the bot
        sender: Mapping[str, Any] = data["sender"] if isinstance(data.get("sender"), dict) else {}
        return [Inbound(
            platform=self.name, bot=self.bot, event_id=f"{self_id}:{message_id}", text=_plain(parts),
            chat=str(data.get("group_id", "")) if group else "", chat_type="group" if group else "single",
            sender=str(user_id or ""), sender_name=str(sender.get("card") or sender.get("nickname") or ""),
            handle={"message_type": data["message_type"], "group_id": data.get("group_id"),
                    "user_id": user_id, "message_id": message_id},
        )]

    def inline(self, event: Inbound, text: str, extra: Mapping[str, Any]) -> Ack:
        """The quick operation: the implementation posts `reply`, @-ing the asker in groups."""
        if not text:
            return Ack(204, b"")
        payload = {"reply": text, "auto_escape": True, "at_sender": True}
        return Ack(200, json.dumps(payload, ensure_ascii=False).encode())

    def duplicate(self, event: Inbound, stored: Mapping[str, Any] | None) -> Ack:
        """Nothing to post: the implementation posts whatever quick operation it gets, and a signature without a
        timestamp can be replayed at will, so a repeated event must not put the answer in the group again."""
        return Ack(204, b"")

    async def reply(self, http: Any, event: Inbound, text: str) -> None:
        """A late answer (the quick operation is gone): send_msg to the same group or person."""
        handle = event.handle
        body: dict[str, Any] = {"message_type": handle.get("message_type", "group"), "auto_escape": True}
        key = "group_id" if body["message_type"] == "group" else "user_id"
        body[key] = handle.get(key)
        for part in split_utf8(text, self.max_bytes):
            body["message"] = part
            await self._call(http, "send_msg", body)

    # --- outbound ----------------------------------------------------------------
    def render(self, message: Message) -> list[dict[str, Any]]:
        """Plain-text segments (QQ has no markdown for bots); @all leads the first part only."""
        text = f"【{message.title}】\n{message.text()}" if message.title else message.text()
        bodies: list[dict[str, Any]] = []
        for i, part in enumerate(split_utf8(text, self.max_bytes)):
            segs: list[dict[str, Any]] = [{"type": "text", "data": {"text": part}}]
            if message.mention_all and i == 0:
                segs = [{"type": "at", "data": {"qq": "all"}}, {"type": "text", "data": {"text": "\n" + part}}]
            bodies.append({"message": segs})
        return bodies

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        if not self.opt("api_base"):
            raise PermanentError(f"OneBot 机器人 {self.bot} 没有配置 api_base，不能推送", code="no_api_base")
        if not target.chat.strip().isdigit():
            raise PermanentError(f"onebot：群 chat {target.chat!r} 不是 QQ 群号", code="chat")
        await self._call(http, "send_group_msg", {"group_id": int(target.chat), "message": body["message"]})
        log.info("onebot %s: sent to group %s", self.bot, target.chat)

    async def _call(self, http: Any, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Call one API action and raise by HTTP status, `status` and `retcode`."""
        url = str(self.opt("api_base")).rstrip("/") + "/" + action
        token = self.opt("access_token")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, _, answer = await self.post_json(http, url, payload, action, headers)
        return _check(action, status, answer)


def _check(action: str, status: int, answer: str) -> dict[str, Any]:
    """Map the implementation's answer to success or a DeliveryError."""
    if status >= 500:
        raise TemporaryError(f"onebot {action}: HTTP {status}", code=status)
    if status in (401, 403):
        raise PermanentError(f"onebot {action}: HTTP {status}, access_token missing or wrong", code=status)
    if status != 200:
        raise PermanentError(f"onebot {action}: HTTP {status}", code=status)
    try:
        data = json.loads(answer)
    except ValueError:
        raise TemporaryError(f"onebot {action}: HTTP 200 but the body is not JSON", code="body") from None
    if not isinstance(data, dict):
        raise TemporaryError(f"onebot {action}: HTTP 200 but not a JSON object", code="body")
    retcode = data.get("retcode")
    if data.get("status") in ("ok", "async") and retcode in (0, 1, None):
        return data
    detail = data.get("wording") or data.get("msg") or ""
    why = f"onebot {action}: status {data.get('status')!r} retcode {retcode} {detail}"
    if retcode in TEMPORARY_RETCODES:
        raise TemporaryError(why.strip(), code=retcode)
    raise PermanentError(why.strip(), code=retcode if isinstance(retcode, int) else "failed")


def _mentions(parts: list[dict[str, Any]], self_id: str) -> bool:
    return any(p.get("type") == "at" and str(_data(p).get("qq", "")) == self_id for p in parts)


def _plain(parts: list[dict[str, Any]]) -> str:
    """The text segments joined: @-mentions (of the bot, of others, @all) address the message, they are no part
    of it (see drop_mentions)."""
    return drop_mentions("".join(str(_data(p).get("text", "")) for p in parts if p.get("type") == "text"))


def _data(part: Mapping[str, Any]) -> Mapping[str, Any]:
    data = part.get("data")
    return data if isinstance(data, dict) else {}
