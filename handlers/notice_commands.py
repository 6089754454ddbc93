"""Group replies to notices: 收到 / 已下架 / 1 (also 收到，谢谢 / 我们已经下架了) acknowledge the latest notice;
报名 姓名 单位 signs up for training.

Runs inside handle_inbound's transaction; returns None for anything else so
the next handler (the enquiry) sees it.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

from disclosure.requests import question_key
from handlers import Context, Reply, pseudonym
from handlers.commands import QUESTION_WORDS
from knowledge.lexicon import normalize
from platforms import Inbound
from scheduler import groups, notices

__all__ = ["handle", "acknowledgement"]

NOTHING_TO_ACKNOWLEDGE = "本群暂无需要回复的通知。"
_TRIM = " \t\r\n。.！!，,～~"
# What an acknowledgement says once its courtesies are gone: 收到，谢谢 / 好的收到 / 我们已经全部下架了.
_COURTESY = re.compile(r"好的|好嘞|谢谢|多谢|感谢|辛苦了|辛苦|我们|本店|我店|已经|全部|都|均|马上|立即|了|啦|哈|嗯|ok|已")
_REPEATED = re.compile(r"(.+?)\1+")
_LONGEST_ACKNOWLEDGEMENT = 16  # characters once courtesies are gone: 收到收到收到 is one, a sentence is not
_ACKNOWLEDGEMENTS = {"收到": "收到", "下架": "已下架", "收到下架": "已下架", "下架收到": "已下架", "阅": "已阅", "读": "已阅",
                     "1": "1"}
_SIGNUP = re.compile(r"^报名[\s:：]*(\S+)?\s*(.*)$")
_CODE = re.compile(r"^(?:确认|收到|已下架)?[\s:：]*(\d+-[0-9A-Za-z]{4})$")  # from groups whose bot cannot read


def handle(db: Database, ctx: Context, event: Inbound) -> Reply | None:
    """Answer an acknowledgement or a registration from a known group; None lets the enquiry handler try."""
    text = normalize(event.text).strip(_TRIM)  # 報名 reads as 报名
    code = _CODE.match(text)
    if code:
        return _ack_by_code(db, code.group(1), pseudonym(ctx.salt, event.platform, event.sender))
    ack = acknowledgement(text)
    signup = text.startswith("报名") and not QUESTION_WORDS.search(text)  # 报名要带什么材料 is a question
    if ack is None and not signup:
        return None
    group = groups.find_group(db, event.bot, event.chat)
    if group is None:  # 收到 from a chat we do not push to acknowledges nothing, and is no question either
        return Reply(NOTHING_TO_ACKNOWLEDGE, kind="command") if ack not in (None, "1") else None
    who = pseudonym(ctx.salt, event.platform, event.sender)
    if ack is not None:
        return _ack(db, group["name"], ack, who)
    return _signup(db, group["name"], text, who)


def acknowledgement(text: str) -> str | None:
    """收到, 已下架, 已阅 or 1 when the whole message is one of them, in everyday wording too; else None."""
    core = _COURTESY.sub("", question_key(text))
    if len(core) > _LONGEST_ACKNOWLEDGEMENT:  # also spares _REPEATED, whose time grows with the square of the text
        return None
    return _ACKNOWLEDGEMENTS.get(_REPEATED.sub(r"\1", core))  # 收到收到 -> 收到


def _ack(db: Database, group: str, text: str, who: str) -> Reply | None:
    notice = notices.acknowledge(db, group, text, who)
    if notice is None:
        return None if text == "1" else Reply(NOTHING_TO_ACKNOWLEDGE, kind="command")
    return Reply(f"已登记：本群已确认《{notice['title']}》（{text}）。谢谢！", kind="command")


def _ack_by_code(db: Database, code: str, who: str) -> Reply:
    found = notices.acknowledge_code(db, code, who)
    if found is None:
        return Reply(f"确认码 {code} 无效，请核对通知中的确认码。", kind="command")
    notice, group = found
    return Reply(f"已登记：“{group}”已确认《{notice['title']}》。谢谢！", kind="command")


def _signup(db: Database, group: str, text: str, who: str) -> Reply:
    match = _SIGNUP.match(text)
    name, org = (match.group(1) or "", match.group(2).strip()) if match else ("", "")
    if not name or not org:
        return Reply("报名格式：报名 姓名 单位，例如“报名 张三 某某餐饮店”。", kind="command")
    notice = notices.register_attendee(db, group, name, org, who)
    if notice is None:
        return Reply("本群目前没有可报名的培训。", kind="command")
    return Reply(f"报名成功：{name}（{org}），培训《{notice['title']}》。", kind="command")
