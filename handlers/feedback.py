"""不对 / 答非所问 after an answer: the catalog answered wrongly, so the question goes to staff after all.

The asker's last question in the same chat (within half an hour) becomes a possible request, and the message
is logged as kind "feedback", so staff can list the answers people said were wrong.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlite_utils import Database

import clock
from disclosure.requests import open_possible_request, question_key
from handlers import Context, Reply, pseudonym, texts
from handlers.enquiry import combine, follow_up
from platforms import Inbound

__all__ = ["handle"]

_WRONG = re.compile(
    r"(不是这个|不是我要的|不是我问的|不是这个意思|不对|错了|答错了|回答错了|答非所问|文不对题|牛头不对马嘴|没用|没有用"
    r"|没啥用|没帮助|没有帮助|看不懂|不相关|不是|不是的)(啊|呀|吧|哦|啦|呢)?")
_RECENT = timedelta(minutes=30)


def handle(db: Database, ctx: Context, event: Inbound) -> Reply | None:
    if not _WRONG.fullmatch(question_key(event.text)):
        return None
    sender = pseudonym(ctx.salt, event.platform, event.sender)
    now = ctx.now()
    rows = db.execute(
        "SELECT question, request_id FROM enquiries WHERE at >= ? AND channel = ? AND chat = ? AND sender = ?"
        " AND kind = 'enquiry' ORDER BY id DESC LIMIT 5",
        [clock.iso(now - _RECENT), event.platform, event.chat, sender]).fetchall()
    if not rows:
        return Reply(texts.FEEDBACK_NOTHING_BEFORE, kind="feedback")
    question, number = rows[0]
    fragment = follow_up(question)
    previous = next((q for q, _ in rows[1:] if follow_up(q) is None), None) if fragment else None
    if fragment and previous:  # 那药店呢 was answered as 开药店要办什么证: staff need the whole question
        question = combine(previous, fragment)
    if not number:
        request, _ = open_possible_request(db, question.strip(), sender, event.platform, event.bot, event.chat, now)
        number = request["id"]
    return Reply(texts.feedback_registered(question, number), kind="feedback", request_id=number)
