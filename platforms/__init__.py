"""The platform contract: one adapter file per chat platform, one line in REGISTRY.

An adapter turns a platform's HTTP request into `Inbound` events (`handshake`, `verify`, `parse`: pure and
synchronous, so official test vectors run without HTTP) and sends our text back (`reply` for an answer to an
event, `send` for a push to a group), raising `errors.DeliveryError` subclasses on failure. Adapters import
nothing of ours but `errors`; the network is reached only through the `aiohttp.ClientSession` passed in.
"""

from __future__ import annotations

import hmac
import importlib
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp

from errors import BadPayload, BadSignature, ConfigError, TemporaryError

__all__ = [
    "RawRequest",
    "Inbound",
    "Ack",
    "Target",
    "Message",
    "Platform",
    "REGISTRY",
    "create",
    "platform_class",
    "split_utf8",
    "safe_equal",
    "mask",
    "json_object",
    "json_answer",
    "as_dict",
    "skew_option",
    "check_fresh",
    "retry_after",
    "fit_parts",
]


@dataclass(frozen=True, slots=True)
class RawRequest:
    """An inbound HTTP request as bytes; header names are lower-case."""

    method: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    now: float  # unix seconds when it arrived, for timestamp windows


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message addressed to our bot, the @-mention already stripped from `text`."""

    platform: str
    bot: str
    event_id: str  # the platform's id for dedupe: msgid, event_id, msgId, self_id:message_id ...
    text: str
    chat: str = ""  # the platform's group id; "" for a single chat
    chat_type: str = "group"  # group | single
    sender: str = ""  # the platform's user id; pseudonymised before it is stored
    sender_name: str = ""
    handle: Mapping[str, Any] = field(default_factory=dict)  # what `reply` needs: sessionWebhook, response_url ...

    def to_json(self) -> str:
        """For the durable reply queue; `Inbound(**json.loads(...))` reads it back. (dataclasses.asdict deep-copies
        and costs several times more, on every deferred message.)"""
        return json.dumps({"platform": self.platform, "bot": self.bot, "event_id": self.event_id, "text": self.text,
                           "chat": self.chat, "chat_type": self.chat_type, "sender": self.sender,
                           "sender_name": self.sender_name, "handle": dict(self.handle)},
                          ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Ack:
    """The HTTP response to give the platform."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a push goes: a bot, and the platform's chat id where the bot needs one."""

    bot: str
    chat: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One message source, rendered per platform. `body` is a small markdown subset:
    paragraphs, `**bold**`, `- ` lists, `[text](url)` links. It holds the staff's text, posted verbatim.
    `fields` are the gateway's own (label, value) lines above it: bold only where the platform has markdown."""

    body: str
    title: str = ""
    mention_all: bool = False
    fields: tuple[tuple[str, str], ...] = ()

    def text(self, markdown: bool = False) -> str:
        """The fields, then the body."""
        if not self.fields:
            return self.body
        mark = "**" if markdown else ""
        return "\n".join(f"{mark}{label}{mark}：{value}" for label, value in self.fields) + "\n\n" + self.body


_ROLES = {"receive": "接收消息", "push": "推送"}
_TRANSPORT_MEANINGS = {
    "timeout": "平台在时限内没有答复，消息可能已经送达",
    "connection": "连不上平台（网络不通，或地址有误）",
    "body": "平台的答复无法识别",
}


