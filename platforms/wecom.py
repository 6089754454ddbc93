"""WeCom (企业微信): smart-robot (智能机器人) API-mode callback in, group-robot webhook out.

Inbound: GET ?msg_signature&timestamp&nonce&echostr is the URL check (answer the decrypted plaintext);
POST {"encrypt"} carries one JSON message, receiveid "" (WXBizMsgCrypt, PKCS#7 block 32). We answer inline
with an encrypted `stream` reply (finish=true) or later through the one-use `response_url`.
Outbound: POST {webhook} (the key= in it is the credential) with markdown, ≤4096 bytes, 20 messages/min.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit


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
)
from platforms._aes import CryptoError, WeComCrypto

__all__ = ["WeComPlatform", "MARKDOWN_LIMIT", "TEXT_LIMIT", "STREAM_LIMIT"]

log = logging.getLogger(__name__)

MARKDOWN_LIMIT = 4096  # bytes of markdown.content (40058 beyond)
TEXT_LIMIT = 2048  # bytes of text.content
STREAM_LIMIT = 20480  # bytes of stream.content in a passive reply
RATE_LIMIT_CODES = {45009}
BUSY_CODES = {-1}  # "system busy": worth a retry


class WeComPlatform(Platform):
    name: ClassVar[str] = "wecom"
    inline_reply: ClassVar[bool] = True
    max_bytes: ClassVar[int] = MARKDOWN_LIMIT
    per_minute: ClassVar[int] = 20
    mention_to_reply: ClassVar[bool] = True  # the smart robot gets a group message only when @-mentioned
    code_meanings: ClassVar[Mapping[str, str]] = {
        "45009": "发送太频繁（每个机器人每分钟最多 20 条），稍后重试",
        "93000": "推送地址无效：机器人已被移出群，或 webhook 的 key 填错",
        "93004": "群机器人已被停用",
        "93008": "群机器人不在该群中",
        "40058": "消息超过企业微信的长度上限",
    }
    receive_keys: ClassVar[tuple[str, ...]] = ("token", "aes_key")
    push_keys: ClassVar[tuple[str, ...]] = ("webhook",)
    optional_keys: ClassVar[tuple[str, ...]] = ("max_skew",)  # webhook and response_url are whole URLs
    secret_keys: ClassVar[tuple[str, ...]] = ("token", "aes_key", "webhook")

    def __init__(self, bot: str, options: Mapping[str, Any], source: str = "") -> None:
        super().__init__(bot, options, source)
        where = source or f"[bots.{bot}]"
        self.max_skew = skew_option(self.opt("max_skew", 3600), where)
        if self.opt("webhook") and not _key_of(str(self.opt("webhook"))):
            raise ConfigError(f"{where} webhook: 应为群机器人的推送地址（带 ?key=...）")
        self.crypto: WeComCrypto | None = None
        if self.can_receive:
            try:
                self.crypto = WeComCrypto(str(self.opt("token")), str(self.opt("aes_key")), receiveid="")
            except CryptoError:
                key = str(self.opt("aes_key"))
                detail = f"现为 {len(key)} 位" if len(key) != 43 else "不是有效的 base64"
                raise ConfigError(f"{where} aes_key: 应为企业微信后台生成的 43 位 EncodingAESKey（{detail}）") from None

    # --- inbound -----------------------------------------------------------------
    def handshake(self, req: RawRequest) -> Ack | None:
        """The URL check: prove we hold the key by returning the decrypted echostr, nothing else."""
        if req.method.upper() != "GET":
            return None
        crypto = self._crypto()
        # yarl reads an unescaped '+' as a space; base64 never contains spaces.
        echostr = req.query.get("echostr", "").replace(" ", "+")
        if not echostr:
            raise BadPayload("URL check without echostr")
        self._authenticate(req, echostr)
        return Ack(200, _decrypt(crypto, echostr), "text/plain")

    def verify(self, req: RawRequest) -> None:
        self._authenticate(req, _encrypt_field(req.body))

    def parse(self, req: RawRequest) -> list[Inbound]:
        data = json_object(_decrypt(self._crypto(), _encrypt_field(req.body)), "decrypted message")
        if data.get("msgtype") not in ("text", "mixed"):
            return []  # images, files, stream refreshes and enter-chat events carry no question for us
        msgid, content = data.get("msgid"), _content(data)
        if not isinstance(msgid, str) or not msgid or not isinstance(content, str):
            raise BadPayload("text message without msgid or text.content")
        group = data.get("chattype") == "group"
        text = drop_mentions(content) if group else content
        handle = {"response_url": str(data.get("response_url", "")), "aibotid": str(data.get("aibotid", ""))}
        return [Inbound(platform=self.name, bot=self.bot, event_id=msgid, text=text.strip(),
                        chat=str(data.get("chatid", "")) if group else "",
                        chat_type="group" if group else "single",
                        sender=str(as_dict(data.get("from")).get("userid", "")), handle=handle)]

    def ack(self, events: list[Inbound]) -> Ack:
        """An empty 200: WeCom then expects the answer through response_url, if at all."""
        return Ack(200, b"", "text/plain")

    def inline(self, event: Inbound, text: str, extra: Mapping[str, Any]) -> Ack:
        """The passive reply: an encrypted, already finished stream, so WeCom does not poll for more."""
        crypto = self._crypto()
        stream_id = hashlib.sha256(f"{self.bot}/{event.event_id}".encode()).hexdigest()[:32]
        plain = {"msgtype": "stream",
                 "stream": {"id": stream_id, "finish": True, "content": _truncate(text, STREAM_LIMIT)}}
        encrypt = crypto.encrypt(json.dumps(plain, ensure_ascii=False))
        timestamp, nonce = str(int(self.clock())), crypto.random_bytes(8).hex()
        body = {"encrypt": encrypt, "msgsignature": crypto.signature(timestamp, nonce, encrypt),
                "timestamp": timestamp, "nonce": nonce}
        return Ack(200, json.dumps(body).encode())

    async def reply(self, http: Any, event: Inbound, text: str) -> None:
        """A later answer through response_url (one use, 1 h), for when the inline reply was not given."""
        url = str(event.handle.get("response_url", ""))
        if not url:
            raise PermanentError("企业微信：消息没有 response_url，无法答复", code="no_response_url")
        body = {"msgtype": "markdown", "markdown": {"content": _truncate(text, MARKDOWN_LIMIT)}}
        await self._post(http, url, body, "response_url")

    # --- outbound ----------------------------------------------------------------
    def render(self, message: Message) -> list[dict[str, Any]]:
        """Markdown parts; @all needs the text type (markdown cannot mention), so it is sent as text."""
        text = f"**{message.title}**\n\n{message.text(markdown=True)}" if message.title else message.text(markdown=True)
        if not message.mention_all:
            return [{"msgtype": "markdown", "markdown": {"content": part}} for part in fit_parts(text, MARKDOWN_LIMIT, _escaped_size)]
        text = f"{message.title}\n\n{message.text()}" if message.title else message.text()
        bodies: list[dict[str, Any]] = []
        for i, part in enumerate(fit_parts(text, TEXT_LIMIT, _escaped_size)):
            content: dict[str, Any] = {"content": part}
            if i == 0:
                content["mentioned_list"] = ["@all"]
            bodies.append({"msgtype": "text", "text": content})
        return bodies

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        """Post one part to the group robot; a robot belongs to one chat, so target.chat is not used."""
        url = str(self.opt("webhook"))
        if not url:
            raise PermanentError(f"企业微信机器人 {self.bot} 没有配置 webhook，不能推送", code="no_webhook")
        await self._post(http, url, body, "webhook key=" + mask(_key_of(url)))

    # --- helpers -----------------------------------------------------------------
    def _crypto(self) -> WeComCrypto:
        if self.crypto is None:
            raise UnknownBot(f"bot {self.bot} is configured to push only (no token/aes_key)")
        return self.crypto

    def _authenticate(self, req: RawRequest, encrypt: str) -> None:
        """msg_signature covers token, timestamp, nonce and the ciphertext; then the timestamp must be fresh."""
        crypto = self._crypto()
        signature, timestamp, nonce = (req.query.get(k, "") for k in ("msg_signature", "timestamp", "nonce"))
        if not signature or not timestamp or not nonce:
            raise MissingSignature("missing msg_signature, timestamp or nonce")
        if not safe_equal(signature.lower(), crypto.signature(timestamp, nonce, encrypt)):
            raise BadSignature("msg_signature does not match")
        check_fresh(timestamp, req.now, self.max_skew)

    async def _post(self, http: Any, url: str, body: dict[str, Any], what: str) -> None:
        status, headers, text = await self.post_json(http, url, body, what)
        try:
            _check_answer(status, headers, text)
        except (RateLimited, TemporaryError, PermanentError) as exc:
            log.warning("wecom bot=%s %s: %s", self.bot, what, exc)
            raise


def _check_answer(status: int, headers: Mapping[str, str], text: str) -> None:
    """HTTP 200 is not success: the errcode in the body decides."""
    if status == 429:
        raise RateLimited("HTTP 429", retry_after=retry_after(headers, 60.0), code=429)
    if status >= 500:
        raise TemporaryError(f"HTTP {status}", code=status)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise (TemporaryError if status == 200 else PermanentError)(f"HTTP {status}, not a JSON answer", code=status)
    code = data.get("errcode", 0 if status == 200 else status)
    errmsg = str(data.get("errmsg", "")).split(", hint")[0][:120]
    if code == 0:
        return
    if code in RATE_LIMIT_CODES:
        raise RateLimited(f"errcode {code}: {errmsg}", retry_after=retry_after(headers, 60.0), code=code)
    if code in BUSY_CODES:
        raise TemporaryError(f"errcode {code}: {errmsg}", code=code)
    raise PermanentError(f"errcode {code}: {errmsg}", code=code)


@functools.lru_cache(maxsize=2)  # verify and parse read it from one body, one after the other
def _encrypt_field(body: bytes) -> str:
    encrypt = json_object(body, "body").get("encrypt")
    if not isinstance(encrypt, str) or not encrypt:
        raise BadPayload("body has no 'encrypt' string")
    return encrypt


def _content(data: Mapping[str, Any]) -> Any:
    """text.content, or for a mixed message (a question sent with a screenshot) its text items joined."""
    if data.get("msgtype") == "text":
        return as_dict(data.get("text")).get("content")
    items = as_dict(data.get("mixed")).get("msg_item")
    texts = (as_dict(as_dict(item).get("text")).get("content") for item in (items if isinstance(items, list) else [])
             if as_dict(item).get("msgtype") == "text")
    return "\n".join(text for text in texts if isinstance(text, str))


def _decrypt(crypto: WeComCrypto, encrypt: str) -> bytes:
    try:
        return crypto.decrypt(encrypt)
    except CryptoError as exc:
        raise CannotDecrypt(f"cannot decrypt: {exc}") from None


def _key_of(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("key", [""])[0]


def _escaped_size(text: str) -> int:
    """Bytes of the string once JSON-escaped, the stricter of the two ways a limit could be counted."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def _truncate(text: str, limit: int) -> str:
    """One-shot answers (response_url, stream) cannot be split: cut at a character boundary and say so."""
    if len(text) * 6 <= limit or _escaped_size(text) <= limit:  # no character escapes to more than 6 bytes
        return text
    out = text
    while _escaped_size(out) > limit - 3:
        out = out[: max(len(out) - max((_escaped_size(out) - limit) // 3, 1), 0)]
    return out + "…"
