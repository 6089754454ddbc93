"""A fake DingTalk: custom-robot webhooks and session webhooks that judge our requests as DingTalk would.

The custom robot checks the access_token, the 加签 timestamp (within 1 h of the fake's own, injectable clock) and
sign (the query decoded exactly once, so a raw `+` reads as a space), the keyword, the body schema and size, and
20 messages a minute per robot followed by a 10-minute lockout (130101). Replies can be scripted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

__all__ = ["FakeDingTalk", "Robot", "Scripted"]

MAX_BODY = 20000


@dataclass
class Robot:
    """One custom robot as created in a group's settings: at least one security option."""

    access_token: str
    secret: str = ""
    keywords: tuple[str, ...] = ()


@dataclass
class Scripted:
    """A canned answer for the next request: an HTTP status, an errcode, or a delay first."""

    status: int = 200
    errcode: int = 0
    errmsg: str = "ok"
    delay: float = 0.0


@dataclass
class FakeDingTalk:
    robots: dict[str, Robot] = field(default_factory=dict)
    clock: Callable[[], float] = time.time  # the platform's clock, unix seconds
    per_minute: int = 20
    sent: list[dict[str, Any]] = field(default_factory=list)  # accepted pushes: token, body, raw query
    replies: list[dict[str, Any]] = field(default_factory=list)  # bodies posted to session webhooks
    script: deque[Scripted] = field(default_factory=deque)
    history: dict[str, list[float]] = field(default_factory=dict)
    locked_until: dict[str, float] = field(default_factory=dict)

    def add_robot(self, robot: Robot) -> Robot:
        self.robots[robot.access_token] = robot
        return robot

    def answer_next(self, status: int = 200, errcode: int = 0, errmsg: str = "ok", delay: float = 0.0) -> None:
        """Script the next request's answer, whatever it carries."""
        self.script.append(Scripted(status, errcode, errmsg, delay))

    def app(self) -> web.Application:
        """The web.Application to hand to pytest-aiohttp's `aiohttp_server`."""
        app = web.Application()
        app[FAKE] = self
        app.router.add_post("/robot/send", _robot_send)
        app.router.add_post("/robot/sendBySession", _session_send)
        return app


FAKE = web.AppKey("fake_dingtalk", FakeDingTalk)


def _answer(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


async def _scripted(fake: FakeDingTalk) -> web.Response | None:
    if not fake.script:
        return None
    item = fake.script.popleft()
    if item.delay:
        await asyncio.sleep(item.delay)
    if item.status != 200:
        return web.Response(status=item.status, text="scripted failure")
    return _answer(item.errcode, item.errmsg) if item.errcode else None


async def _robot_send(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    scripted = await _scripted(fake)
    if scripted is not None:
        return scripted
    query = dict(parse_qsl(request.url.raw_query_string))  # decoded once, `+` -> space, like a servlet
    robot = fake.robots.get(query.get("access_token", ""))
    if robot is None:
        return _answer(300001, "token is not exist")
    raw = await request.read()
    refusal = _check_sign(fake, robot, query) or _check_body(robot, raw) or _check_rate(fake, robot)
    if refusal is not None:
        return refusal
    fake.sent.append({"token": robot.access_token, "body": json.loads(raw), "query": request.url.raw_query_string})
    return _answer(0, "ok")


def _check_sign(fake: FakeDingTalk, robot: Robot, query: dict[str, str]) -> web.Response | None:
    if not robot.secret:
        return None
    stamp, given = query.get("timestamp", ""), query.get("sign", "")
    if not stamp.isdigit() or abs(fake.clock() * 1000 - int(stamp)) > 3600 * 1000:
        return _answer(310000, "invalid timestamp")
    msg = f"{stamp}\n{robot.secret}".encode()
    expected = base64.b64encode(hmac.new(robot.secret.encode(), msg, hashlib.sha256).digest()).decode()
    return None if hmac.compare_digest(given, expected) else _answer(310000, "sign not match")


def _check_body(robot: Robot | None, raw: bytes) -> web.Response | None:
    if len(raw) > MAX_BODY:
        return _answer(460101, "message too long, exceed 20000 bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        return _answer(40035, "缺少参数 json")
    content = _content(body)
    if content is None:
        return _answer(40035, "缺少参数 json")
    if robot and robot.keywords and not any(k in content for k in robot.keywords):
        return _answer(310000, "keywords not in content")
    return None


def _content(body: Any) -> str | None:
    """The checked text of a text or markdown message, None when the schema is wrong."""
    if not isinstance(body, dict):
        return None
    kind, inner = body.get("msgtype"), body.get(str(body.get("msgtype")))
    if kind not in ("text", "markdown") or not isinstance(inner, dict):
        return None
    if kind == "text":
        return inner["content"] if isinstance(inner.get("content"), str) and inner["content"] else None
    if not (isinstance(inner.get("title"), str) and inner["title"] and isinstance(inner.get("text"), str)):
        return None
    return str(inner["text"])


def _check_rate(fake: FakeDingTalk, robot: Robot) -> web.Response | None:
    now = fake.clock()
    token = robot.access_token
    if fake.locked_until.get(token, 0) > now:
        return _answer(130101, "send too fast, exceed 20 times per minute")
    recent = [t for t in fake.history.get(token, []) if now - t < 60]
    if len(recent) >= fake.per_minute:
        fake.locked_until[token] = now + 600
        return _answer(130101, "send too fast, exceed 20 times per minute")
    fake.history[token] = recent + [now]
    return None


async def _session_send(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    scripted = await _scripted(fake)
    if scripted is not None:
        return scripted
    if not request.query.get("session"):
        return _answer(300001, "session is not exist")
    raw = await request.read()
    refusal = _check_body(None, raw)
    if refusal is not None:
        return refusal
    fake.replies.append({"session": request.query["session"], "body": json.loads(raw)})
    return _answer(0, "ok")
