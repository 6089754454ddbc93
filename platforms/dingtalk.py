"""DingTalk: enterprise-robot callbacks in, custom-robot webhook pushes out.

Inbound (HTTP mode): headers `timestamp` (ms) and `sign` = base64(HMAC-SHA256(app_secret, f"{ts}\\n{app_secret}")),
not URL-encoded, within `max_skew` seconds (default 1 h). Replies go to the event's `sessionWebhook` until it expires.
Push: POST `webhook` (custom robot, access_token is a secret), signed with `secret` (加签) when set: the same HMAC,
sent as `&timestamp=<ms>&sign=<percent-encoded once>`. HTTP 200 is not success: `errcode` decides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from yarl import URL

from errors import (
    BadPayload,
    BadSignature,
    ConfigError,
    MissingSignature,
    PermanentError,
    RateLimited,
    TemporaryError,
)
from platforms import (
    Inbound,
    Message,
    Platform,
    RawRequest,
    Target,
    drop_mentions,
    json_object,
    mask,
    safe_equal,
    skew_option,
    split_utf8,
)

__all__ = ["DingTalkPlatform", "sign", "signed_url"]

log = logging.getLogger(__name__)

RATE_LIMITED = 130101  # "send too fast, exceed 20 times per minute": the robot is locked out for 10 minutes
LOCKOUT_SECONDS = 600.0
BUSY = -1  # "系统繁忙" in DingTalk's general error table: worth a retry
_DINGTALK_HOST = re.compile(r"(?:[a-z0-9-]+\.)*dingtalk\.com")  # ASCII only: no NUL, no look-alikes


def sign(secret: str, timestamp_ms: int | str) -> str:
    """The raw base64 signature; DingTalk uses one formula for 加签 pushes and for callbacks."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_url(webhook: str, secret: str, timestamp_ms: int) -> str:
    """The push URL with timestamp and sign, the sign percent-encoded exactly once (`+`, `/`, `=` escaped)."""
    query = urlencode({"timestamp": str(timestamp_ms), "sign": sign(secret, timestamp_ms)})
    return f"{webhook}{'&' if '?' in webhook else '?'}{query}"


