"""`calendar due|set|unset|list|confirm`: statutory due dates and the staff-kept 调休 overrides."""

from __future__ import annotations

import argparse
from typing import Any

from cli import CliContext
from disclosure import workdays

__all__ = ["register"]

_KIND_LABELS = {"work": "工作日（上班）", "rest": "休息日"}
_WEEKDAYS = "一二三四五六日"


def register(sub: Any) -> None:
    """Add the `calendar` command group to the top-level subparsers."""
    parser = sub.add_parser("calendar", help="工作日日历：法定期限计算与调休调整",
                            description="工作日日历：法定期限计算与调休调整")
    commands = parser.add_subparsers(dest="calendar_command", metavar="{due,set,unset,list,confirm}",
                                     required=True)

    due = commands.add_parser("due", help="从收到日起算 N 个工作日的截止日（收到日当天不计）")
    due.add_argument("date", metavar="DATE", help="起算日 YYYY-MM-DD")
    due.add_argument("--days", type=int, default=20, help="工作日数（默认 20，条例第三十三条）")
    _add_json(due)
    due.set_defaults(func=cmd_due)

    put = commands.add_parser("set", help="把某天设为工作日或休息日（优先于内置日历）")
    put.add_argument("day", metavar="DAY", help="日期 YYYY-MM-DD")
    put.add_argument("kind", choices=workdays.KINDS, help="work = 上班，rest = 休息")
    put.add_argument("--note", default="", help="说明，如国务院办公厅通知文号")
    _add_json(put)
    put.set_defaults(func=cmd_set)

    unset = commands.add_parser("unset", help="删除某天的调整，恢复内置日历")
    unset.add_argument("day", metavar="DAY", help="日期 YYYY-MM-DD")
    _add_json(unset)
    unset.set_defaults(func=cmd_unset)

    lst = commands.add_parser("list", help="列出所有调整")
    _add_json(lst)
    lst.set_defaults(func=cmd_list)

    confirm = commands.add_parser("confirm", help="确认某年的调休安排已按国务院通知录入（不再标注预估）")
    confirm.add_argument("year", metavar="YEAR", type=int, help="年份")
    confirm.add_argument("--undo", action="store_true", help="撤销确认")
    _add_json(confirm)
    confirm.set_defaults(func=cmd_confirm)


def _add_json(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subparser default must not overwrite a --json given before the subcommand
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="输出 JSON")


def _use_json(args: argparse.Namespace, ctx: CliContext) -> None:
    ctx.json = ctx.json or bool(getattr(args, "json", False))


def cmd_due(args: argparse.Namespace, ctx: CliContext) -> int:
    """Print the due date and whether it rests on an estimated calendar."""
    _use_json(args, ctx)
    start = workdays.parse_day(args.date)
    end, estimated = workdays.load_calendar(ctx.db()).due(start, args.days)
    result = {"start": start.isoformat(), "days": args.days, "due": end.isoformat(), "estimated": estimated}
    ctx.out(result, _due_text)
    return 0


def _due_text(result: dict[str, Any]) -> str:
    end = workdays.parse_day(result["due"])
    text = f"{result['start']} 起 {result['days']} 个工作日：{result['due']}（星期{_WEEKDAYS[end.weekday()]}）"
    if result["estimated"]:
        text += "【预估：该年调休安排尚未公布或未经确认，请以国务院办公厅通知为准】"
    return text


def cmd_set(args: argparse.Namespace, ctx: CliContext) -> int:
    """Record a 调休 decision the built-in calendar does not know."""
    _use_json(args, ctx)
    row = workdays.set_override(ctx.db(), args.day, args.kind, args.note)
    ctx.out(row, f"已设置 {row['day']} 为{_KIND_LABELS[row['kind']]}。")
    return 0


def cmd_unset(args: argparse.Namespace, ctx: CliContext) -> int:
    """Drop a staff override."""
    _use_json(args, ctx)
    day = workdays.parse_day(args.day).isoformat()
    workdays.remove_override(ctx.db(), day)
    ctx.out({"day": day, "removed": True}, f"已删除 {day} 的调整，恢复内置日历。")
    return 0


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    """List staff overrides."""
    _use_json(args, ctx)
    ctx.out(workdays.list_overrides(ctx.db()), _list_text)
    return 0


def _list_text(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "没有调整，全部按内置日历计算。"
    lines = [f"{row['day']}\t{_KIND_LABELS[row['kind']]}\t{row['note']}".rstrip() for row in rows]
    return "\n".join([*lines, f"共 {len(rows)} 条。"])


def cmd_confirm(args: argparse.Namespace, ctx: CliContext) -> int:
    """Mark a year's schedule as entered, so its due dates are no longer flagged 预估."""
    _use_json(args, ctx)
    workdays.confirm_year(ctx.db(), args.year, confirmed=not args.undo)
    text = f"已撤销 {args.year} 年的确认。" if args.undo else f"已确认 {args.year} 年的调休安排。"
    ctx.out({"year": args.year, "confirmed": not args.undo}, text)
    return 0
