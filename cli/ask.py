"""`ask`: put questions to the catalog from the command line, the same way a chat message is answered."""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid
from typing import Any

from cli import CliContext, print_json
from errors import InvalidInput
from handlers import Context, Reply, handle_inbound, installation_salt
from handlers.enquiry import decide
from knowledge import Knowledge
from knowledge.catalog import all_items
from platforms import Inbound
from store import transaction

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ask", help="向公开目录提问 (ask the catalog a question)")
    p.add_argument("question", nargs="?", help="问题；或用 --file")
    p.add_argument("--file", help="每行一个问题的文件；'-' 读标准输入")
    p.add_argument("--top", type=int, default=3, help="返回几条匹配（默认 3）")
    p.add_argument("--no-log", action="store_true", help="不记入咨询日志，也不登记线索")
    p.add_argument("--json", action="store_true", help="每个问题输出一个 JSON 对象")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    questions = _questions(args)
    if args.top < 1:
        raise InvalidInput("--top 须为正整数")
    db = ctx.db()
    items = all_items(db)
    if not items:  # every question will open a possible request: say why, in case the wrong database is open
        print(f"注意：公开目录为空（数据库 {ctx.settings.db}），问题都将登记为线索。请先 catalog import 导入目录，"
              "或运行一次网关以载入演示目录。", file=sys.stderr)
    hctx = Context(knowledge=Knowledge.build(items), salt=installation_salt(db), top_k=args.top,
                   items={item["id"]: item for item in items})
    sender = _user()
    for question in questions:
        reply = _answer(db, hctx, question, sender, args.no_log)
        result = _result(question, reply)
        if ctx.json:
            print_json(result)
        else:
            print(reply.text + ("\n" if len(questions) > 1 else ""))
    return 0


def _answer(db: Any, hctx: Context, question: str, sender: str, no_log: bool) -> Reply:
    event = Inbound(platform="cli", bot="cli", event_id=uuid.uuid4().hex, text=question, chat="", sender=sender)
    if not no_log:
        with transaction(db):
            reply, _ = handle_inbound(db, hctx, event)
        return reply
    # --no-log answers as the chat would (查询 2026-0001 is still a command), then rolls back whatever answering
    # wrote: the log row, and a possible request or acknowledgement the reply would then wrongly announce.
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        before = db.conn.total_changes
        reply, _ = handle_inbound(db, hctx, event)
        wrote_more = db.conn.total_changes - before > 1  # more than the log row: a number opened, an ack
    finally:
        db.conn.execute("ROLLBACK")
    if wrote_more or (reply.kind == "enquiry" and not reply.answered):
        return decide(hctx, question)  # its reply would name what was not kept
    return reply


def _result(question: str, reply: Reply) -> dict[str, Any]:
    return {"question": question, "answered": reply.answered, "matches": reply.matches,
            "request_id": reply.request_id, "reply": reply.text}


def _questions(args: argparse.Namespace) -> list[str]:
    if args.file and args.question:
        raise InvalidInput("请只给出问题或 --file 之一")
    if args.file:
        text = sys.stdin.read() if args.file == "-" else _read(args.file)
        questions = [line.strip() for line in text.splitlines() if line.strip()]
        if not questions:
            raise InvalidInput(f"{args.file}: 没有问题（每行一个问题）")
        return questions
    if not args.question or not args.question.strip():
        raise InvalidInput("请给出问题，例如: python bot.py ask \"小饭桌怎么备案\"")
    return [args.question.strip()]


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: 文件不存在") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: 不是 UTF-8 编码 (byte {exc.start})") from None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
