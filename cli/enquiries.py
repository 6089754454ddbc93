"""`enquiries`: the question log, for staff looking for what the catalog is missing."""

from __future__ import annotations

import argparse
from typing import Any

from cli import CliContext
from disclosure import enquiries as service

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("enquiries", help="咨询记录 (the enquiry log)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="最近的咨询（新的在前）")
    ls.add_argument("--since", default="", help="起始日期 YYYY-MM-DD")
    ls.add_argument("--kind", choices=service.KINDS)
    ls.add_argument("--unanswered", action="store_true", help="只看未能答复的咨询")
    ls.add_argument("--undelivered", action="store_true", help="只看答复未能送达群里的咨询（平台拒收、超时、过期）")
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(func=_list)
    stats = verbs.add_parser("stats", help="统计：答复率、渠道、最常见的未答复问题")
    stats.add_argument("--since", default="", help="起始日期 YYYY-MM-DD")
    stats.add_argument("--top", type=int, default=10)
    stats.set_defaults(func=_stats)
    for verb in (ls, stats):
        verb.add_argument("--json", action="store_true")


KIND_TEXT = {"enquiry": "咨询", "complaint": "投诉举报", "command": "命令", "feedback": "答非所问"}


def _line(row: dict[str, Any]) -> str:
    mark = ("✓" if row["answered"] else "✗") if row["kind"] == "enquiry" else KIND_TEXT.get(row["kind"], row["kind"])
    number = f" → {row['request_id']}" if row["request_id"] else ""
    lost = f"  【答复未送达：{row['delivery_error'] or row['delivery']}】" if row["delivery"] in service.UNDELIVERED else ""
    return f"{row['at'][:16].replace('T', ' ')} {row['channel']:<8} {mark} {row['question']}{number}{lost}"


def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    rows = service.list_enquiries(ctx.db(), args.since, args.kind, args.unanswered, args.limit, args.undelivered)
    ctx.out(rows, lambda rs: "\n".join(_line(r) for r in rs) or "（没有记录）")
    return 0


def _stats(args: argparse.Namespace, ctx: CliContext) -> int:
    stats = service.enquiry_stats(ctx.db(), args.since, args.top)

    def text(s: dict[str, Any]) -> str:
        rate = "—" if s["answer_rate"] is None else f"{s['answer_rate']:.0%}"
        questions = s["by_kind"].get("enquiry", 0)  # the answer rate is over questions, not commands or 你好
        lines = [f"消息共 {s['total']} 条，其中咨询 {questions} 条，咨询答复率 {rate}，答复未送达 {s['undelivered']} 条",
                 "按类型：" + "、".join(f"{KIND_TEXT.get(k, k)} {v}" for k, v in s["by_kind"].items()),
                 "按渠道：" + "、".join(f"{k} {v}" for k, v in s["by_channel"].items()),
                 "最常见的未答复问题："]
        lines += [f"  {g['count']:>3} × {g['question']}" for g in s["unanswered_top"]] or ["  （无）"]
        return "\n".join(lines)

    ctx.out(stats, text)
    return 0
