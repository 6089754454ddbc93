"""Every Chinese user-facing string and reply template, in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from disclosure.requests import OUTCOMES, STATUS_TEXT

HELP = (
    "您好，我是区市场监管（食品药品）信息公开助手。可以这样用：\n"
    "· 直接提问，如“开奶茶店要办什么证”“小饭桌怎么备案”，我从政府信息公开目录中查找答案；\n"
    "· 查询 2026-0007 —— 查看您提交的信息公开线索的办理进度；\n"
    "· 订阅 预警信息 / 退订 预警信息 —— 设置本群接收的通知类别；\n"
    "· 收到 / 已下架 —— 确认已收到本局推送的通知；\n"
    "· 报名 姓名 单位 —— 报名参加本群通知的培训。\n"
    "投诉举报请拨打12315或登录全国12315平台。"
)

FORMAL_REQUEST_GUIDE = (
    "如需正式申请政府信息公开，请向本局政府信息公开工作机构提交书面申请（含网上申请），写明："
    "①申请人姓名或者名称、身份证明、联系方式；②所需信息的名称、文号或者便于查询的特征性描述；"
    "③获取信息的方式、途径。本局自收到申请之日起20个工作日内答复。"
)

COMPLAINT_GUIDE = (
    "投诉举报不属于政府信息公开申请。请通过全国12315平台（网站、App、小程序）或拨打12315热线提出，"
    "投诉需写明您的姓名、电话、地址，被投诉人的名称、地址，以及具体诉求和事实。"
)

NOT_UNDERSTOOD = "没有收到问题内容，请直接输入您想了解的事项，或发送“帮助”查看用法。"

FOLLOW_UP_ALONE = "请把问题说完整一些，例如“2013年的抽检结果在哪看”“开药店要办什么证”，以便查找。"
TOO_SHORT = "问题太简短了，请说得具体一些，例如“小饭桌怎么备案”；发送“帮助”查看用法。"

GREETING = "您好！我是区市场监管（食品药品）信息公开助手。请直接输入您想了解的事项，例如“小饭桌怎么备案”；发送“帮助”查看全部用法。"

THANKS = "不客气！还有其他问题，可以随时提问。"

OKAY = "好的。还有其他问题，可以随时提问。"

FEEDBACK_NOTHING_BEFORE = "抱歉没能帮到您。可以换个说法再问一次，例如写明事项和地点；发送“帮助”查看用法。"


def feedback_registered(question: str, request_id: str) -> str:
    return (f"抱歉刚才的回答没能帮到您。您的问题“{question}”已登记，编号 {request_id}，工作人员将核实后与您联系；"
            f"发送“查询 {request_id}”可了解进度。")


TEXT_ONLY = "目前只能识别文字。请用文字描述您想了解的事项，例如“小饭桌怎么备案”。"

HANDOFF = "我是自动回复的信息公开助手，不能转接人工。需要与工作人员联系的，请拨打电话或到办事窗口："

HANDOFF_ELSEWHERE = "可拨打12345政务服务便民热线转接本局，投诉举报请拨打12315。"


def citation(match: Mapping[str, Any]) -> str:
    """Title, category, date and link of one catalog item; one no longer in force says so."""
    parts = [f"《{match['title']}》", "（已废止）" if match.get("retired") else "", f"（{match['category']}"]
    if match.get("published"):
        parts.append(f"，{match['published']}")
    parts.append("）")
    line = "".join(parts)
    return f"{line}\n{match['url']}" if match.get("url") else line


def answer(best: Mapping[str, Any], summary: str, alternatives: Sequence[Mapping[str, Any]]) -> str:
    text = f"为您找到：{citation(best)}"
    if summary:
        text += f"\n{summary}"
    if alternatives:
        text += "\n您是不是想问：" + "；".join(f"《{m['title']}》" for m in alternatives)
    return text


def no_answer(request_id: str, repeated: bool) -> str:
    head = "您的问题已登记" if not repeated else "您此前已提过相同问题"
    return (
        f"抱歉，公开目录中暂未找到能回答这个问题的信息。{head}，编号 {request_id}，工作人员将进行甄别并与您联系；"
        f"发送“查询 {request_id}”可了解进度。办事咨询也可拨打12345政务服务便民热线。\n{FORMAL_REQUEST_GUIDE}"
    )


NO_ANSWER_UNLOGGED = "抱歉，公开目录中暂未找到能回答这个问题的信息。" + FORMAL_REQUEST_GUIDE


def complaint(best: Mapping[str, Any] | None) -> str:
    text = COMPLAINT_GUIDE
    if best is not None:
        text += f"\n办事指南：{citation(best)}"
    return text


PAUSED = "正在征求第三方或其他机关意见，期间不计入答复期限，期限将相应顺延（条例第三十二至三十四条）。"


def understood_as(question: str) -> str:
    """Before the answer to a follow-up: how it was read together with the question before it."""
    return f"（按“{question}”理解）\n"


def request_status(request: Mapping[str, Any], own: bool = False) -> str:
    """What a chat may see of a request. Anyone with the number: how far it has got. The asker (`own`): also the
    question, the dates and the outcome in words. Never the staff's note: it may name people and hold numbers."""
    status = STATUS_TEXT.get(request["status"], request["status"])
    text = f"编号 {request['id']}：{status}。登记时间 {request['created_at'][:16].replace('T', ' ')}。"
    if not own:
        return text
    question = str(request.get("question", ""))
    text += f"\n您的问题：“{question[:40]}{'…' if len(question) > 40 else ''}”"
    if request.get("received_on"):
        text += f"\n收到日：{request['received_on']}。"
    if request["status"] == "answered" and request.get("outcome"):
        text += f"\n答复结果：{outcome_text(str(request['outcome']))}。"
    elif request.get("correction_overdue"):
        text += (f"\n补正期限 {request['correction_due']} 已过，尚未收到补正：无正当理由逾期不补正的，视为放弃申请"
                 "（条例第三十条）。")
    elif request["status"] == "correcting":
        due = request.get("correction_due")
        by = f"请在 {due}{_estimated(request)}（含当日）之前" if due else "请"
        text += f"\n{by}按告知的事项补正；收到补正之日起重新计算答复期限（条例第三十条）。"
    elif request.get("paused_on"):  # the due date will move: say so rather than show a date that may have passed
        text += f"\n答复期限：暂停计时中（暂停前为 {request['reply_due']}）。" + PAUSED
    elif request.get("reply_due"):
        text += f"\n答复期限：{request['reply_due']}{_due_marks(request)}。"
        if request.get("overdue"):
            text += "已超过答复期限，我们正在督办。"
    return text


