"""Feishu / Lark (飞书): app-bot event subscription in, reply API and custom-bot webhook out.

Inbound: POST JSON events, optionally `{"encrypt"}` (key = SHA-256(Encrypt Key), PKCS#7 block 16) and, with an
Encrypt Key, signed in `X-Lark-Signature`; url_verification is answered with the challenge after the token check.
Answers go through `im/v1/messages/{id}/reply` with a cached tenant_access_token, at most 50/s and 1000/min per
app and 5/s per chat, as Feishu documents. Pushes go to the custom bot webhook, signed in the body (`timestamp`,
`sign`), ≤ 20 KB, 100/min and 5/s.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit


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
from platforms import (
    Ack,
    Inbound,
    Message,
    Platform,
    RawRequest,
    Target,
    as_dict,
    check_fresh,
    drop_mentions,
    fit_parts,
    json_object,
    mask,
    retry_after,
    safe_equal,
    skew_option,
    split_utf8,
)
from platforms._aes import CryptoError, FeishuCipher
from platforms.limiter import MARGIN, Limiter, acquire

__all__ = ["FeishuPlatform", "bot_sign", "event_signature", "BODY_LIMIT"]

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://open.feishu.cn"
BODY_LIMIT = 20_000  # custom-bot request body, bytes ("20 KB"; the smaller reading)
SIGN_ROOM = 100  # bytes kept free for "timestamp" and "sign" added at send time
REPLY_LIMIT = 16_000  # bytes of one reply text; the API allows far more, a chat window does not
RATE_LIMIT_CODES = {11232, 230020, 99991400}
TOKEN_INVALID_CODES = {99991661, 99991663}
_MENTION_KEY = re.compile(r"@_user_\d+|@_all")
# Windows a little longer than Feishu's, as for pushes (Limiter.per_rate): it counts arrivals, we count sends.
REPLY_APP_LIMITS = ((1 + MARGIN / 4, 50), (60 + MARGIN, 1000))  # the message APIs: 50/s and 1000/min per app
REPLY_CHAT_LIMITS = ((1 + MARGIN / 4, 5),)  # 5/s per group and per user, shared by every bot in it
_CHAT_LIMITERS = 1024  # chats remembered before quiet ones are forgotten


def bot_sign(timestamp: str, secret: str) -> str:
    """Custom-bot signature: HMAC-SHA256 keyed with "timestamp\\nsecret" over an empty message, base64."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def event_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """X-Lark-Signature: sha256 hex of timestamp + nonce + encrypt key + the raw body bytes."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


