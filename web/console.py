"""The terminal side of the console channel: questions typed on stdin are answered on stdout."""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from platforms import Inbound
from web.hooks import GATEWAY

__all__ = ["attach_console"]

PROMPT = "请输入问题（Ctrl-D 退出输入）> "


def attach_console(app: web.Application) -> None:
    """Read stdin only when a person is at a terminal; a service run has no console."""
    if not sys.stdin.isatty():
        return
    if hasattr(sys.stdin, "reconfigure"):  # a terminal in another encoding must not end the console
        sys.stdin.reconfigure(errors="replace")

    async def console(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.ensure_future(_loop(app))
        yield
        task.cancel()

    app.cleanup_ctx.append(console)


async def _loop(app: web.Application) -> None:
    gateway = app[GATEWAY]
    bot = next((p for p in gateway.platforms.values() if p.name == "console"), None)
    if bot is None:
        return
    lines = _stdin_lines(asyncio.get_running_loop())
    while True:
        print(PROMPT, end="", flush=True)
        line = await lines.get()
        if line is None:
            return
        if not line.strip():
            continue
        event = Inbound(platform="console", bot=bot.bot, event_id=uuid.uuid4().hex, text=line.strip(),
                        chat="console", sender="console")
        reply, _ = await gateway.handle(event)
        print(reply.text + "\n", flush=True)


def _stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines typed, read on a daemon thread of our own (None at the end). The loop's executor would do, but a
    shutdown waits for its threads, and one blocked reading the terminal held SIGTERM until Enter was pressed."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in iter(sys.stdin.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except RuntimeError:  # the loop has closed: nobody is reading any more
            pass

    threading.Thread(target=read, name="gongkai-console", daemon=True).start()
    return lines
