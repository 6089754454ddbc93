"""Chat commands: 帮助, 查询 <编号>, 订阅 <类别>, 退订 <类别>; recognised in natural variants."""

from __future__ import annotations

import re

from sqlite_utils import Database

from disclosure.requests import get_request
from errors import InvalidInput, NotFound
from handlers import Context, Reply, texts
from platforms import Inbound

__all__ = ["handle", "NOTICE_CATEGORIES"]

NOTICE_CATEGORIES = ("通知公告", "培训通知", "预警信息", "问题产品下架通知", "专项整治", "自查提醒")

_HELP = re.compile(r"^\s*(帮助|help|菜单|功能|怎么用|使用说明|\?|？)\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"(20\d{2})\s*[-－—–_]\s*(\d{1,4})")
_QUERY_WORDS = re.compile(r"查询|查一下|查下|查查|进度|状态|办得怎么样|到哪|结果")
_SUBSCRIBE = re.compile(r"^\s*(订阅|退订|取消订阅)\s*[:：]?\s*(\S*)\s*$")


def handle(db: Database, ctx: Context, event: Inbound) -> Reply | None:
    text = event.text.strip()
    if _HELP.match(text):
        return Reply(texts.HELP, kind="command")
    number = _NUMBER.search(text)
    if number and (_QUERY_WORDS.search(text) or _NUMBER.fullmatch(text.strip())):
        return _status(db, f"{number.group(1)}-{int(number.group(2)):04d}")
    sub = _SUBSCRIBE.match(text)
    if sub:
        return _subscription(db, event, sub.group(1) == "订阅", sub.group(2))
    return None


def _status(db: Database, number: str) -> Reply:
    try:
        request = get_request(db, number)
    except NotFound:
        return Reply(texts.request_not_found(number), kind="command")
    return Reply(texts.request_status(request), kind="command", request_id=number)


def _subscription(db: Database, event: Inbound, subscribe: bool, word: str) -> Reply:
    from scheduler.groups import find_group, subscribe as add, unsubscribe as remove

    category = _category(word)
    if category is None:
        return Reply(texts.unknown_category(word, NOTICE_CATEGORIES), kind="command")
    group = find_group(db, event.bot, event.chat)
    if group is None:
        return Reply(texts.GROUP_NOT_REGISTERED, kind="command")
    if not subscribe and category not in group["subscriptions"]:
        return Reply(texts.not_subscribed(group["name"], category, group["subscriptions"]), kind="command")
    try:
        changed = (add if subscribe else remove)(db, group["name"], category)
    except InvalidInput as exc:
        return Reply(str(exc), kind="command")
    template = texts.subscribed if subscribe else texts.unsubscribed
    return Reply(template(group["name"], category, changed["subscriptions"]), kind="command")


def _category(word: str) -> str | None:
    """Accept a category by any unambiguous part of its name: 预警 -> 预警信息, 下架 -> 问题产品下架通知."""
    hits = [c for c in NOTICE_CATEGORIES if word and word in c]
    return hits[0] if len(hits) == 1 else None
