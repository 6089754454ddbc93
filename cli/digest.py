"""`digest`: today's 办理提醒, as the gateway pushes it to the staff's groups (`[reminders]`)."""

from __future__ import annotations

import argparse
from datetime import datetime

import clock
from cli import CliContext
from disclosure.digest import MAX_AHEAD
from disclosure.workdays import parse_day
from errors import InvalidInput
from scheduler import reminders

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("digest", help="今日待办：逾期和将到期的申请、补正和征求意见超期、待甄别线索、未送达的通知、逾期未确认的下架通知")
    p.add_argument("--on", help="按哪一天看 YYYY-MM-DD（默认今天）")
    p.add_argument("--ahead", type=int, help="列出几个工作日内到期的申请（1–20，默认取配置 [reminders] ahead，即 5）")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_digest)


def _digest(args: argparse.Namespace, ctx: CliContext) -> int:
    now = clock.now()
    if args.on is not None:
        day = parse_day(args.on, "--on")
        if day < now.date():  # what was open then is not kept: the list would mix that day with today
            raise InvalidInput(f"--on {day.isoformat()} 早于今天：只能看今天或以后（过去某天的待办无法还原）")
        now = datetime.combine(day, now.timetz())
    ahead = ctx.settings.reminders.ahead if args.ahead is None else args.ahead
    if not 1 <= ahead <= MAX_AHEAD:
        raise InvalidInput(f"--ahead 应为 1–{MAX_AHEAD} 个工作日，现为 {ahead}")
    data, message = reminders.compose(ctx.db(), now, ahead)
    ctx.out(data, lambda _: f"{message.title}\n\n{message.body}" if message else f"{data['day']} 没有需要提醒的事项。")
    return 0
