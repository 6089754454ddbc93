"""Group replies to notices: 收到 / 已下架 / 1 (also 收到，谢谢 / 我们已经下架了) acknowledge the latest notice;
报名 姓名 单位 signs up for training.

Runs inside handle_inbound's transaction; returns None for anything else so
the next handler (the enquiry) sees it.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

from disclosure.requests import question_key
from errors import InvalidInput
from handlers import Context, Reply, pseudonym, texts
from handlers.commands import QUESTION_WORDS
from knowledge.lexicon import normalize
from platforms import Inbound
from scheduler import groups, notices

__all__ = ["handle", "acknowledgement"]

NOTHING_TO_ACKNOWLEDGE = "本群暂无需要回复的通知。"
SIGNUP_NOWHERE = "这里无法报名：本群不在推送名单上，或群 ID 尚未登记。请按培训通知中的联系方式报名。"
_TRIM = " \t\r\n。.！!，,～~"
# What an acknowledgement says once its courtesies are gone: 收到，谢谢 / 好的收到 / 我们已经全部下架了.
_COURTESY = re.compile(r"好的|好嘞|谢谢|多谢|感谢|辛苦了|辛苦|我们店|我们家|店里|我们|本店|我店|我家|已经|全部|都|均|共|"
                       r"马上去查|马上查|立即查|去查|查一下|正在查|马上|立即|了|啦|哈|嗯|ok|已")
_QUANTITY = re.compile(r"\d+(盒|箱|件|瓶|袋|包|个|支|罐|桶|斤|公斤|千克|份)")  # 已下架，共 5 盒
# A reply to a recall from a shop that never had the product: 本店无此批次, 没有进货, 暂无此产品, 没有.
_NONE_STOCKED = re.compile(r"暂?(无|没有|没|未)(进货|进过货|进过|销售过|销售|卖过|经营过|经营)?(此|这个|该|这款|这批|这种|相关|过)?"
                           r"(批次|批|产品|货|商品|库存)?(产品|货)?")
NONE_STOCKED = "无此产品"
_REPEATED = re.compile(r"(.+?)\1+")
_LONGEST_ACKNOWLEDGEMENT = 16  # characters once courtesies are gone: 收到收到收到 is one, a sentence is not
_ACKNOWLEDGEMENTS = {"收到": "收到", "下架": "已下架", "收到下架": "已下架", "下架收到": "已下架", "阅": "已阅", "读": "已阅",
                     "1": "1"}
# 报名 张三 某某餐厅, also 报名：张三，某某餐厅 and 报名 张三、某某餐厅
_SIGNUP = re.compile(r"^报名[\s:：]*([^\s,，、]+)?[\s,，、]*(.*)$")
_LEADING_ACK = re.compile(r"(?:好的|已经?)?(收到|下架)了?[\s,，。.!！;；]+")  # 收到，另外想问下…
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
        _acknowledge_before_question(db, ctx, event, text)
        return None
    group = groups.find_group(db, event.bot, event.chat)
    if group is None:  # 收到 from a chat we do not push to acknowledges nothing, and is no question either
        if signup:  # and a sign-up holds a name: never a possible request
            return Reply(SIGNUP_NOWHERE, kind="command")
        return Reply(NOTHING_TO_ACKNOWLEDGE, kind="command") if ack not in (None, "1") else None
    if ack == NONE_STOCKED and not _latest_is_recall(db, group["name"]):  # 没有 answers only a recall
        return Reply(texts.OKAY, kind="command")
    who = pseudonym(ctx.salt, event.platform, event.sender)
    if ack is not None:
        return _ack(db, group["name"], ack, who)
    return _signup(db, group["name"], text, who)


def acknowledgement(text: str) -> str | None:
    """收到, 已下架, 已阅 or 1 when the whole message is one of them, in everyday wording too; else None."""
    core = _QUANTITY.sub("", _COURTESY.sub("", question_key(text)))
    if len(core) > _LONGEST_ACKNOWLEDGEMENT:  # also spares _REPEATED, whose time grows with the square of the text
        return None
    core = _REPEATED.sub(r"\1", core)  # 收到收到 -> 收到
    if core in _ACKNOWLEDGEMENTS:
        return _ACKNOWLEDGEMENTS[core]
    if core.startswith("下架") and _NONE_STOCKED.fullmatch(core[2:]):  # 已下架，无库存
        return "已下架"
    return NONE_STOCKED if _NONE_STOCKED.fullmatch(core) else None


def _acknowledge_before_question(db: Database, ctx: Context, event: Inbound, text: str) -> None:
    """收到，另外想问下健康证在哪办: the 收到 counts for the latest notice, and the question goes on to be answered."""
    lead = _LEADING_ACK.match(text)
    if lead is None or not QUESTION_WORDS.search(text[lead.end():]):
        return
    group = groups.find_group(db, event.bot, event.chat)
    if group is not None:
        notices.acknowledge(db, group["name"], _ACKNOWLEDGEMENTS[lead.group(1)],
                            pseudonym(ctx.salt, event.platform, event.sender))


def _latest_is_recall(db: Database, group: str) -> bool:
    latest = notices.latest_sent(db, group)
    return latest is not None and latest["kind"] == "问题产品下架通知"


def _ack(db: Database, group: str, text: str, who: str) -> Reply | None:
    if text == "已下架" and not _latest_is_recall(db, group):  # 已下架 answers a recall; to anything else it is 收到
        text = "收到"
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
    if not name or not org or not re.search(r"[^\d\s-]", org):  # 报名 张三 13800138000: no unit given
        return Reply("报名格式：报名 姓名 单位，例如“报名 张三 某某餐饮店”；一次报一人。", kind="command")
    try:
        notice = notices.register_attendee(db, group, name, org, who)
    except InvalidInput as exc:  # the sign-up deadline has passed
        return Reply(str(exc), kind="command")
    if notice is None:
        return Reply("本群目前没有可报名的培训。", kind="command")
    return Reply(f"报名成功：{name}（{org}），培训《{notice['title']}》。", kind="command")