class Platform:
    """Base class of every adapter. Subclasses set the class metadata and override what they support."""

    name: ClassVar[str] = ""
    inline_reply: ClassVar[bool] = False  # True: the answer goes in the HTTP response (`inline`)
    max_bytes: ClassVar[int] = 4096  # one message's text, UTF-8 bytes
    per_minute: ClassVar[int] = 20  # documented per-bot push limit
    per_second: ClassVar[float] = 0.0  # 0 = no per-second limit beyond per_minute
    reply_limit_per_chat: ClassVar[bool] = False  # answers are rate-limited per chat: queue them per chat
    mention_to_reply: ClassVar[bool] = False  # in a group the bot reads only messages that @ it
    code_meanings: ClassVar[Mapping[str, str]] = {}  # the platform's error codes, in Chinese, for staff
    receive_keys: ClassVar[tuple[str, ...]] = ()  # all required to receive
    push_keys: ClassVar[tuple[str, ...]] = ()  # all required to push
    optional_keys: ClassVar[tuple[str, ...]] = ()
    secret_keys: ClassVar[tuple[str, ...]] = ()  # never logged, masked in repr

    def __init__(self, bot: str, options: Mapping[str, Any], source: str = "") -> None:
        self.bot = bot
        self.options = dict(options)
        known = set(self.receive_keys) | set(self.push_keys) | set(self.optional_keys)
        where = source or f"[bots.{bot}]"
        for key in self.options:
            if key not in known:
                raise ConfigError(f"{where} {key}: 平台 {self.name} 没有这个键")
        has_receive = any(k in self.options for k in self.receive_keys)
        has_push = any(k in self.options for k in self.push_keys)
        for role, keys, present in (("receive", self.receive_keys, has_receive), ("push", self.push_keys, has_push)):
            if present:
                for key in keys:
                    if not self.options.get(key):
                        raise ConfigError(f"{where} {key}: {self.name} 机器人要{_ROLES[role]}，必须设置")
        # A role is available when its keys are configured and the adapter implements it at all.
        self.can_receive = (has_receive or not self.receive_keys) and type(self).parse is not Platform.parse
        self.can_push = (has_push or not self.push_keys) and type(self).send is not Platform.send
        self.clock: Callable[[], float] = time.time  # unix seconds for signing; tests fix it to known vectors
        self.timeout = 10.0  # seconds per platform call; tests shorten it

    def __repr__(self) -> str:
        """Safe to log: secret options (keys, tokens, webhook URLs) are masked."""
        shown = " ".join(f"{k}={mask(str(v)) if k in self.secret_keys else repr(v)}" for k, v in self.options.items())
        return f"<{type(self).__name__} bot={self.bot!r}{' ' + shown if shown else ''}>"

    def opt(self, key: str, default: Any = "") -> Any:
        return self.options.get(key, default)

    async def post_json(self, http: Any, url: Any, body: Mapping[str, Any], what: str,
                        headers: Mapping[str, str] | None = None) -> tuple[int, Mapping[str, str], str]:
        """POST UTF-8 JSON; (status, headers, text), or TemporaryError on a timeout or a network failure.

        Messages never carry str(exc): an aiohttp error can quote the URL, and webhook URLs are secrets."""
        data = json.dumps(body, ensure_ascii=False).encode()
        sent = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        try:
            async with http.post(url, data=data, headers=sent,
                                 timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                return resp.status, resp.headers, await resp.text()
        except TimeoutError:
            raise TemporaryError(f"{self.name} {what}: no answer within {self.timeout:g}s", code="timeout") from None
        except aiohttp.ClientError as exc:
            raise TemporaryError(f"{self.name} {what}: {type(exc).__name__}", code="connection") from None

    def describe(self, exc: BaseException) -> str:
        """A failed post in Chinese for staff (`notice show`, `enquiries list --undelivered`), the platform's own
        words kept after it: they are what a support ticket needs."""
        code = str(getattr(exc, "code", "") or "")
        meaning = self.code_meanings.get(code) or _TRANSPORT_MEANINGS.get(code)
        if meaning is None and code.isdigit() and 400 <= int(code) < 600:
            meaning = f"平台服务器出错（HTTP {code}）" if int(code) >= 500 else f"平台拒绝了请求（HTTP {code}）"
        return f"{meaning}（{exc}）" if meaning else str(exc)

    # --- inbound -----------------------------------------------------------------
    def handshake(self, req: RawRequest) -> Ack | None:
        """Answer a URL check / challenge, else None."""
        return None

    def verify(self, req: RawRequest) -> None:
        """Raise MissingSignature / BadSignature; return None when the request is authentic."""

    def parse(self, req: RawRequest) -> list[Inbound]:
        """Events addressed to this bot; [] for events to ignore. Raise BadPayload on malformed input."""
        raise NotImplementedError

    def ack(self, events: list[Inbound]) -> Ack:
        """The fast response for a deferred reply."""
        return Ack(200, b'{"ok":true}')

    def inline(self, event: Inbound, text: str, extra: Mapping[str, Any]) -> Ack:
        """The HTTP response that carries the answer (inline_reply platforms)."""
        raise NotImplementedError

    def duplicate(self, event: Inbound, stored: Mapping[str, Any] | None) -> Ack:
        """The response to a repeated event: inline platforms repeat the stored answer, others just ack."""
        if self.inline_reply and stored is not None:
            return self.inline(event, stored.get("text", ""), stored)
        return self.ack([event])

    async def reply(self, http: Any, event: Inbound, text: str) -> None:
        """Answer an event later (sessionWebhook, response_url, reply API)."""
        raise NotImplementedError

    # --- outbound ----------------------------------------------------------------
    def render(self, message: Message) -> list[dict[str, Any]]:
        """The JSON bodies, one per part, that `send` posts; splits at `max_bytes`."""
        raise NotImplementedError

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        """Post one rendered part. Raise RateLimited / TemporaryError / PermanentError."""
        raise NotImplementedError


def safe_equal(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison of two secrets or signatures."""
    if isinstance(a, str):
        a = a.encode("utf-8", "surrogatepass")  # a header with stray bytes arrives with surrogates in it
    if isinstance(b, str):
        b = b.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(a, b)


def mask(secret: str) -> str:
    """For logs: keep a hint of which secret, never the secret."""
    return secret[:4] + "…" if len(secret) > 8 else "…"


_MENTION = re.compile(r"(?<!\S)[@＠]\S+")  # "@name" starting a word; "a@b.cn" is no mention
_SPACES = re.compile(r"[ \t\u00a0\u2005\u3000]{2,}")


def drop_mentions(text: str) -> str:
    """The text without its "@name" mentions: the bot's, colleagues' and @all address the message, they are not
    part of it. Left in, `@张三 @小助手 帮助` is no command, and colleagues' names would go into the log."""
    return _SPACES.sub(" ", _MENTION.sub("", text)).strip()


def split_utf8(text: str, limit: int, marker_room: int = 12) -> list[str]:
    """Split `text` into parts of at most `limit` UTF-8 bytes, preferring paragraph and line breaks,
    never cutting a character; parts are prefixed "(i/n) " when there is more than one."""
    if len(text.encode()) <= limit:
        return [text]
    budget = limit - marker_room
    parts: list[str] = []
    rest = text
    while rest:
        if len(rest.encode()) <= budget:
            parts.append(rest)
            break
        cut = _cut_point(rest, budget)
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    total = len(parts)
    return [f"({i}/{total}) {part}" for i, part in enumerate(parts, 1)]


def _cut_point(text: str, budget: int) -> int:
    """The largest prefix within `budget` bytes, ending at a paragraph, line or sentence end if one is near."""
    size, end = 0, 0
    for i, ch in enumerate(text):
        size += len(ch.encode())
        if size > budget:
            break
        end = i + 1
    window = text[:end]
    for sep in ("\n\n", "\n", "。", "；", "，", " "):
        pos = window.rfind(sep)
        if pos > end // 2:
            return pos + len(sep)
    return end


def json_object(raw: bytes, what: str = "body") -> dict[str, Any]:
    """Parse a JSON object or raise BadPayload saying where it is broken."""
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise BadPayload(f"{what} is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise BadPayload(f"{what}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # [[[[…: thousands of levels fit in a small body
        raise BadPayload(f"{what}: malformed JSON: nested too deeply") from None
    except ValueError:  # an integer of more than 4,300 digits
        raise BadPayload(f"{what}: malformed JSON: a number too long") from None
    if not isinstance(data, dict):
        raise BadPayload(f"{what} must be a JSON object")
    if _SURROGATE_ESCAPE.search(text):  # rare: only a \u escape can make a surrogate, so look closer only then
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadPayload(f"{what}: a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
    return data


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def json_answer(text: str, extra: Mapping[str, Any]) -> Ack:
    """The inline answer of our own JSON channels (webhook, console): DESIGN.md's reply shape."""
    payload = {"reply": text, "answered": bool(extra.get("answered", False)),
               "request_id": extra.get("request_id"), "matches": list(extra.get("matches", []))}
    return Ack(200, json.dumps(payload, ensure_ascii=False).encode())


def as_dict(value: Any) -> dict[str, Any]:
    """A nested JSON field that should be an object; anything else reads as empty."""
    return value if isinstance(value, dict) else {}


def skew_option(value: Any, where: str) -> float:
    """The `max_skew` key: seconds a signed timestamp may be off; 0 disables the check."""
    try:
        seconds = float(value) if not isinstance(value, bool) else -1.0  # a string may come from env:NAME
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds < 0:
        raise ConfigError(f"{where} max_skew: 应为不小于 0 的秒数（0 表示不检查时间戳），现为 {value!r}")
    return seconds


def check_fresh(timestamp: str, now: float, max_skew: float, label: str = "timestamp") -> None:
    """Refuse a replayed or badly stale request: |now - timestamp| must be within max_skew seconds."""
    try:
        moment = float(timestamp)
    except ValueError:
        raise BadSignature(f"{label} is not a number") from None
    if not math.isfinite(moment):  # nan compares false with everything: it would pass any window
        raise BadSignature(f"{label} is not a number")
    if max_skew and abs(now - moment) > max_skew:
        raise BadSignature(f"stale {label}: {abs(now - moment):.0f} s from our clock (limit {max_skew:.0f} s)")


def retry_after(headers: Mapping[str, str], default: float,
                names: tuple[str, ...] = ("Retry-After",)) -> float:
    """The server's own wait hint in seconds, else `default`."""
    for name in names:
        value = headers.get(name, "")
        try:
            if value:
                return max(float(value), 0.0)
        except ValueError:
            continue
    return default


def fit_parts(text: str, limit: int, size: Callable[[str], int]) -> list[str]:
    """split_utf8 parts whose encoded `size` (e.g. after JSON escaping) stays within `limit`."""
    budget = limit
    while True:
        parts = split_utf8(text, budget)
        if all(size(p) <= limit for p in parts) or budget < 64:
            return parts
        budget = budget * 3 // 4


# name -> "module:Class"; imported on first use so start-up loads only the adapters configured.
REGISTRY: dict[str, str] = {
    "console": "platforms.console:ConsolePlatform",
    "webhook": "platforms.webhook:WebhookPlatform",
    "wecom": "platforms.wecom:WeComPlatform",
    "dingtalk": "platforms.dingtalk:DingTalkPlatform",
    "feishu": "platforms.feishu:FeishuPlatform",
    "onebot": "platforms.onebot:OneBotPlatform",
}


def platform_class(platform: str) -> type[Platform]:
    module, _, cls = REGISTRY[platform].partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def create(bot: str, platform: str, options: Mapping[str, Any], source: str = "") -> Platform:
    """Build the adapter for one configured bot; ConfigError for an unknown platform or a missing key."""
    if platform not in REGISTRY:
        where = source or f"[bots.{bot}]"
        raise ConfigError(f"{where} platform: 未知的平台 {platform!r}（可选：{'、'.join(sorted(REGISTRY))}）")
    return platform_class(platform)(bot, options, source)