def _estimated(request: Mapping[str, Any]) -> str:
    """（预估）: the running date (the reply's, or while correcting the correction's) lies in an unconfirmed year."""
    return "（预估）" if request.get("due_estimated") else ""


def _due_marks(request: Mapping[str, Any]) -> str:
    return _estimated(request) + ("（已依法延期）" if request.get("extended") else "")


def request_detail(request: Mapping[str, Any]) -> str:
    """What staff see (`requests show`): everything, the note included."""
    status = STATUS_TEXT.get(request["status"], request["status"])
    lines = [f"编号 {request['id']}：{status}。登记时间 {request['created_at'][:16].replace('T', ' ')}。",
             f"问题：{request['question']}", f"渠道：{request['channel']}/{request['bot']}"]
    if request.get("applicant_type"):
        lines.append(f"申请人类型：{request['applicant_type']}")
    if request.get("received_on"):
        lines.append(f"收到日：{request['received_on']}")
    if request.get("correction_asked_on"):
        waiting = request["status"] == "correcting"
        corrected = (f"，{request['corrected_on']} 收到补正" if request.get("corrected_on")
                     else "，待补正" if waiting else "，未收到补正")
        due = f"，补正期限 {request['correction_due']}" if request.get("correction_due") else ""
        due += _estimated(request) if due and waiting else ""
        late = "（已过）" if request.get("correction_overdue") else ""
        lines.append(f"补正：{request['correction_asked_on']} 告知{due}{late}{corrected}")
    if request.get("reply_due"):
        overdue = "，已逾期" if request.get("overdue") else ""
        lines.append(f"答复期限：{request['reply_due']}{_due_marks(request)}{overdue}")
    if request.get("paused_on") or request.get("paused_days"):
        now = f"自 {request['paused_on']} 起暂停计时中" if request.get("paused_on") else ""
        before = f"已暂停 {request['paused_days']} 个工作日" if request.get("paused_days") else ""
        lines.append(f"征求意见：{'；'.join(p for p in (now, before) if p)}")
    if request.get("outcome"):
        day = f"，{request['concluded_on']}" if request.get("concluded_on") else ""
        lines.append(f"答复结果：{outcome_text(str(request['outcome']))}（{request['outcome']}）{day}")
    if request.get("note"):
        lines.append(f"说明：{request['note']}")
    return "\n".join(lines)


