"""`catalog import|list|show`: staff maintain the disclosure catalog the bot answers from."""

from __future__ import annotations

import argparse
from typing import Any

from cli import CliContext
from knowledge import catalog

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the `catalog` command group to the top-level subparsers."""
    parser = sub.add_parser("catalog", help="政务公开目录：导入、列出、查看", description="政务公开目录：导入、列出、查看")
    commands = parser.add_subparsers(dest="catalog_command", metavar="{import,list,show}", required=True)

    imp = commands.add_parser("import", help="从 JSON Lines / JSON 数组 / CSV 文件导入（全部成功或全部不导入）")
    imp.add_argument("file", metavar="FILE", help="导入文件（UTF-8）")
    imp.add_argument("--replace", action="store_true", help="以此文件为完整目录：文件中没有的条目将被删除")
    _add_json(imp)
    imp.set_defaults(func=cmd_import)

    lst = commands.add_parser("list", help="列出目录条目")
    _add_json(lst)
    lst.set_defaults(func=cmd_list)

    show = commands.add_parser("show", help="查看一个条目")
    show.add_argument("id", metavar="ID", help="条目编号")
    _add_json(show)
    show.set_defaults(func=cmd_show)


def _add_json(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subparser default must not overwrite a --json given before the subcommand
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="输出 JSON")


def _use_json(args: argparse.Namespace, ctx: CliContext) -> None:
    ctx.json = ctx.json or bool(getattr(args, "json", False))


def cmd_import(args: argparse.Namespace, ctx: CliContext) -> int:
    """Import a file; an ImportRowError propagates to bot.py, which prints it and exits 1."""
    _use_json(args, ctx)
    counts = catalog.import_file(ctx.db(), args.file, replace=args.replace)
    ctx.out({"file": args.file, "replace": args.replace, **counts}, _import_text)
    return 0


def _import_text(result: dict[str, Any]) -> str:
    text = f"已导入 {result['file']}：新增 {result['added']} 条，更新 {result['updated']} 条"
    if result["replace"]:
        text += f"，删除 {result['removed']} 条"
    return text + f"；目录现有 {result['total']} 条。"


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    """List items, newest first."""
    _use_json(args, ctx)
    ctx.out(catalog.list_items(ctx.db()), _list_text)
    return 0


def _list_text(items: list[dict[str, Any]]) -> str:
    if not items:
        return "目录为空。用 catalog import FILE 导入。"
    lines = [f"{item['id']}\t{item['published'] or '—'}\t{item['category']}\t{item['title']}" for item in items]
    return "\n".join([*lines, f"共 {len(items)} 条。"])


def cmd_show(args: argparse.Namespace, ctx: CliContext) -> int:
    """Show one item in full."""
    _use_json(args, ctx)
    ctx.out(catalog.get_item(ctx.db(), args.id), _show_text)
    return 0


_LABELS = (
    ("id", "编号"), ("title", "标题"), ("category", "分类"), ("published", "发布日期"), ("url", "网址"),
    ("index_no", "索引号"), ("doc_no", "文号"), ("publisher", "发布机构"), ("validity", "有效性"), ("repealed", "废止日期"),
)


def _show_text(item: dict[str, Any]) -> str:
    lines = [f"{label}：{item[key]}" for key, label in _LABELS if item.get(key)]
    if item.get("keywords"):
        lines.append(f"主题词：{'、'.join(item['keywords'])}")
    if item.get("demo"):
        lines.append("（演示数据）")
    if item.get("body"):
        lines += ["", item["body"]]
    return "\n".join(lines)