class FeishuPlatform(Platform):
    name: ClassVar[str] = "feishu"
    max_bytes: ClassVar[int] = BODY_LIMIT - 2_000
    per_minute: ClassVar[int] = 100
    per_second: ClassVar[float] = 5.0
    reply_limit_per_chat: ClassVar[bool] = True  # the reply API allows 5/s per chat
    mention_to_reply: ClassVar[bool] = True  # the app bot answers only @-mentions in a group
    code_meanings: ClassVar[Mapping[str, str]] = {
        "19021": "签名校验失败：secret 与机器人的不符，或服务器时间不准",
        "19022": "服务器 IP 不在飞书机器人的白名单中",
        "19024": "消息不含机器人设置的关键词",
        "19007": "飞书机器人未启用",
        "11232": "发送太频繁，稍后重试",
        "9499": "飞书不接受这条消息（格式有误或内容太长）",
        "10003": "app_id 或 app_secret 有误",
    }
    receive_keys: ClassVar[tuple[str, ...]] = ("verification_token", "app_id", "app_secret")
    push_keys: ClassVar[tuple[str, ...]] = ("webhook",)
    optional_keys: ClassVar[tuple[str, ...]] = ("encrypt_key", "api_base", "secret", "max_skew", "bot_open_id")
    secret_keys: ClassVar[tuple[str, ...]] = ("encrypt_key", "verification_token", "app_secret", "webhook", "secret")

    def __init__(self, bot: str, options: Mapping[str, Any], source: str = "") -> None:
        super().__init__(bot, options, source)
        where = source or f"[bots.{bot}]"
        if self.opt("encrypt_key") and not self.can_receive:
            raise ConfigError(f"{where} encrypt_key: 要接收事件，还须设置 verification_token、app_id 和 app_secret")
        webhook = str(self.opt("webhook"))
        if webhook and "/open-apis/bot/v2/hook/" not in webhook:
            raise ConfigError(f"{where} webhook: 应为自定义机器人的 Webhook 地址（…/open-apis/bot/v2/hook/…）")
        if self.opt("secret") and not webhook:
            raise ConfigError(f"{where} secret: 是自定义机器人推送的签名密钥，须同时设置 webhook")
        self.max_skew = skew_option(self.opt("max_skew", 3600), where)
        self.api_base = _api_base(str(self.opt("api_base") or DEFAULT_API_BASE), where)
        encrypt_key = str(self.opt("encrypt_key"))
        self.cipher = FeishuCipher(encrypt_key) if encrypt_key else None
        self._token = ""
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._memo: tuple[bytes, dict[str, Any]] | None = None
        self._reply_limiter = Limiter(REPLY_APP_LIMITS)
        self._chat_limiters: dict[str, Limiter] = {}

    # --- inbound -----------------------------------------------------------------
    def handshake(self, req: RawRequest) -> Ack | None:
        """url_verification carries no signature headers: the token is its only proof, so check it first.

        A signed request is an event: verify() checks its signature before anything in it is decrypted. An unsigned
        body that does not decrypt to JSON gets one answer whatever went wrong, so that nobody can use us as a
        padding oracle to read captured events."""
        self._receiving()
        if req.headers.get("x-lark-signature"):
            return None
        try:
            data = self._payload(req.body)
        except BadPayload:
            if self.cipher is None:
                raise
            raise BadPayload("unsigned request that is not a url_verification") from None
        if data.get("type") != "url_verification":
            return None
        self._check_token(data)
        challenge = data.get("challenge")
        if not isinstance(challenge, str):
            raise BadPayload("url_verification without a challenge string")
        return Ack(200, json.dumps({"challenge": challenge}).encode())

    def verify(self, req: RawRequest) -> None:
        self._receiving()
        encrypt_key = str(self.opt("encrypt_key"))
        timestamp = req.headers.get("x-lark-request-timestamp", "")
        if encrypt_key:
            signature, nonce = req.headers.get("x-lark-signature", ""), req.headers.get("x-lark-request-nonce", "")
            if not signature or not timestamp or not nonce:
                raise MissingSignature("missing X-Lark-Signature, -Request-Timestamp or -Request-Nonce")
            if not safe_equal(signature.lower(), event_signature(timestamp, nonce, encrypt_key, req.body)):
                raise BadSignature("X-Lark-Signature does not match the body")
        if timestamp:
            check_fresh(timestamp, req.now, self.max_skew, "X-Lark-Request-Timestamp")
        self._check_token(self._payload(req.body))

    def parse(self, req: RawRequest) -> list[Inbound]:
        self._receiving()
        data = self._payload(req.body)
        header = as_dict(data.get("header"))
        if header.get("event_type") != "im.message.receive_v1":
            return []
        event = as_dict(data.get("event"))
        message, sender = as_dict(event.get("message")), as_dict(event.get("sender"))
        if sender.get("sender_type", "user") != "user" or message.get("message_type") != "text":
            return []  # other bots (loops) and non-text messages
        event_id, message_id = header.get("event_id"), message.get("message_id")
        if not isinstance(event_id, str) or not event_id or not isinstance(message_id, str) or not message_id:
            raise BadPayload("im.message.receive_v1 without header.event_id or message.message_id")
        to_me, text = self._strip_mentions(_content_text(message.get("content")), message.get("mentions"))
        single = message.get("chat_type") == "p2p"
        if not single and not to_me:
            return []
        chat = str(message.get("chat_id", ""))
        return [Inbound(platform=self.name, bot=self.bot, event_id=event_id, text=text,
                        chat="" if single else chat, chat_type="single" if single else "group",
                        sender=str(as_dict(sender.get("sender_id")).get("open_id", "")),
                        handle={"message_id": message_id, "chat_id": chat})]

    def ack(self, events: list[Inbound]) -> Ack:
        """Feishu retries anything slower than 3 s, so answer at once and reply through the API."""
        return Ack(200, b'{"msg":"success"}')

    async def reply(self, http: Any, event: Inbound, text: str) -> None:
        """Reply in the thread of the message; uuid from the event makes a retried reply a no-op at Feishu."""
        message_id = str(event.handle.get("message_id", ""))
        if not message_id:
            raise PermanentError("飞书：消息没有 message_id，无法答复", code="no_message_id")
        path = f"/open-apis/im/v1/messages/{message_id}/reply"
        for i, part in enumerate(fit_parts(text, REPLY_LIMIT, _reply_size)):
            key = uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai/{self.bot}/{event.event_id}/{i}")
            body = {"msg_type": "text", "content": json.dumps({"text": part}, ensure_ascii=False), "uuid": str(key)}
            await acquire(self._reply_limiter, self._chat_limiter(event))
            await self._api(http, path, body)

    def _chat_limiter(self, event: Inbound) -> Limiter:
        """The 5/s of the chat the answer goes to (the asker's, in a single chat)."""
        key = event.chat or f"user:{event.sender}"
        limiter = self._chat_limiters.get(key)
        if limiter is None:
            if len(self._chat_limiters) >= _CHAT_LIMITERS:
                self._chat_limiters = {k: v for k, v in self._chat_limiters.items() if not v.idle()}
            limiter = self._chat_limiters[key] = Limiter(REPLY_CHAT_LIMITS)
        return limiter

    # --- outbound ----------------------------------------------------------------
    def render(self, message: Message) -> list[dict[str, Any]]:
        """`post` bodies, one paragraph per line so the body shows verbatim; each fits 20 KB once signed."""
        budget = self.max_bytes
        while True:
            parts = split_utf8(message.text(), budget)
            bodies = [_post(message.title, part, message.mention_all and i == 0) for i, part in enumerate(parts)]
            if all(_size(b) <= BODY_LIMIT - SIGN_ROOM for b in bodies) or budget < 256:
                return bodies
            budget = budget * 3 // 4

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        """Post one part to the custom bot, signing at send time so a retry carries a fresh timestamp."""
        url = str(self.opt("webhook"))
        if not url:
            raise PermanentError(f"飞书机器人 {self.bot} 没有配置 webhook，不能推送", code="no_webhook")
        signed = dict(body)
        secret = str(self.opt("secret"))
        if secret:
            timestamp = str(int(self.clock()))
            signed["timestamp"], signed["sign"] = timestamp, bot_sign(timestamp, secret)
        hook = "webhook " + mask(url.rstrip("/").rsplit("/", 1)[-1])
        status, headers, data = await self._post(http, url, signed, hook)
        self._check(status, headers, data, hook)

    # --- helpers -----------------------------------------------------------------
    def _payload(self, body: bytes) -> dict[str, Any]:
        """The event JSON, decrypted when enveloped; memoised because handshake, verify and parse all need it."""
        if self._memo is not None and self._memo[0] == body:
            return self._memo[1]
        data = json_object(body, "body")
        if "encrypt" in data:
            if self.cipher is None:
                raise BadPayload("encrypted event, but this bot has no encrypt_key")
            try:
                plain = self.cipher.decrypt(str(data["encrypt"]))
            except CryptoError as exc:
                raise CannotDecrypt(f"cannot decrypt: {exc}") from None
            data = json_object(plain, "decrypted event")
        self._memo = (body, data)
        return data

    def _receiving(self) -> None:
        if not self.can_receive:
            raise UnknownBot(f"bot {self.bot} is configured to push only (no verification_token/app_id/app_secret)")

    def _check_token(self, data: Mapping[str, Any]) -> None:
        """The verification token: in header.token (schema 2.0) or at the top level (v1, url_verification)."""
        token = as_dict(data.get("header")).get("token", data.get("token"))
        if not isinstance(token, str) or not token:
            raise MissingSignature("event without a verification token")
        if not safe_equal(token, str(self.opt("verification_token"))):
            raise BadSignature("verification token does not match")

    def _strip_mentions(self, text: str, mentions: Any) -> tuple[bool, str]:
        """Whether the bot is mentioned (without bot_open_id any mention counts as ours), and the text without
        its mentions (@_user_N keys and @_all)."""
        ours = str(self.opt("bot_open_id"))
        ids = [as_dict(as_dict(m).get("id")).get("open_id", "") for m in (mentions if isinstance(mentions, list) else [])]
        return bool(ids) and (not ours or ours in ids), drop_mentions(_MENTION_KEY.sub("", text))

    async def _api(self, http: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """An OpenAPI call with the tenant token; a token Feishu calls invalid is refreshed once."""
        for attempt in (1, 2):
            token = await self._tenant_token(http)
            status, headers, data = await self._post(http, self.api_base + path, body, path,
                                                      {"Authorization": f"Bearer {token}"})
            if attempt == 1 and data.get("code") in TOKEN_INVALID_CODES:
                if self._token == token:
                    self._token = ""
                continue
            self._check(status, headers, data, path)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    async def _tenant_token(self, http: Any) -> str:
        """tenant_access_token, cached until five minutes before it expires (Feishu's own advice)."""
        async with self._token_lock:
            if self._token and self.clock() < self._token_expires:
                return self._token
            path = "/open-apis/auth/v3/tenant_access_token/internal"
            body = {"app_id": str(self.opt("app_id")), "app_secret": str(self.opt("app_secret"))}
            status, headers, data = await self._post(http, self.api_base + path, body, path)
            self._check(status, headers, data, path)
            token, expire = data.get("tenant_access_token"), data.get("expire", 7200)
            if not isinstance(token, str) or not token or not isinstance(expire, (int, float)):
                raise TemporaryError(f"feishu {path}: answer without tenant_access_token", code="no_token")
            self._token, self._token_expires = token, self.clock() + max(expire - 300, expire / 2)
            return token

    async def _post(self, http: Any, url: str, body: dict[str, Any], what: str,
                    headers: Mapping[str, str] | None = None) -> tuple[int, Mapping[str, str], dict[str, Any]]:
        """POST and parse the JSON answer (post_json sends UTF-8, not \\u escapes that triple Chinese text)."""
        status, answer_headers, text = await self.post_json(http, url, body, what, headers)
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return status, answer_headers, parsed if isinstance(parsed, dict) else {"_not_json": True}

    def _check(self, status: int, headers: Mapping[str, str], data: Mapping[str, Any], what: str) -> None:
        try:
            _check_answer(status, headers, data)
        except (RateLimited, TemporaryError, PermanentError) as exc:
            log.warning("feishu bot=%s %s: %s", self.bot, what, exc)
            raise


def _check_answer(status: int, headers: Mapping[str, str], data: Mapping[str, Any]) -> None:
    """HTTP 200 is not success: `code` (or the legacy StatusCode) decides."""
    code = data.get("code", data.get("StatusCode"))
    msg = str(data.get("msg", data.get("StatusMessage", "")))[:120]
    if status == 429 or code in RATE_LIMIT_CODES:
        default = 60.0 if status == 429 and code is None else 5.0
        raise RateLimited(f"HTTP {status} code {code}: {msg}", retry_after=retry_after(headers, default, ("Retry-After", "x-ogw-ratelimit-reset")),
                          code=code if code is not None else status)
    if status >= 500:
        raise TemporaryError(f"HTTP {status} code {code}: {msg}", code=code if code else status)
    if code == 0 and status == 200:
        return
    if code is None:
        cls = TemporaryError if status == 200 else PermanentError
        raise cls(f"HTTP {status}: no code in the answer", code=status)
    raise PermanentError(f"HTTP {status} code {code}: {msg}", code=code if code else status)


def _post(title: str, text: str, mention_all: bool) -> dict[str, Any]:
    rows: list[list[dict[str, str]]] = [[{"tag": "text", "text": line}] for line in text.split("\n")]
    if mention_all:
        rows.insert(0, [{"tag": "at", "user_id": "all"}])
    return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": title, "content": rows}}}}


def _size(body: Mapping[str, Any]) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode())


def _reply_size(part: str) -> int:
    """The reply's `content` is JSON inside JSON: the text is escaped twice."""
    return _size({"c": json.dumps({"text": part}, ensure_ascii=False)})


def _content_text(content: Any) -> str:
    """message.content is a JSON string inside the JSON event."""
    if not isinstance(content, str):
        raise BadPayload("text message whose content has no text")
    text = json_object(content.encode(), "message.content").get("text")
    if not isinstance(text, str):
        raise BadPayload("text message whose content has no text")
    return text


def _api_base(value: str, where: str) -> str:
    """The host only: the paths are ours, so "…/open-apis" in the setting would double them."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
        raise ConfigError(f"{where} api_base: 应为主机地址，如 {DEFAULT_API_BASE}，现为 {value!r}")
    return f"{parts.scheme}://{parts.netloc}"
