"""A fake WeCom: the group-robot webhook and the smart-robot response_url, judging our requests as WeCom would.

The group robot checks the `key`, the body schema (text / markdown / markdown_v2), the UTF-8 byte limits of the
content (2048 / 4096 → 40058) and 20 messages a minute (45009). response_url accepts one markdown answer per
response_code. Any request's answer can be scripted (an errcode, an HTTP status, a delay first).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["FakeWeCom", "Scripted", "LIMITS"]

LIMITS = {"text": 2048, "markdown": 4096, "markdown_v2": 4096}


@dataclass
class Scripted:
    """A canned answer for the next request: an errcode in a 200, an HTTP status, headers, a delay first."""

    status: int = 200
    errcode: int = 0
    errmsg: str = "ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeWeCom:
    keys: set[str] = field(default_factory=lambda: {"KEY"})  # robots that exist
    response_codes: set[str] = field(default_factory=set)  # response_url codes not used yet
    clock: Callable[[], float] = time.time
    per_minute: int = 20
    pushes: list[dict[str, Any]] = field(default_factory=list)  # accepted group-robot bodies
    answers: list[dict[str, Any]] = field(default_factory=list)  # accepted response_url bodies
    raw: list[bytes] = field(default_factory=list)  # every body received, accepted or not
    script: deque[Scripted] = field(default_factory=deque)
    history: dict[str, list[float]] = field(default_factory=dict)

    def answer_next(self, errcode: int = 0, errmsg: str = "ok", status: int = 200, delay: float = 0.0,
                    headers: dict[str, str] | None = None) -> None:
        """Script the next request's answer, whatever it carries."""
        self.script.append(Scripted(status, errcode, errmsg, delay, headers or {}))

    def app(self) -> web.Application:
        """The web.Application to hand to pytest-aiohttp's `aiohttp_server`."""
        app = web.Application()
        app[FAKE] = self
        app.router.add_post("/cgi-bin/webhook/send", _webhook_send)
        app.router.add_post("/cgi-bin/aibot/response", _response_url)
        return app


FAKE = web.AppKey("fake_wecom", FakeWeCom)


def _answer(errcode: int, errmsg: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg}, status=status, headers=headers)


async def _scripted(fake: FakeWeCom) -> web.Response | None:
    if not fake.script:
        return None
    item = fake.script.popleft()
    if item.delay:
        await asyncio.sleep(item.delay)
    if item.status != 200:
        return web.Response(status=item.status, text="scripted failure", headers=item.headers)
    return _answer(item.errcode, item.errmsg, headers=item.headers) if item.errcode else None


async def _webhook_send(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    raw = await request.read()
    fake.raw.append(raw)
    scripted = await _scripted(fake)
    if scripted is not None:
        return scripted
    key = request.query.get("key", "")
    if key not in fake.keys:
        return _answer(93000, "invalid webhook url, hint: [fake]")
    body, refusal = _check_body(raw, allowed=("text", "markdown", "markdown_v2"))
    if refusal is not None:
        return refusal
    refusal = _check_rate(fake, key)
    if refusal is not None:
        return refusal
    fake.pushes.append(body)
    return _answer(0, "ok")


def _check_body(raw: bytes, allowed: tuple[str, ...]) -> tuple[dict[str, Any], web.Response | None]:
    """Schema and byte limits; the limit is on the decoded content's UTF-8 bytes."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}, _answer(40035, "invalid json")
    kind = body.get("msgtype") if isinstance(body, dict) else None
    if kind not in allowed:
        return {}, _answer(40008, "invalid message type")
    inner = body.get(kind)
    content = inner.get("content") if isinstance(inner, dict) else None
    if not isinstance(content, str) or not content:
        return {}, _answer(44004, "empty content")
    if len(content.encode()) > LIMITS[kind]:
        return {}, _answer(40058, f"{kind}.content exceed max length {LIMITS[kind]}")
    mentioned = inner.get("mentioned_list", [])
    if kind != "text" and "mentioned_list" in inner or not isinstance(mentioned, list):
        return {}, _answer(40035, "mentioned_list only for text, a list")
    return body, None


def _check_rate(fake: FakeWeCom, key: str) -> web.Response | None:
    now = fake.clock()
    recent = [t for t in fake.history.get(key, []) if now - t < 60]
    if len(recent) >= fake.per_minute:
        return _answer(45009, "api freq out of limit")
    fake.history[key] = recent + [now]
    return None


async def _response_url(request: web.Request) -> web.Response:
    """One use per response_code (PLATFORMS.md 1.3); the errcode for a reuse is not documented: 93000 here."""
    fake = request.app[FAKE]
    raw = await request.read()
    fake.raw.append(raw)
    scripted = await _scripted(fake)
    if scripted is not None:
        return scripted
    code = request.query.get("response_code", "")
    if code not in fake.response_codes:
        return _answer(93000, "invalid response_code (unknown or used)")
    body, refusal = _check_body(raw, allowed=("markdown",))
    if refusal is not None:
        return refusal
    fake.response_codes.discard(code)
    fake.answers.append(body)
    return _answer(0, "ok")
