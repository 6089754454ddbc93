"""`digest`: today's 办理提醒, as the gateway pushes it to the staff's groups (`[reminders]`)."""

from __future__ import annotations

import argparse
from datetime import datetime

import clock
from cli import CliContext
from disclosure import digest
from disclosure.workdays import parse_day
from scheduler import reminders

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("digest", help="今日待办：逾期和将到期的申请、补正和征求意见超期、待甄别线索、未送达的通知、逾期未确认的下架通知")
    p.add_argument("--on", help="按哪一天看 YYYY-MM-DD（默认今天）")
    p.add_argument("--ahead", type=int, default=digest.AHEAD, help="列出几个工作日内到期的申请（默认 5）")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_digest)


def _digest(args: argparse.Namespace, ctx: CliContext) -> int:
    now = clock.now()
    if args.on is not None:
        now = datetime.combine(parse_day(args.on, "--on"), now.timetz())
    data, message = reminders.compose(ctx.db(), now, args.ahead)
    ctx.out(data, lambda _: f"{message.title}\n\n{message.body}" if message else f"{data['day']} 没有需要提醒的事项。")
    return 0
