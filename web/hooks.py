"""The one inbound route, /hooks/{platform}/{bot}, and the mapping of errors to HTTP statuses."""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from errors import InboundError, UnknownBot
from platforms import Ack, RawRequest
from web.runtime import Gateway

__all__ = ["routes", "GATEWAY", "json_error", "error_middleware"]

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
GATEWAY = web.AppKey("gateway", Gateway)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # Chinese as itself, not \u escapes


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, dumps=_dumps)


@web.middleware
async def error_middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Every refusal is JSON, including aiohttp's own (413 body too large, 404, 405)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = "请求体过大 (body too large)" if exc.status == 413 else exc.reason
        if exc.status == 413:
            log.warning("拒绝 %s %s：413 请求体超过 [web] max_body", request.method, request.path)
        return json_error(exc.status, reason)
    except Exception:  # a bug: the platform gets a plain 500 (it retries), the log gets the traceback
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "内部错误 (internal error)")


def _response(ack: Ack) -> web.Response:
    return web.Response(status=ack.status, body=ack.body, content_type=ack.content_type)


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    items = len(gateway.ctx.knowledge) if gateway.ctx else 0
    # Answers still to post, per bot: a number that keeps growing means a platform is refusing or hanging.
    pending = {bot: n for bot, n in gateway.answers_pending.items() if n}
    return web.json_response({"status": "ok", "catalog_items": items, "answers_pending": pending}, dumps=_dumps)


@routes.route("*", "/hooks/{platform}/{bot}")
async def hook(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    platform = gateway.platforms.get(request.match_info["bot"])
    if platform is None or platform.name != request.match_info["platform"] or not platform.can_receive:
        log.warning("拒绝 %s：404 %s", request.path, UnknownBot.hint)  # the admin's first sign of a wrong URL
        return json_error(404, f"未知的机器人: {request.match_info['platform']}/{request.match_info['bot']}")
    if request.method not in ("GET", "POST"):
        log.warning("拒绝 %s %s：405 只接受 GET 或 POST", request.method, request.path)
        return json_error(405, "只接受 GET 或 POST")
    try:
        body = await request.read()
    except RequestPayloadError as exc:  # e.g. Content-Encoding: gzip over a body that is not gzip
        log.warning("拒绝 %s/%s：400 请求体无法读取（%s）", platform.name, platform.bot, exc)
        refused = json_error(400, f"请求体无法读取 (unreadable body: {exc})")
        refused.force_close()  # the rest of the body cannot be read past: do not drain it to reuse the connection
        return refused
    # aiohttp's headers are already case-insensitive: adapters ask for lower-case names, as RawRequest says.
    raw = RawRequest(method=request.method, query=request.query, headers=request.headers, body=body, now=time.time())
    try:
        handshake = platform.handshake(raw)
        if handshake is not None:
            return _response(handshake)
        platform.verify(raw)
        events = platform.parse(raw)
    except InboundError as exc:
        log.warning("拒绝 %s/%s：%s %s（%s）", platform.name, platform.bot, exc.status, exc.hint, exc)
        return json_error(exc.status, str(exc))
    if not events:
        return _response(platform.ack([]))
    if platform.inline_reply:
        reply, duplicate = await gateway.handle(events[0])
        if duplicate:
            return _response(platform.duplicate(events[0], reply.as_dict()))
        return _response(platform.inline(events[0], reply.text, reply.as_dict()))
    for event in events:
        reply, duplicate = await gateway.handle(event, deferred=True)
        if not duplicate:
            gateway.reply_later(platform, event, reply.text)
    return _response(platform.ack(events))
