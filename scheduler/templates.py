"""Notice kinds, their `--field` names, and the Chinese rendering of a notice into one platforms.Message.

The body is copied verbatim: staff wrote and approved it, so no template rewrites a word of it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import clock
from errors import InvalidInput
from platforms import Message

__all__ = ["KINDS", "FIELDS", "REQUIRED", "DATE_FIELDS", "check_fields", "parse_when", "show_field", "render",
           "ACK_WORDS", "REMINDER_KIND"]

KINDS: tuple[str, ...] = ("通知公告", "培训通知", "预警信息", "问题产品下架通知", "专项整治", "自查提醒")
FIELDS: dict[str, dict[str, str]] = {
    "通知公告": {},
    "培训通知": {"start": "培训时间", "place": "培训地点", "audience": "参加对象", "contact": "联系人",
                 "register_by": "报名截止"},
    "预警信息": {"season": "时段", "risks": "主要风险", "audience": "提示对象"},
    "问题产品下架通知": {"product": "产品名称", "manufacturer": "标称生产企业", "batch": "生产日期/批号",
                         "spec": "规格型号", "failed_item": "不合格项目", "source": "通告来源",
                         "reply_by": "回复期限"},
    "专项整治": {},
    "自查提醒": {},
}
REQUIRED: dict[str, tuple[str, ...]] = {"培训通知": ("start",)}
DATE_FIELDS: tuple[str, ...] = ("start", "register_by", "reply_by")
ACK_WORDS: dict[str, str] = {"问题产品下架通知": "已下架"}
# The staff's deadline reminder (scheduler/reminders.py): generated, not a kind staff create or groups subscribe to.
REMINDER_KIND = "办理提醒"
_YEARS = (2000, 2100)
_ACK_CODE_LINE = ("收到请回复确认：本群机器人读不到群内回复，请在本局任一咨询渠道发送“确认 {code}”，"
                  "或致电联系人告知确认码 {code}。")


def check_kind(kind: str) -> str:
    if kind not in FIELDS:
        raise InvalidInput(f"未知的通知类型 {kind!r}；可选：{' '.join(KINDS)}")
    return kind


def check_fields(kind: str, fields: Mapping[str, str]) -> dict[str, str]:
    """Known names only, required ones present, dates readable: a typo must not reach 1,000 groups."""
    allowed = FIELDS[check_kind(kind)]
    for name in fields:
        if name not in allowed:
            known = "、".join(allowed) if allowed else "无"
            raise InvalidInput(f"{kind} 没有字段 {name!r}；可用字段：{known}")
    for name in REQUIRED.get(kind, ()):
        if not str(fields.get(name, "")).strip():
            raise InvalidInput(f"{kind} 必须填写字段 {name}（{allowed[name]}），如 --field {name}=2026-12-01T09:00")
    for name in DATE_FIELDS:
        if fields.get(name):
            parse_when(str(fields[name]), name)
    return {k: str(v).strip() for k, v in fields.items()}


def parse_when(text: str, what: str = "时间") -> datetime:
    """ISO 8601 with or without seconds (`T` or a space); no zone means Asia/Shanghai."""
    value = unicodedata.normalize("NFKC", text).strip().replace("Z", "+00:00")  # full-width digits too
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}: 无法识别的时间 {text!r}，应为 2026-12-01T09:00 这样的格式") from None
    if not _YEARS[0] <= moment.year <= _YEARS[1]:  # 9999-12-31 is a typo, and overflows with a time zone
        raise InvalidInput(f"{what}: 时间 {text!r} 不在 {_YEARS[0]}–{_YEARS[1]} 年之间")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.TZ)
    return moment.astimezone(clock.TZ)


def show_field(name: str, value: str) -> str:
    """A field as people read it: dates in Chinese, the rest verbatim."""
    if name in DATE_FIELDS:
        try:
            return parse_when(value).strftime("%Y年%m月%d日 %H:%M").replace(" 00:00", "")
        except InvalidInput:
            return value
    return value


def render(notice: Mapping[str, Any], reminder: str = "", ack_code: str = "", at_bot: bool = False) -> Message:
    """The one message source every platform adapter renders: title, fields, body verbatim, reply line.

    `ack_code`: for a group whose bot cannot read replies, the code to confirm with elsewhere. `at_bot`: the
    bot reads only messages that @ it, so the reply lines ask for the @."""
    kind, fields = notice["kind"], notice.get("fields") or {}
    title = f"{reminder}：{notice['title']}" if reminder else f"{kind}：{notice['title']}"
    if kind == REMINDER_KIND:  # for staff: no reply asked for
        return Message(body=notice["body"], title=title)
    shown = tuple((label, show_field(name, fields[name])) for name, label in FIELDS[kind].items() if fields.get(name))
    reply = "@机器人回复" if at_bot else "回复"
    tail = []
    if kind == "问题产品下架通知":  # with a code, the group's replies cannot be read: confirm with the code
        tail.append("请立即停止经营、下架，并按下方方式确认。" if ack_code else f"请立即停止经营、下架并{reply}“已下架”。")
    if kind == "培训通知":
        by_contact = "报名请按上方联系方式办理。" if fields.get("contact") else "报名请联系发布本通知的单位。"
        tail.append(by_contact if ack_code else f"报名请{reply}“报名 姓名 单位”。")
    if ack_code:
        tail.append(_ACK_CODE_LINE.format(code=ack_code))
    elif kind not in ACK_WORDS:  # a recall already asks for 已下架: one reply asked for, not two
        tail.append(f"收到请{reply}“收到”。")
    return Message(body=notice["body"] + "\n\n" + "\n".join(tail), title=title, fields=shown)
