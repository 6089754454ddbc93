"""A fake OneBot v11 HTTP API (go-cqhttp style) that judges our requests as an implementation would.

401 without a token, 403 with a wrong one, 406 for a non-JSON Content-Type, 400 for an unreadable body, 404 for
an unknown action, retcode 100 for missing parameters; accepted messages are recorded. Answers can be scripted.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["FakeOneBot", "Scripted"]

ACTIONS = ("send_group_msg", "send_msg", "send_private_msg")


@dataclass
class Scripted:
    """A canned answer for the next authorised request: an HTTP status, a failed retcode, or a delay first."""

    status: int = 200
    retcode: int = 0
    delay: float = 0.0
    answer: str = ""  # "async" to answer status async / retcode 1


@dataclass
class FakeOneBot:
    access_token: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)  # {"action", "body", "auth"}
    script: deque[Scripted] = field(default_factory=deque)
    next_id: int = 1000

    def answer_next(self, status: int = 200, retcode: int = 0, delay: float = 0.0, answer: str = "") -> None:
        self.script.append(Scripted(status, retcode, delay, answer))

    def app(self) -> web.Application:
        """The web.Application to hand to pytest-aiohttp's `aiohttp_server`."""
        app = web.Application()
        app[FAKE] = self
        app.router.add_post("/{action}", _action)
        return app


FAKE = web.AppKey("fake_onebot", FakeOneBot)


def _failed(retcode: int, wording: str) -> web.Response:
    return web.json_response({"status": "failed", "retcode": retcode, "data": None, "wording": wording})


def _auth(fake: FakeOneBot, request: web.Request) -> web.Response | None:
    if not fake.access_token:
        return None
    header = request.headers.get("Authorization", "")
    given = header[7:] if header.startswith("Bearer ") else request.query.get("access_token", "")
    if not given:
        return web.Response(status=401)
    return None if given == fake.access_token else web.Response(status=403)


async def _scripted(fake: FakeOneBot) -> web.Response | None:
    if not fake.script:
        return None
    item = fake.script.popleft()
    if item.delay:
        await asyncio.sleep(item.delay)
    if item.status != 200:
        return web.Response(status=item.status, text="scripted failure")
    if item.retcode:
        return _failed(item.retcode, "scripted failure")
    if item.answer == "async":
        return web.json_response({"status": "async", "retcode": 1, "data": None})
    return None


async def _action(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    refusal = _auth(fake, request)
    if refusal is not None:
        return refusal
    if request.content_type != "application/json":
        return web.Response(status=406)
    try:
        body = json.loads(await request.read())
    except ValueError:
        return web.Response(status=400)
    if not isinstance(body, dict):
        return web.Response(status=400)
    action = request.match_info["action"]
    if action not in ACTIONS:
        return web.Response(status=404)
    scripted = await _scripted(fake)
    if scripted is not None:
        return scripted
    if not _valid(action, body):
        return _failed(100, "missing or invalid parameters")
    fake.next_id += 1
    fake.sent.append({"action": action, "body": body, "auth": request.headers.get("Authorization", "")})
    return web.json_response({"status": "ok", "retcode": 0, "data": {"message_id": fake.next_id}})


def _valid(action: str, body: dict[str, Any]) -> bool:
    kind = body.get("message_type") if action == "send_msg" else ("group" if action == "send_group_msg" else "private")
    key = "group_id" if kind == "group" else "user_id"
    if not isinstance(body.get(key), int) or isinstance(body.get(key), bool):
        return False
    message = body.get("message")
    if isinstance(message, str):
        return bool(message)
    return isinstance(message, list) and bool(message) and all(
        isinstance(s, dict) and isinstance(s.get("type"), str) and isinstance(s.get("data"), dict) for s in message
    )
