"""`groups add|list|remove|subscribe|unsubscribe`: the chats notices go to, over scheduler.groups."""

from __future__ import annotations

import argparse
from typing import Any

from cli import CliContext
from config.settings import group_problem
from errors import InvalidInput
from scheduler import groups
from store import transaction

__all__ = ["register"]


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="输出 JSON")


def _use_json(args: argparse.Namespace, ctx: CliContext) -> None:
    ctx.json = ctx.json or bool(getattr(args, "json", False))


def _line(group: dict[str, Any]) -> str:
    tags = ",".join(group["tags"]) or "-"
    subs = ",".join(group["subscriptions"]) or "全部"
    chat = f" chat={group['chat']}" if group["chat"] else ""
    return f"{group['name']}\tbot={group['bot']}{chat}\t标签={tags}\t订阅={subs}\t来源={group['source']}"


def cmd_add(args: argparse.Namespace, ctx: CliContext) -> int:
    """Add a group at run time; the running gateway sees it on its next look at the database."""
    _use_json(args, ctx)
    bot = ctx.settings.bot(args.bot)
    if ctx.settings.bots and bot is None:
        raise InvalidInput(f"没有名为 {args.bot!r} 的机器人（见配置文件 [[bots]]）")
    tags = [t for t in (args.tags or "").replace("，", ",").split(",") if t.strip()]
    with transaction(ctx.db()) as db:
        groups.sync_config_groups(db, ctx.settings.groups)
        chat = (args.chat or "").strip()
        on_bot = db.execute("SELECT name FROM groups WHERE bot = ? ORDER BY name LIMIT 1", [args.bot]).fetchone()
        at_chat = db.execute("SELECT name FROM groups WHERE chat = ? AND chat != '' LIMIT 1", [chat]).fetchone()
        if bot is not None:
            key, problem = group_problem(args.bot, bot.platform, chat, on_bot[0] if on_bot else "",
                                         at_chat[0] if at_chat else "")
            if problem:
                raise InvalidInput(f"--{key}: {problem}")
        group = groups.add_group(db, args.name, args.bot, args.chat or "", tags)
    ctx.out(group, lambda g: "已添加群：" + _line(g))
    return 0


def cmd_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    _use_json(args, ctx)
    with transaction(ctx.db()) as db:
        groups.sync_config_groups(db, ctx.settings.groups)
        group = groups.remove_group(db, args.name)
    ctx.out(group, lambda g: "已移除群：" + _line(g) + "\n（已排队的推送仍会发出；以往的发送与确认记录保留）")
    return 0


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    _use_json(args, ctx)
    db = ctx.db()
    with transaction(db):
        groups.sync_config_groups(db, ctx.settings.groups)
    rows = groups.select_groups(db, args.to) if args.to else groups.list_groups(db)
    ctx.out(rows, lambda rs: "\n".join(_line(g) for g in rs) or "（没有群）")
    return 0


def cmd_subscribe(args: argparse.Namespace, ctx: CliContext) -> int:
    _use_json(args, ctx)
    fn = groups.subscribe if args.groups_command == "subscribe" else groups.unsubscribe
    with transaction(ctx.db()) as db:
        group = fn(db, args.name, args.category)
    ctx.out(group, lambda g: "已更新：" + _line(g))
    return 0


def register(sub: Any) -> None:
    """Add the `groups` command to the top-level subparsers."""
    parser = sub.add_parser("groups", help="推送群：添加、列出、移除、订阅")
    gsub = parser.add_subparsers(dest="groups_command", required=True,
                                 metavar="{add,list,remove,subscribe,unsubscribe}")
    add = gsub.add_parser("add", help="添加一个群（运行中的网关几秒内生效）")
    add.add_argument("name", metavar="NAME", help="群名称（唯一）")
    add.add_argument("--bot", required=True, help="推送用的机器人（[[bots]] 的 name）")
    add.add_argument("--chat", default="", help="平台的群 ID（OneBot group_id、飞书 chat_id）")
    add.add_argument("--tags", default="", help="逗号分隔的标签，如 餐饮,东区")
    _json_flag(add)
    add.set_defaults(func=cmd_add)
    ls = gsub.add_parser("list", help="列出群（含配置文件中的群）")
    ls.add_argument("--to", default="", help="只列出标签表达式选中的群，如 餐饮+!学校")
    _json_flag(ls)
    ls.set_defaults(func=cmd_list)
    remove = gsub.add_parser("remove", help="移除工作人员添加的群（不再作为推送目标）")
    remove.add_argument("name", metavar="GROUP")
    _json_flag(remove)
    remove.set_defaults(func=cmd_remove)
    for name, text in (("subscribe", "群只接收这些类别（不订阅=全部）"), ("unsubscribe", "取消订阅一个类别")):
        p = gsub.add_parser(name, help=text)
        p.add_argument("name", metavar="GROUP")
        p.add_argument("category", metavar="CATEGORY", help="通知类型，如 预警信息")
        _json_flag(p)
        p.set_defaults(func=cmd_subscribe)