class DingTalkPlatform(Platform):
    name: ClassVar[str] = "dingtalk"
    inline_reply: ClassVar[bool] = False
    max_bytes: ClassVar[int] = 4000  # well under the ~20 000-byte request cap; long text reads badly on phones
    per_minute: ClassVar[int] = 20
    mention_to_reply: ClassVar[bool] = True  # in groups only @-messages are delivered
    code_meanings: ClassVar[Mapping[str, str]] = {
        "310000": "不符合机器人的安全设置：关键词、加签密钥或 IP 白名单",
        "130101": "发送太快（每分钟最多 20 条），机器人被暂停 10 分钟",
        "-1": "钉钉系统繁忙，稍后重试",
    }
    receive_keys: ClassVar[tuple[str, ...]] = ("app_secret",)
    push_keys: ClassVar[tuple[str, ...]] = ("webhook",)
    optional_keys: ClassVar[tuple[str, ...]] = ("secret", "keyword", "api_base", "max_skew")
    secret_keys: ClassVar[tuple[str, ...]] = ("app_secret", "webhook", "secret")

    def __init__(self, bot: str, options: Mapping[str, Any], source: str = "") -> None:
        super().__init__(bot, options, source)
        where = source or f"[bots.{bot}]"
        self.max_skew = skew_option(self.opt("max_skew", 3600), where)
        self.keywords = _keywords(self.opt("keyword", ""), where)
        webhook = str(self.opt("webhook"))
        if webhook and "access_token=" not in webhook:
            raise ConfigError(f"{where} webhook: 应为自定义机器人的 Webhook 地址（带 ?access_token=...）")
        base = str(self.opt("api_base"))
        try:
            self.api_origin = URL(base).origin() if base else None  # where a fake or a proxy takes the answers
        except ValueError:
            raise ConfigError(f"{where} api_base: 应为网址，如 https://oapi.dingtalk.com，现为 {base!r}") from None

    # --- inbound -----------------------------------------------------------------
    def verify(self, req: RawRequest) -> None:
        secret = self.opt("app_secret")
        if not secret:
            raise BadSignature(f"dingtalk bot {self.bot} has no app_secret: it does not receive")
        stamp, given = req.headers.get("timestamp", ""), req.headers.get("sign", "")
        if not stamp or not given:
            raise MissingSignature("missing timestamp or sign header")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 15):  # ms since 1970: 13 digits until 2286
            raise BadSignature("timestamp header is not a number of milliseconds")
        if not safe_equal(given, sign(secret, stamp)):
            raise BadSignature("sign header does not match")
        skew = abs(req.now * 1000 - int(stamp)) / 1000
        if self.max_skew and skew > self.max_skew:
            raise BadSignature(f"stale timestamp: {skew:.0f}s from our clock (limit {self.max_skew:.0f}s)")

    def parse(self, req: RawRequest) -> list[Inbound]:
        data = json_object(req.body)
        if data.get("msgtype") != "text":
            return []  # pictures, rich text, files: nothing we can answer
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        msg_id = data.get("msgId")
        if not isinstance(content, str):
            raise BadPayload("field 'text.content': required, a string")
        if not isinstance(msg_id, str) or not msg_id:
            raise BadPayload("field 'msgId': required, a non-empty string")
        self._check_session_webhook(_text(data, "sessionWebhook"))
        single = str(data.get("conversationType", "")) == "1"
        staff = _text(data, "senderStaffId")
        return [Inbound(
            platform=self.name, bot=self.bot, event_id=msg_id, text=drop_mentions(content),
            chat="" if single else _text(data, "conversationId"), chat_type="single" if single else "group",
            sender=staff or _text(data, "senderId"), sender_name=_text(data, "senderNick"),
            handle={"sessionWebhook": _text(data, "sessionWebhook"),
                    "sessionWebhookExpiredTime": _int(data.get("sessionWebhookExpiredTime")),
                    "senderStaffId": staff},
        )]

    async def reply(self, http: Any, event: Inbound, text: str) -> None:
        """Answer through the event's sessionWebhook, which needs no token but expires (~90 min)."""
        url = str(event.handle.get("sessionWebhook") or "")
        if not url:
            raise PermanentError("钉钉：消息没有 sessionWebhook，无法答复")
        expires = _int(event.handle.get("sessionWebhookExpiredTime"))
        if expires and self.clock() * 1000 >= expires:
            raise PermanentError("钉钉：sessionWebhook 已过期，答复无法送达")
        url = self._through_base(url)
        staff = str(event.handle.get("senderStaffId") or "")
        for part in split_utf8(text, self.max_bytes):
            body: dict[str, Any] = {"msgtype": "text", "text": {"content": part}}
            if staff and event.chat_type == "group":
                body["at"] = {"atUserIds": [staff]}
            await self._post(http, url, body, "sessionWebhook")

    # --- outbound ----------------------------------------------------------------
    def render(self, message: Message) -> list[dict[str, Any]]:
        """Markdown parts, each under the title's heading (a "(1/3)" before it would show the ### as text), and
        each with a keyword when the robot's keyword security needs one."""
        footer = f"\n\n{self.keywords[0]}" if self.keywords else ""
        head = f"### {message.title}\n\n" if message.title else ""
        parts = [head + part for part in split_utf8(message.text(markdown=True),
                                                    self.max_bytes - len((head + footer).encode()))]
        title = message.title or _preview(message.body)
        bodies: list[dict[str, Any]] = []
        for i, part in enumerate(parts):
            if self.keywords and not any(k in part for k in self.keywords):
                part += footer
            body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": title, "text": part}}
            if message.mention_all and i == 0:
                body["at"] = {"isAtAll": True}  # once, not on every part
            bodies.append(body)
        return bodies

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        webhook = self._webhook()
        if not webhook:
            raise PermanentError(f"钉钉机器人 {self.bot} 没有配置 webhook，不能推送", code="no_webhook")
        secret = self.opt("secret")
        url = signed_url(webhook, secret, int(self.clock() * 1000)) if secret else webhook
        await self._post(http, url, body, "webhook")
        log.info("dingtalk %s: sent %s to %s", self.bot, body.get("msgtype"), _masked(webhook))

    def _webhook(self) -> str:
        return self._through_base(str(self.opt("webhook")))

    def _through_base(self, url: str) -> str:
        """A DingTalk URL, its scheme and host replaced by `api_base` when set (tests, proxies)."""
        base = str(self.opt("api_base"))
        if not url or not base:
            return url
        parts = urlsplit(url)
        return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")

    def _check_session_webhook(self, url: str) -> None:
        """The answer goes to the event's sessionWebhook, and the inbound sign covers only the timestamp: whoever
        saw one request's headers could, for an hour, have us POST to a URL of their choosing. So it must be
        DingTalk's (https, port 443, an ASCII *.dingtalk.com name) or `api_base`'s; nothing is logged or answered
        otherwise. Read with yarl, the parser the POST itself uses, so both see the same host."""
        if not url:
            return  # reply() reports that there is nothing to answer through
        try:
            parsed = URL(url)
            host, port = (parsed.raw_host or "").lower(), parsed.port
        except (ValueError, TypeError):
            raise BadPayload("field 'sessionWebhook': not a URL") from None
        dingtalk = (parsed.scheme == "https" and port == 443 and parsed.user is None and parsed.password is None
                    and _DINGTALK_HOST.fullmatch(host) is not None)
        ours = self.api_origin is not None and parsed.is_absolute() and parsed.origin() == self.api_origin
        if not (dingtalk or ours):
            raise BadPayload(f"field 'sessionWebhook': {parsed.scheme}://{host or '(none)'}:{port} is not DingTalk's "
                             "(https on port 443 of *.dingtalk.com) nor the bot's api_base")

    async def _post(self, http: Any, url: str, body: dict[str, Any], what: str) -> None:
        """POST and raise by HTTP status and errcode; the URL is already encoded once (the sign in it)."""
        status, _, answer = await self.post_json(http, URL(url, encoded=True), body, what)
        _check(status, answer)


