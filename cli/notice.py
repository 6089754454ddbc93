"""`notice ...`: staff create, review, schedule and follow notices. Thin over scheduler.notices/jobs/outbox.

The CLI never sends: it writes rows and bumps `notices`; the running gateway's Scheduler releases and
delivers them within seconds.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli import CliContext
from errors import InvalidInput
from scheduler import groups, jobs, notices, outbox, templates
from store import transaction

__all__ = ["register"]

STATUS_TEXT = {"queued": "排队", "sending": "发送中", "sent": "已送达", "failed": "失败待重试", "dead": "失败不再重试",
               "uncertain": "不确定"}


def _use_json(args: argparse.Namespace, ctx: CliContext) -> None:
    ctx.json = ctx.json or bool(getattr(args, "json", False))


def _fields(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--field 应为 名称=值：{item!r}")
        if key.strip() in out:  # the last one silently winning hid a typo in the first
            raise InvalidInput(f"--field {key.strip()} 给了两次：{out[key.strip()]!r} 和 {value.strip()!r}")
        out[key.strip()] = value.strip()
    return out


def _body(args: argparse.Namespace) -> str | None:
    if getattr(args, "body_file", None):
        if args.body_file == "-":
            return sys.stdin.read()
        try:
            return Path(args.body_file).read_text(encoding="utf-8-sig")  # -sig: Notepad saves a BOM
        except FileNotFoundError:
            raise InvalidInput(f"{args.body_file}: 文件不存在") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{args.body_file}: 不是 UTF-8 文本（请另存为 UTF-8）") from None
        except OSError as exc:
            raise InvalidInput(f"{args.body_file}: 无法读取正文（{exc.strerror}）") from None
    return getattr(args, "body", None)


SEND_KINDS = {"notice": "通知", "reminder": "提醒", "ack_reminder": "催办", "cron": "定期"}
SEND_STATUS = {"pending": "待发送", "fired": "已发出", "missed": "已错过", "cancelled": "已取消"}


def _summary(n: dict[str, Any]) -> str:
    return f"#{n['id']} [{n['status_text']}] {n['kind']}《{n['title']}》 目标={n['audience']} 起草={n['author']}"


def _show_text(n: dict[str, Any]) -> str:
    lines = [_summary(n), "", n["body"], ""]
    labels = templates.FIELDS.get(n["kind"], {})
    lines += [f"{labels.get(k, k)}：{v}" for k, v in n["fields"].items()]
    lines += [f"⚠ {f['label']}：{f['value']}" for f in n["findings"]]
    lines += [f"发送 {s['n']} {SEND_KINDS.get(s['kind'], s['kind'])} {s['due_at']} "
              f"{SEND_STATUS.get(s['status'], s['status'])} {s['late_text']}".rstrip() for s in n["sends"]]
    lines += [f"  {d['group']}: {STATUS_TEXT.get(d['status'], d['status'])} 尝试 {d['attempts']} 次"
              f"{' 已确认' if d['acknowledged'] else ''}{' ' + d['error'] if d['error'] else ''}" for d in n["deliveries"]]
    lines += [f"{a['at']} {a['who']} {a['action']} {a['detail']}" for a in n["audit"]]
    return "\n".join(lines)


def _write(ctx: CliContext, fn: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    with transaction(ctx.db()) as db:
        return fn(db, *args, **kwargs)


def cmd_create(args: argparse.Namespace, ctx: CliContext) -> int:
    body = _body(args)
    notice = _write(ctx, notices.create_notice, args.kind, args.title, body or "", args.to, _fields(args.field), args.by)
    with transaction(ctx.db()) as db:
        groups.sync_config_groups(db, ctx.settings.groups)
        targets = len(groups.select_groups(db, notice["audience"]))
    # A tag typed wrong selects nobody: say so now, not when nothing goes out.
    reach = f"（目标当前选中 {targets} 个群）" if targets else "（⚠ 目标当前没有选中任何群：请检查标签，或先 groups add）"
    ctx.out(notice, lambda n: "已创建 " + _summary(n) + reach)
    return 0


def cmd_step(args: argparse.Namespace, ctx: CliContext) -> int:
    """submit / approve / reject / cancel: one state change each, audited."""
    step = args.notice_command
    if step == "submit":
        notice = _write(ctx, notices.submit, args.id, args.by)
    elif step == "approve":
        notice = _write(ctx, notices.approve, args.id, args.by, args.override)
    elif step == "reject":
        notice = _write(ctx, notices.reject, args.id, args.by, args.reason)
    else:
        notice = _write(ctx, notices.cancel, args.id, args.by)
    extra = "".join(f"\n⚠ {f['label']}：{f['value']}" for f in notice["findings"]) if step == "submit" else ""
    ctx.out(notice, lambda n: _summary(n) + extra)
    return 0


def cmd_edit(args: argparse.Namespace, ctx: CliContext) -> int:
    fields = _fields(args.field) if args.field else None
    notice = _write(ctx, notices.edit, args.id, args.by, args.title, _body(args), fields, args.to)
    ctx.out(notice, lambda n: "已修改（需重新提交审核）" + _summary(n))
    return 0


def cmd_schedule(args: argparse.Namespace, ctx: CliContext) -> int:
    spec = {"now": args.now, "at": args.at, "cron": args.cron, "before_event": args.before_event,
            "next_workday": args.next_workday}
    with transaction(ctx.db()) as db:
        notice = jobs.schedule(db, args.id, spec, args.by)
        data = notices.show(db, notice["id"])
    pending = [s for s in data["sends"] if s["status"] == "pending"]
    warning = f"\n⚠ {notice['warning']}" if notice["warning"] else ""  # e.g. a working day only estimated
    ctx.out(data, lambda n: _summary(n) + "".join(f"\n  {s['due_at']} {s['kind']}" for s in pending)
            + (f"\n  周期 {n['cron']}" if n["cron"] else "") + warning + "\n（由运行中的网关发送）")
    return 0


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    rows = notices.list_notices(ctx.db(), reminders=args.reminders)
    ctx.out(rows, lambda rs: "\n".join(_summary({**r, "fields": {}}) for r in rs) or "（没有通知）")
    return 0


def cmd_show(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.out(notices.show(ctx.db(), args.id), _show_text)
    return 0


def cmd_preview(args: argparse.Namespace, ctx: CliContext) -> int:
    """One platform's exact rendering, or without --platform the audience dry run with every platform's."""
    db = ctx.db()
    if args.platform:
        data = notices.preview(db, args.id, args.platform)
        ctx.out(data, lambda d: "\n\n".join(d["text"]))
        return 0
    with transaction(db):
        groups.sync_config_groups(db, ctx.settings.groups)
    data = notices.dry_run(db, args.id, {b.name: b.platform for b in ctx.settings.bots})
    ctx.out(data, lambda d: d["summary"] + "".join(f"\n\n== {p}（{len(d['by_platform'][p])} 个群）==\n"
                                                   + "\n\n".join(t) for p, t in d["previews"].items()))
    return 0


def _csv(path: str, header: list[str], rows: list[list[Any]]) -> None:
    try:
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:  # BOM: Excel opens it as UTF-8
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    except OSError as exc:
        raise InvalidInput(f"{path}: 无法写入：{exc}") from None


def cmd_report(args: argparse.Namespace, ctx: CliContext) -> int:
    data = notices.report(ctx.db(), args.id)
    if args.csv:
        _csv(args.csv, ["群", "平台", "状态", "尝试次数", "已确认", "确认时间", "错误"],
             [[d["group"], d["platform"], STATUS_TEXT.get(d["status"], d["status"]), d["attempts"],
               "是" if d["acknowledged"] else "否", d["acknowledged_at"], d["error"]] for d in data["deliveries"]])
    counts = "，".join(f"{STATUS_TEXT.get(k, k)} {v}" for k, v in data["counts"].items())
    ctx.out(data, lambda d: f"#{d['id']}《{d['title']}》{d['groups']} 个群：{counts or '尚未发送'}；"
                            f"已确认 {d['acknowledged']}；报名 {d['registrations']}")
    return 0


def cmd_roster(args: argparse.Namespace, ctx: CliContext) -> int:
    rows = notices.roster(ctx.db(), args.id)
    if args.csv:
        _csv(args.csv, ["序号", "群", "姓名", "单位", "报名时间"],
             [[i, r["group"], r["name"], r["org"], r["at"]] for i, r in enumerate(rows, 1)])
    ctx.out(rows, lambda rs: "\n".join(f"{i}\t{r['name']}\t{r['org']}\t{r['group']}" for i, r in enumerate(rs, 1))
            or "（暂无报名）")
    return 0


def cmd_ack(args: argparse.Namespace, ctx: CliContext) -> int:
    with transaction(ctx.db()) as db:
        notice = notices.record_staff_ack(db, args.id, args.group, args.text, args.by)
    earlier = notice["earlier"]
    text = (f"“{args.group}”已于 {earlier['at'][:16].replace('T', ' ')} 确认《{notice['title']}》（{earlier['text']}），"
            "以首次确认为准，本次未重复登记" if earlier else
            f"已登记：“{args.group}”已确认《{notice['title']}》（{args.text}，{args.by}）")
    ctx.out({"id": notice["id"], "group": args.group, "acknowledged": True}, text)
    return 0


def cmd_resend(args: argparse.Namespace, ctx: CliContext) -> int:
    with transaction(ctx.db()) as db:
        count = outbox.resend_uncertain(db, args.id, args.by)
    ctx.out({"id": int(args.id), "requeued": count}, f"已重新排队 {count} 条（由运行中的网关发送）")
    return 0


def _leaf(nsub: Any, name: str, text: str, fn: Callable[[argparse.Namespace, CliContext], int],
          with_id: bool = True) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = nsub.add_parser(name, help=text, description=text)
    if with_id:
        parser.add_argument("id", metavar="N", help="通知编号")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="输出 JSON")

    def handler(args: argparse.Namespace, ctx: CliContext) -> int:
        _use_json(args, ctx)
        return fn(args, ctx)

    parser.set_defaults(func=handler)
    return parser


def _content_args(parser: argparse.ArgumentParser, required: bool) -> None:
    body = parser.add_mutually_exclusive_group(required=required)
    body.add_argument("--body", help="正文（原样发送）")
    body.add_argument("--body-file", dest="body_file", metavar="F", help="从 UTF-8 文件读正文（- 为标准输入）")
    parser.add_argument("--field", action="extend", nargs="+", metavar="k=v", help="字段，如 start=2026-12-01T09:00")
    parser.add_argument("--by", required=True, metavar="USER", help="操作人")


def register(sub: Any) -> None:
    """Add the `notice` command to the top-level subparsers."""
    parser = sub.add_parser("notice", help="通知公告：起草、审核、排期、发送情况")
    nsub = parser.add_subparsers(dest="notice_command", required=True, metavar="COMMAND")
    create = _leaf(nsub, "create", "起草一条通知（草稿）", cmd_create, with_id=False)
    create.add_argument("--kind", required=True, metavar="KIND",
                        help="类型：" + " ".join(templates.KINDS))
    create.add_argument("--title", required=True, metavar="T")
    create.add_argument("--to", required=True, metavar="EXPR", help="目标群标签：餐饮 | 餐饮,药店 | 餐饮+东区 | !学校 | *")
    _content_args(create, required=True)
    _leaf(nsub, "submit", "提交审核（同时做敏感内容检查）", cmd_step).add_argument("--by", required=True, metavar="USER")
    approve = _leaf(nsub, "approve", "审核通过（须非起草人）", cmd_step)
    approve.add_argument("--by", required=True, metavar="USER")
    approve.add_argument("--override", metavar="REASON", help="确认放行敏感内容的理由（记入审核日志）")
    reject = _leaf(nsub, "reject", "退回", cmd_step)
    reject.add_argument("--by", required=True, metavar="USER")
    reject.add_argument("--reason", required=True, metavar="R")
    _leaf(nsub, "cancel", "撤销（开始发送前）", cmd_step).add_argument("--by", default="staff", metavar="USER")
    edit = _leaf(nsub, "edit", "修改内容（已提交或已审核的退回草稿）", cmd_edit)
    edit.add_argument("--title")
    edit.add_argument("--to", metavar="EXPR")
    _content_args(edit, required=False)
    _schedule_parser(_leaf(nsub, "schedule", "排期发送（由运行中的网关发送）", cmd_schedule))
    _leaf(nsub, "list", "列出通知", cmd_list, with_id=False).add_argument(
        "--reminders", action="store_true", help="也列出每日的办理提醒（[reminders]）")
    _leaf(nsub, "show", "查看通知、发送时间、各群送达与确认情况、审核日志", cmd_show)
    _leaf(nsub, "preview", "预览：某平台的渲染，或不带 --platform 时的目标群试算", cmd_preview).add_argument(
        "--platform", metavar="P", help="wecom dingtalk feishu onebot console")
    _leaf(nsub, "report", "发送报告", cmd_report).add_argument("--csv", metavar="FILE", help="同时导出 CSV")
    _leaf(nsub, "roster", "培训报名名单", cmd_roster).add_argument("--csv", metavar="FILE", help="导出 CSV")
    ack = _leaf(nsub, "ack", "登记某群的确认（如电话确认）", cmd_ack)
    ack.add_argument("--group", required=True, metavar="NAME")
    ack.add_argument("--by", required=True, metavar="USER")
    ack.add_argument("--text", default="电话确认", help="确认方式（默认：电话确认）")
    _leaf(nsub, "resend-uncertain", "把“不确定”的发送重新排队（可能重复，由工作人员决定）",
          cmd_resend).add_argument("--by", required=True, metavar="USER")


def _schedule_parser(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--now", action="store_true", help="立即发送")
    when.add_argument("--at", metavar="TIME", help="2026-12-01T09:00（无时区为北京时间），或 next-workday")
    when.add_argument("--cron", metavar="EXPR", help="周期，如 \"0 9 * * 1\"（每周一 9:00，北京时间）")
    when.add_argument("--before-event", dest="before_event", metavar="LIST", help="培训前提醒，如 3d,1d,1h")
    when.add_argument("--next-workday", dest="next_workday", nargs="?", const="09:00", metavar="HH:MM",
                      help="下一个工作日（调休）的某时，默认 09:00")
    parser.add_argument("--by", default="staff", metavar="USER")