def outcome_text(code: str) -> str:
    return OUTCOMES.get(code, code)


def own_requests(requests: Sequence[Mapping[str, Any]]) -> str:
    if not requests:
        return "没有找到您登记的问题。查询进度请附上编号，例如“查询 2026-0007”。"
    lines = [f"编号 {r['id']}：{STATUS_TEXT.get(r['status'], r['status'])}（{_clip(r['question'])}）" for r in requests]
    return "您最近登记的问题：\n" + "\n".join(lines) + "\n发送“查询 编号”查看详情。"


def _clip(text: str, size: int = 20) -> str:
    return text if len(text) <= size else text[:size] + "…"


def request_not_found(number: str) -> str:
    return f"没有找到编号为 {number} 的记录，请核对编号（形如 2026-0007）。"


def subscribed(group: str, category: str, categories: Sequence[str]) -> str:
    return f"本群“{group}”已订阅“{category}”。当前订阅：{'、'.join(categories) or '全部类别'}。"


def already_all(group: str, category: str) -> str:
    return (f"本群“{group}”目前接收全部类别的通知，已包含“{category}”，无需订阅。"
            f"如只想接收“{category}”，请发送“只订阅 {category}”；不想接收某类，请发送“退订 类别”。")


def unsubscribed(group: str, category: str, categories: Sequence[str]) -> str:
    return f"本群“{group}”已退订“{category}”。当前订阅：{'、'.join(categories) or '全部类别'}。"


def not_subscribed(group: str, category: str, categories: Sequence[str]) -> str:
    return f"本群“{group}”没有订阅“{category}”。当前订阅：{'、'.join(categories)}。"


def last_subscription(group: str, category: str) -> str:
    return (f"“{category}”是本群“{group}”订阅的唯一类别，退订后将没有可接收的通知。"
            "如本群不再需要任何推送，请联系工作人员移出推送名单。")


def subscriptions(group: str, categories: Sequence[str], known: Sequence[str]) -> str:
    now = "、".join(categories) if categories else "全部类别"
    return (f"本群“{group}”当前订阅：{now}。可订阅的类别：{'、'.join(known)}。"
            "发送“只订阅 类别”只接收该类别，“订阅 类别”再加一类，“退订 类别”不再接收该类别，例如“退订 培训通知”。")


def unknown_category(category: str, known: Sequence[str]) -> str:
    return f"没有“{category}”这个通知类别。可订阅：{'、'.join(known)}。"


GROUP_NOT_REGISTERED = "本群不在推送名单上，或群 ID 尚未登记，暂不能在群里订阅或退订。请联系工作人员。"
