"""Follow-up questions about the latest notice a group received: 培训在哪, 几点开始, 哪批产品要下架.

Answered from the notice's own fields, which staff wrote and approved, and only when the question names the
notice's kind (培训; 下架, 召回) or points at it (这个通知, 通知里). A training that is over no longer answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
_TOPICS = {"培训通知": re.compile(rf"培训|上课|{_POINTED}"), "问题产品下架通知": re.compile(rf"下架|召回|{_POINTED}")}
# (kind, field, what the question asks), first match wins: 报名截止 before the 时间 of the training itself.
_ASKS = [(kind, field, re.compile(pattern)) for kind, field, pattern in (
    ("培训通知", "register_by", r"报名.*(截止|到哪天|到什么时候|到几号)|截止"),
    ("培训通知", "place", r"在哪|哪里|地点|地方|哪儿|地址"),
    ("培训通知", "start", r"几点|什么时候|哪天|几号|时间|开始"),
    ("培训通知", "audience", r"谁参加|谁去|哪些人|什么人|参加对象|必须参加|都要参加|要参加吗|都要去"),
    ("培训通知", "contact", r"联系人|找谁|问谁|电话|联系"),
    ("问题产品下架通知", "product", r"什么产品|哪个产品|哪些产品|啥产品|产品名|哪个牌子|什么牌子"),
    ("问题产品下架通知", "batch", r"批号|哪批|批次|生产日期"),
    ("问题产品下架通知", "failed_item", r"什么问题|不合格|为什么|为啥|原因"),
    ("问题产品下架通知", "reply_by", r"期限|什么时候回复|截止|几号前|哪天前"),
)]
_TRAINING_OVER = timedelta(days=1)


def handle(db: Database, ctx: Context, event: Inbound) -> Reply | None:
    text = question_key(event.text)
    kinds = [kind for kind, topic in _TOPICS.items() if topic.search(text)]
    if not kinds:
        return None
    group = groups.find_group(db, event.bot, event.chat)
    if group is None:
        return None
    for kind, field, ask in _ASKS:
        if kind not in kinds or not ask.search(text):
            continue
        notice = notices.latest_sent(db, group["name"], kind)
        if notice is None or (kind == "培训通知" and _over(notice["fields"], ctx)):
            continue
        value = str(notice["fields"].get(field, ""))
        if value:
            return Reply(f"《{notice['title']}》{FIELDS[kind][field]}：{show_field(field, value)}", kind="command")
    return None


def _over(fields: Mapping[str, str], ctx: Context) -> bool:
    try:
        return bool(fields.get("start")) and parse_when(fields["start"]) < ctx.now() - _TRAINING_OVER
    except InvalidInput:
        return False
