"""Staff in their own groups (`[reminders] to`) ask for 今日待办 at any time, not only at the pushed hour.

Anywhere else the words are an ordinary message for the next handler: the list is for staff only.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

from handlers import Context, Reply
from knowledge.lexicon import normalize
from platforms import Inbound
from scheduler import groups, reminders

__all__ = ["handle"]

_TODO = re.compile(r"(今天|今日|现在)?(有)?(什么|哪些|啥)?(待办|待办事项|办理提醒|要办的|要办什么)(事项)?(吗|呢|呀)?")
_TRIM = " \t\r\n。.！!？?，,"


def handle(db: Database, ctx: Context, event: Inbound) -> Reply | None:
    staff = ctx.reminders.to
    if not staff or not _TODO.fullmatch(normalize(event.text).strip(_TRIM)):
        return None
    group = groups.find_group(db, event.bot, event.chat)
    if group is None or group not in groups.select_groups(db, staff):
        return None
    data, message = reminders.compose(db, ctx.now(), ctx.reminders.ahead)
    if message is None:
        return Reply(f"{data['day']} 没有需要提醒的事项。", kind="command")
    return Reply(f"{message.title}\n\n{message.body}", kind="command")
