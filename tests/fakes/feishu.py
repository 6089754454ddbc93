"""A fake Feishu: custom-bot webhooks, tenant_access_token and the message reply API, judging us as Feishu would.

The custom bot checks the hook token, the body size (≤ 20 KB → 9499), the body-level `timestamp` / `sign` with the
documented algorithm (its own code, not ours; 1 h window on the fake's injectable clock → 19021), keywords in text
and titles (19024), the message schema (9499) and 100/min + 5/s (11232). The reply API wants a live Bearer tenant
token (99991661 / 99991663), dedupes on `uuid` and holds the app to 50/s and 1000/min (99991400) and each chat to
5/s (230020), on the real clock (the message's chat from `message_chats`). Answers per endpoint can be scripted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["FakeFeishu", "HookBot", "Scripted", "MAX_BODY"]

MAX_BODY = 20_000
_ids = itertools.count(1)


@dataclass
class HookBot:
    """One custom bot as added to a group: any of keywords, signature (secret)."""

    token: str
    secret: str = ""
    keywords: tuple[str, ...] = ()


@dataclass
class Scripted:
    status: int = 200
    code: int = 0
    msg: str = "success"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeFeishu:
    hooks: dict[str, HookBot] = field(default_factory=dict)
    app_id: str = "cli_a"
    app_secret: str = "appSecret"
    clock: Callable[[], float] = time.time
    token_ttl: int = 7200
    tokens: dict[str, float] = field(default_factory=dict)  # live tenant tokens -> expiry on the fake clock
    token_calls: int = 0
    pushes: list[dict[str, Any]] = field(default_factory=list)  # accepted custom-bot bodies
    replies: list[dict[str, Any]] = field(default_factory=list)  # {"message_id", "body", "text", "at"}
    uuids: dict[str, str] = field(default_factory=dict)
    script: dict[str, deque[Scripted]] = field(default_factory=lambda: defaultdict(deque))
    history: dict[str, list[float]] = field(default_factory=dict)
    message_chats: dict[str, str] = field(default_factory=dict)  # message_id -> chat_id, for the per-chat limit
    reply_times: dict[str, list[float]] = field(default_factory=dict)  # "app" / chat -> accepted replies (monotonic)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    async def wait_replies(self, count: int, timeout: float = 5.0) -> None:
        """Wait (no polling) until `count` replies arrived: replies are sent by a background worker."""
        async with asyncio.timeout(timeout):
            while len(self.replies) < count:
                waiter = asyncio.get_running_loop().create_future()
                self.waiters.append(waiter)
                await waiter

    def add_hook(self, hook: HookBot) -> HookBot:
        self.hooks[hook.token] = hook
        return hook

    def answer_next(self, endpoint: str = "hook", code: int = 0, msg: str = "scripted", status: int = 200,
                    delay: float = 0.0, headers: dict[str, str] | None = None) -> None:
        """Script the next answer of one endpoint: "hook", "token" or "reply"."""
        self.script[endpoint].append(Scripted(status, code, msg, delay, headers or {}))

    def revoke_tokens(self) -> None:
        """Every tenant token Feishu handed out stops working (rotated, app secret reset ...)."""
        self.tokens.clear()

    def app(self) -> web.Application:
        app = web.Application()
        app[FAKE] = self
        app.router.add_post("/open-apis/bot/v2/hook/{token}", _hook)
        app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", _token)
        app.router.add_post("/open-apis/im/v1/messages/{message_id}/reply", _reply)
        return app


FAKE = web.AppKey("fake_feishu", FakeFeishu)


def _answer(code: int, msg: str, status: int = 200, headers: dict[str, str] | None = None,
            **extra: Any) -> web.Response:
    return web.json_response({"code": code, "msg": msg, **extra}, status=status, headers=headers)


async def _scripted(fake: FakeFeishu, endpoint: str) -> web.Response | None:
    queue = fake.script[endpoint]
    if not queue:
        return None
    item = queue.popleft()
    if item.delay:
        await asyncio.sleep(item.delay)
    if item.status != 200 and not item.code:
        return web.Response(status=item.status, text="scripted failure", headers=item.headers)
    return _answer(item.code, item.msg, item.status, item.headers) if item.code else None


async def _hook(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    scripted = await _scripted(fake, "hook")
    if scripted is not None:
        return scripted
    raw = await request.read()
    hook = fake.hooks.get(request.match_info["token"])
    if hook is None:
        return _answer(19001, "param invalid: incoming webhook access token invalid")
    if len(raw) > MAX_BODY:
        return _answer(9499, "Bad Request")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _answer(9499, "Bad Request")
    refusal = _check_sign(fake, hook, body) or _check_message(hook, body) or _check_rate(fake, hook.token)
    if refusal is not None:
        return refusal
    fake.pushes.append(body)
    return web.json_response({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})


def _check_sign(fake: FakeFeishu, hook: HookBot, body: Any) -> web.Response | None:
    if not hook.secret:
        return None
    stamp, given = str(body.get("timestamp", "")), str(body.get("sign", ""))
    fail = _answer(19021, "sign match fail or timestamp is not within one hour from current time")
    if not stamp.isdigit() or abs(fake.clock() - int(stamp)) > 3600:
        return fail
    key = f"{stamp}\n{hook.secret}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    return None if hmac.compare_digest(given, expected) else fail


def _check_message(hook: HookBot, body: Any) -> web.Response | None:
    words = _checked_words(body)
    if words is None:
        return _answer(9499, "Bad Request")
    if hook.keywords and not any(k in words for k in hook.keywords):
        return _answer(19024, "Key Words Not Found")
    return None


def _checked_words(body: Any) -> str | None:
    """The text and titles Feishu checks keywords against; None when the schema is wrong."""
    kind = body.get("msg_type") if isinstance(body, dict) else None
    content = body.get("content") if isinstance(body, dict) else None
    if kind == "text" and isinstance(content, dict) and isinstance(content.get("text"), str) and content["text"]:
        return str(content["text"])
    if kind == "interactive" and isinstance(body.get("card"), dict):
        return json.dumps(body["card"], ensure_ascii=False)
    post = content.get("post") if kind == "post" and isinstance(content, dict) else None
    if not isinstance(post, dict) or not post:
        return None
    words: list[str] = []
    for lang in post.values():
        rows = lang.get("content") if isinstance(lang, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            return None
        words.append(str(lang.get("title", "")))
        for element in itertools.chain.from_iterable(rows):
            if not isinstance(element, dict) or element.get("tag") not in ("text", "a", "at", "img"):
                return None
            words.append(str(element.get("text", "")) if element["tag"] == "text" else "")
    return "\n".join(words)


def _check_rate(fake: FakeFeishu, token: str) -> web.Response | None:
    now = fake.clock()
    recent = [t for t in fake.history.get(token, []) if now - t < 60]
    if len(recent) >= 100 or sum(1 for t in recent if now - t < 1) >= 5:
        return _answer(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]")
    fake.history[token] = recent + [now]
    return None


async def _token(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    fake.token_calls += 1
    scripted = await _scripted(fake, "token")
    if scripted is not None:
        return scripted
    try:
        body = json.loads(await request.read())
    except ValueError:
        return _answer(9499, "Bad Request", status=400)
    if body.get("app_id") != fake.app_id or body.get("app_secret") != fake.app_secret:
        return _answer(10014, "app secret invalid", status=400)
    token = f"t-{next(_ids)}"
    fake.tokens[token] = fake.clock() + fake.token_ttl
    return _answer(0, "ok", tenant_access_token=token, expire=fake.token_ttl)


async def _reply(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:]:
        return _answer(99991661, "Missing access token for authorization.", status=400)
    if fake.tokens.get(auth[7:], 0) <= fake.clock():
        return _answer(99991663, "Invalid access token for authorization.", status=400)
    scripted = await _scripted(fake, "reply")
    if scripted is not None:
        return scripted
    try:
        body = json.loads(await request.read())
    except ValueError:
        body = None
    text, uid = _reply_text(body), body.get("uuid", "") if isinstance(body, dict) else ""
    if text is None or not isinstance(uid, str) or len(uid) > 50:
        return _answer(230001, "Your request contains an invalid request parameter.", status=400)
    if uid and uid in fake.uuids:
        return _answer(0, "success", data={"message_id": fake.uuids[uid]})
    refusal = _check_reply_rate(fake, fake.message_chats.get(request.match_info["message_id"], "oc_unknown"))
    if refusal is not None:
        return refusal
    reply_id = f"om_reply_{next(_ids)}"
    if uid:
        fake.uuids[uid] = reply_id
    fake.replies.append({"message_id": request.match_info["message_id"], "body": body, "text": text,
                         "at": time.monotonic()})
    for waiter in fake.waiters:
        if not waiter.done():
            waiter.set_result(None)
    fake.waiters.clear()
    return _answer(0, "success", data={"message_id": reply_id})


def _check_reply_rate(fake: FakeFeishu, chat: str) -> web.Response | None:
    now = time.monotonic()
    app = [t for t in fake.reply_times.get("app", []) if now - t < 60]
    in_chat = [t for t in fake.reply_times.get(chat, []) if now - t < 1]
    if len(app) >= 1000 or sum(1 for t in app if now - t < 1) >= 50:
        return _answer(99991400, "request trigger frequency limit")
    if len(in_chat) >= 5:
        return _answer(230020, "This operation triggers the frequency limit.")
    fake.reply_times["app"], fake.reply_times[chat] = app + [now], in_chat + [now]
    return None


def _reply_text(body: Any) -> str | None:
    """A text reply's text: `content` is a JSON string inside the JSON body."""
    if not isinstance(body, dict) or body.get("msg_type") != "text" or not isinstance(body.get("content"), str):
        return None
    try:
        text = json.loads(body["content"]).get("text")
    except (ValueError, AttributeError):
        return None
    return text if isinstance(text, str) and text else None
