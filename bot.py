"""gongkai: the group-chat gateway of a district food and drug regulator.

    python bot.py [--config PATH] [--db PATH] [COMMAND ...]

With no command, runs the gateway (`run`). Every command that reads or writes data accepts --json.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from aiohttp import web

import clock
from config import Settings, load_settings
from errors import ConfigError, GongkaiError

__all__ = ["create_app", "main"]

log = logging.getLogger("gongkai")


def create_app(settings: Settings) -> web.Application:
    """The aiohttp application: inbound hooks, health, and the gateway's parts in its cleanup context."""
    from web.hooks import GATEWAY, error_middleware, routes
    from web.runtime import Gateway

    app = web.Application(client_max_size=settings.web.max_body, middlewares=[error_middleware])
    gateway = Gateway(settings)  # builds the adapters now: a bad [[bots]] entry fails here, before serving
    app[GATEWAY] = gateway

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.stop()

    app.cleanup_ctx.append(lifecycle)
    app.add_routes(routes)
    return app


def _parser() -> argparse.ArgumentParser:
    from cli import ask, calendar, catalog, digest, enquiries, groups, notice, report, requests
    from cli.parser import Parser

    parser = Parser(prog="bot.py", description="gongkai 政务公开群聊网关")
    parser.add_argument("--config", help="TOML 配置文件（默认用内置配置；或环境变量 GONGKAI_CONFIG）")
    parser.add_argument("--db", help="SQLite 数据库文件（或环境变量 GONGKAI_DB）")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="命令")
    run = sub.add_parser("run", help="运行网关 (run the gateway)")
    run.add_argument("--host", help="监听地址（默认取配置文件）")
    run.add_argument("--port", type=_port, help="监听端口（默认取配置文件）")
    for module in (ask, catalog, requests, digest, enquiries, groups, notice, calendar, report):
        module.register(sub)
    return parser


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"端口应为 0–65535 的整数：{text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, db=args.db)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.command in (None, "run"):
        return _run(settings, getattr(args, "host", None), getattr(args, "port", None))
    from cli import CliContext

    ctx = CliContext(settings, json=bool(getattr(args, "json", False)))
    try:
        return int(args.func(args, ctx) or 0)
    except GongkaiError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    finally:
        ctx.close()


def _run(settings: Settings, host: str | None, port: int | None) -> int:
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    formatter.converter = lambda seconds: datetime.fromtimestamp(seconds, clock.TZ).timetuple()  # Shanghai time
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        app = create_app(settings)
    except GongkaiError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    host, port = host or settings.web.host, port or settings.web.port
    from web.console import attach_console

    attach_console(app)
    banner = f"gongkai 已启动: http://{host}:{port}/healthz  数据库 {settings.db}"
    try:
        # No access log: a line per request costs a fifth of the request; refusals and errors are logged
        # by the hook route, and every enquiry is a row in the database. The banner is printed once the
        # gateway has started (run_app calls `print` then), so a start-up error is never preceded by it.
        web.run_app(app, host=host, port=port, print=lambda _: print(banner, flush=True), handle_signals=True,
                    access_log=None)
    except OSError as exc:
        print(f"无法监听 {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    except GongkaiError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