def _check(status: int, answer: str) -> None:
    """Map DingTalk's answer to success or a DeliveryError: HTTP 200 alone proves nothing."""
    if status >= 500 or status == 429:
        raise TemporaryError(f"dingtalk: HTTP {status}", code=status)
    if status != 200:
        raise PermanentError(f"dingtalk: HTTP {status}", code=status)
    try:
        data = json.loads(answer)
    except ValueError:
        raise TemporaryError("dingtalk: HTTP 200 but the body is not JSON", code="body") from None
    code = data.get("errcode") if isinstance(data, dict) else None
    if code == 0:
        return
    errmsg = str(data.get("errmsg", "")) if isinstance(data, dict) else ""
    if code == RATE_LIMITED:
        raise RateLimited(f"dingtalk 130101: {errmsg}; robot locked for 10 min", LOCKOUT_SECONDS, code)
    if code == BUSY:
        raise TemporaryError(f"dingtalk -1: {errmsg}", code=code)
    if not isinstance(code, int):
        raise TemporaryError("dingtalk: HTTP 200 without an errcode", code="body")
    raise PermanentError(f"dingtalk {code}: {errmsg}", code=code)  # e.g. 310000: keyword, sign, timestamp, IP


def _masked(webhook: str) -> str:
    """For logs: the host and a hint of the access_token, which is the robot's bearer credential."""
    parts = urlsplit(webhook)
    token = dict(parse_qsl(parts.query)).get("access_token", "")
    return f"{parts.hostname}{parts.path}?access_token={mask(token)}"


def _keywords(value: Any, where: str) -> tuple[str, ...]:
    """`keyword` is one string or a list of them (the robot accepts up to 10; any one will do)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(k, str) for k in items):
        raise ConfigError(f"{where} keyword: 应为字符串或字符串列表")
    return tuple(k.strip() for k in items if k.strip())


def _preview(body: str) -> str:
    """A title for the notification preview when the message has none: the first line, markup removed."""
    line = next((ln for ln in body.splitlines() if ln.strip()), "通知")
    plain = re.sub(r"[#*>`]|^\s*-\s+", "", line).strip() or "通知"
    return plain[:30]


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    """DingTalk sends ms timestamps as numbers, sometimes as strings."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 reads as infinity
        return 0
