"""Follow-up questions about the latest notice a group received: 培训在哪, 几点开始, 哪批产品要下架.

Answered from the notice's own fields, which staff wrote and approved, when the question names the notice's
kind (培训, 报名; 下架, 召回) or points at it (这个通知, 通知里), or is nothing but such a question (几点开始,
批号是多少, 哪个厂家的) and the group's latest notice is a training or a recall. A training that is over no longer
answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from datetime import timedelta

from sqlite_utils import Database

from disclosure.requests import question_key
from errors import InvalidInput
from handlers import Context, Reply
from platforms import Inbound
from scheduler import groups, notices
from scheduler.templates import FIELDS, parse_when, show_field

__all__ = ["handle"]

_POINTED = r"这个通知|此通知|通知里|通知上|刚才的通知|刚发的通知"
_TOPICS = {"培训通知": re.compile(rf"培训|上课|报名|{_POINTED}"),
           "问题产品下架通知": re.compile(rf"下架|召回|{_POINTED}")}
# (kind, field, what the question asks), first match wins: 报名截止 before the 时间 of the training itself.
# SIGNUP and CANCEL are no field: they answer how to sign up, and whom to ask to undo one.
SIGNUP, CANCEL = "signup", "cancel"
_ASKS = [(kind, field, re.compile(pattern)) for kind, field, pattern in (
    ("培训通知", CANCEL, r"取消报名|不去了|报错了|写错了|改名字|更正"),
    ("培训通知", SIGNUP, r"怎么报名|如何报名|我要报名|在哪报名|报名方式|怎样报名|我想报名|可以报名|能报名"),
    ("培训通知", "register_by", r"报名.*(截止|到哪天|到什么时候|到几号)|截止"),
    ("培训通知", "place", r"在哪|哪里|地点|地方|哪儿|地址|几楼|哪层|哪个房间|会议室"),
    ("培训通知", "start", r"几点|什么时候|啥时候|哪天|几号|时间|开始"),
    ("培训通知", "audience", r"谁参加|谁去|谁要|哪些人|什么人|参加对象|必须参加|都要参加|要参加吗|都要去|必须去|一定要去"),
    ("培训通知", "contact", r"联系人|找谁|问谁|电话|联系"),
    ("问题产品下架通知", "manufacturer", r"哪个厂|什么厂|厂家|生产企业|哪家生产|谁生产|哪里生产"),
    ("问题产品下架通知", "spec", r"规格|型号|多大的|多少克|多少毫升|什么包装"),
    ("问题产品下架通知", "product", r"什么产品|哪个产品|哪些产品|啥产品|产品名|哪个牌子|什么牌子|啥牌子"),
    ("问题产品下架通知", "batch", r"批号|哪批|批次|生产日期"),
    ("问题产品下架通知", "failed_item", r"什么问题|不合格|为什么|为啥|原因"),
    ("问题产品下架通知", "reply_by", r"期限|截止|(几号|哪天|什么时候)之?前|什么时候回复|要回复"),
)]
# What a bare follow-up (几点开始, 批号是多少) holds besides its question: with nothing else left, it can only be
# about the latest notice; 健康证在哪里办 leaves 健康证办 and is a question for the catalog.
_FILLER = re.compile(r"请问|问一下|问下|那个|这个|具体|大概|到底|是|在|去|到|多少|啥|啊|呀|呢|吗|嘛|的|了|要|我们|咱们|一下|哦")
_BARE_MAX = 12  # characters: a longer message says more than a follow-up does
_TRAINING_OVER = timedelta(days=1)


def handle(db: Database, ctx: Context, event: Inbound) -> Reply | None:
    text = question_key(event.text)
    kinds = [kind for kind, topic in _TOPICS.items() if topic.search(text)]
    bare = not kinds
    if bare and len(text) > _BARE_MAX:
        return None
    # The text first, the database only for a message that can be such a question: most are not.
    asks = [(kind, field, ask) for kind, field, ask in _ASKS if (bare or kind in kinds) and ask.search(text)
            and not (bare and _FILLER.sub("", ask.sub("", text)))]
    if not asks:
        return None
    group = groups.find_group(db, event.bot, event.chat)
    if group is None:
        return None
    if bare:
        latest = notices.latest_sent(db, group["name"])
        if latest is None or latest["kind"] not in _TOPICS:
            return None
        asks = [a for a in asks if a[0] == latest["kind"]]
    for kind, field, _ in asks:
        notice = notices.latest_sent(db, group["name"], kind)
        if notice is None or (kind == "培训通知" and _over(notice["fields"], ctx)):
            continue
        reply = _answer(notice, kind, field)
        if reply:
            return Reply(reply, kind="command")
    return None


def _answer(notice: Mapping[str, Any], kind: str, field: str) -> str:
    """The line from the notice that answers `field`, or "" when staff left that field empty."""
    fields, title = notice["fields"], f"《{notice['title']}》"
    if field == SIGNUP:
        deadline = f"，{show_field('register_by', fields['register_by'])}截止" if fields.get("register_by") else ""
        return f"{title}报名方式：在本群发送“报名 姓名 单位”，例如“报名 张三 某某餐饮店”{deadline}。"
    if field == CANCEL:
        contact = f"：{fields['contact']}" if fields.get("contact") else "。"
        return f"{title}取消或更正报名，请联系本次培训的联系人{contact}"
    value = str(fields.get(field, ""))
    return f"{title}{FIELDS[kind][field]}：{show_field(field, value)}" if value else ""


def _over(fields: Mapping[str, str], ctx: Context) -> bool:
    try:
        return bool(fields.get("start")) and parse_when(fields["start"]) < ctx.now() - _TRAINING_OVER
    except InvalidInput:
        return False
