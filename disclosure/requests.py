"""Possible and formal disclosure requests (依申请公开): numbering, states, outcome codes, deadlines.

A question the catalog cannot answer opens a *possible* request (待甄别线索), status `pending`. A chat message
does not start the statutory clock: staff confirm receipt (`accept`, 收到日), and only then is the reply due
20 working days later (条例 art.33). Numbers are `YYYY-NNNN`, counted per year.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

import clock
from errors import InvalidInput, NotFound
from knowledge.lexicon import READ_LIMIT, normalize
from store import dumps, insert_row, loads

__all__ = [
    "STATUSES",
    "STATUS_TEXT",
    "extend_request",
    "history",
    "OUTCOMES",
    "question_key",
    "open_possible_request",
    "get_request",
    "list_requests",
    "accept_request",
    "register_request",
    "SUBMISSION_CHANNELS",
    "close_request",
    "answer_request",
    "mark_faq",
    "APPLICANT_TYPES",
    "set_applicant",
    "ask_correction",
    "record_correction",
    "pause_request",
    "resume_request",
]

STATUSES = ("pending", "accepted", "correcting", "faq", "answered", "closed")
STATUS_TEXT = {"pending": "已登记，待工作人员甄别", "accepted": "已转为正式申请，办理中",
               "correcting": "已告知申请人补正，待补正", "faq": "已补充到公开目录", "answered": "已答复", "closed": "已关闭"}
_FORMAL = ("accepted", "correcting", "answered")  # a request staff confirmed receiving: the annual report counts it
SUBMISSION_CHANNELS = ("当面", "邮寄", "平信", "互联网", "传真")  # 提交渠道 of a request not made in a chat
# The annual report's columns (table 三): 自然人, then the kinds of 法人或其他组织.
APPLICANT_TYPES = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")

# DOMAIN.md §7: outcome code -> label (the annual report rows are derived from these).
OUTCOMES: dict[str, str] = {
    "already_public": "已主动公开,告知获取方式、途径",
    "granted": "予以公开",
    "partial": "部分公开（区分处理）",
    "deny_state_secret": "属于国家秘密",
    "deny_law_forbids": "其他法律行政法规禁止公开",
    "deny_three_security": "危及“三安全一稳定”",
    "deny_third_party": "保护第三方合法权益",
    "deny_internal": "属于三类内部事务信息",
    "deny_process": "属于四类过程性信息",
    "deny_case_file": "属于行政执法案卷",
    "deny_admin_query": "属于行政查询事项",
    "none_not_held": "本机关不掌握相关政府信息",
    "none_needs_creation": "没有现成信息需要另行制作",
    "none_unclear": "补正后申请内容仍不明确",
    "reject_petition": "信访举报投诉类申请",
    "reject_repeat": "重复申请",
    "reject_publication": "要求提供公开出版物",
    "reject_excessive": "无正当理由大量反复申请",
    "reject_confirm": "要求行政机关确认或重新出具已获取信息",
    "other_no_correction": "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    "other_no_fee": "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
    "other": "其他",
}

_SAME_QUESTION_WINDOW = timedelta(days=1)
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_REPLY_DAYS = 20  # 条例 art.33
_REPLY_DAYS_BEFORE_2019 = 15  # 2008 text, requests received before 2019-05-15
_NEW_RULES_FROM = date(2019, 5, 15)
_FIRST_RULES_FROM = date(2008, 5, 1)  # the 2008 条例 (国务院令第492号) took effect: no statutory deadline before
_CORRECTION_NOTICE_DAYS = 7  # art.30: the 补正 notice goes out within 7 working days of receipt
CORRECTION_PERIOD = 15  # working days the applicant gets to correct, unless the notice says otherwise
_CORRECTION_PERIOD_MAX = 60
_CONSULT_DAYS = 15  # art.32: a consulted third party answers within 15 working days


def question_key(question: str) -> str:
    """The question without width, case, script (traditional reads as simplified), spaces and punctuation: what
    'the same question' means, and what the chat commands read. Of a long message, its first READ_LIMIT
    characters."""
    return _question_key(question[:READ_LIMIT])


@functools.lru_cache(maxsize=4096)  # each handler of an inbound message asks for it
def _question_key(question: str) -> str:
    return _NOISE.sub("", normalize(question))


def open_possible_request(db: Database, question: str, sender: str, channel: str, bot: str, chat: str,
                          now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """(request, repeated): the same sender asking the same thing within a day gets the same number."""
    moment = now or clock.now()
    key = question_key(question)
    if sender:
        since = clock.iso(moment - _SAME_QUESTION_WINDOW)
        cursor = db.execute(
            "SELECT * FROM requests WHERE sender = ? AND question_key = ? AND created_at >= ? "
            "ORDER BY created_at DESC LIMIT 1", [sender, key, since])
        row = cursor.fetchone()
        if row is not None:
            return _with_overdue(_as_dict(cursor, row), moment.date()), True
    year = moment.year
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM requests WHERE year = ?", [year]).fetchone()[0]
    request = {
        "id": f"{year}-{seq:04d}", "year": year, "seq": seq, "status": "pending",
        "created_at": clock.iso(moment), "updated_at": clock.iso(moment), "question": question,
        "question_key": key, "sender": sender, "channel": channel, "bot": bot, "chat": chat,
        "received_on": "", "reply_due": "", "due_estimated": 0, "outcome": "", "note": "",
    }
    insert_row(db, "requests", request)
    return request, False


def get_request(db: Database, number: str, today: date | None = None) -> dict[str, Any]:
    cursor = db.execute("SELECT * FROM requests WHERE id = ?", [number.strip()])  # on the chat's hot path
    row = cursor.fetchone()
    if row is None:
        raise NotFound(f"没有编号为 {number} 的申请")
    return _with_overdue(_as_dict(cursor, row), today or clock.now().date())


def requests_of(db: Database, sender: str, limit: int = 5, today: date | None = None) -> list[dict[str, Any]]:
    """The newest possible requests one (pseudonymous) sender opened: for 我的申请到哪了 without a number."""
    if not sender:
        return []
    cursor = db.execute("SELECT * FROM requests WHERE sender = ? ORDER BY created_at DESC, seq DESC LIMIT ?",
                        [sender, limit])
    day = today or clock.now().date()
    return [_with_overdue(_as_dict(cursor, row), day) for row in cursor.fetchall()]


def _as_dict(cursor: Any, row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip([column[0] for column in cursor.description], row))


def list_requests(db: Database, status: str | None = None, today: date | None = None,
                  overdue: bool = False, calendar: Any = None) -> list[dict[str, Any]]:
    """Requests by number; `overdue`: only the ones to chase, formal requests open past their reply date or
    their 补正 period (`correction_overdue`). With a calendar, a paused request also says when the consultation's
    15 working days end (`consult_due`, art.32), and one past that is to chase too (`consult_overdue`)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"未知状态 {status!r}，可选：{', '.join(STATUSES)}")
    where, args = ("status = ?", [status]) if status else (None, [])
    day = today or clock.now().date()
    rows = [_with_overdue(r, day) for r in db["requests"].rows_where(where, args, order_by="year, seq")]
    if calendar is not None:
        for row in rows:
            if row.get("paused_on"):
                due = calendar.add_workdays(date.fromisoformat(row["paused_on"]), _CONSULT_DAYS)
                row.update(consult_due=due.isoformat(), consult_overdue=due < day)
    return [r for r in rows if r["overdue"] or r["correction_overdue"] or r.get("consult_overdue")] if overdue else rows


def history(db: Database, number: str) -> list[dict[str, Any]]:
    """Every change to a request, oldest first: the notes of earlier steps too, which `note` no longer holds."""
    rows = db.execute("SELECT at, change FROM request_events WHERE request_id = ? ORDER BY id", [number]).fetchall()
    return [{"at": at, **loads(change, {})} for at, change in rows]


def _with_overdue(request: dict[str, Any], today: date) -> dict[str, Any]:
    """`overdue`: a formal request still open past its reply date (the due day itself is still in time).
    `correction_overdue`: the applicant's 补正 period is over and no correction came."""
    due = request.get("reply_due")
    running = request["status"] == "accepted" and not request.get("paused_on")  # a pause stops the clock
    waiting = request["status"] == "correcting" and request.get("correction_due")
    return {**request, "overdue": bool(running and due and date.fromisoformat(due) < today),
            "correction_overdue": bool(waiting and date.fromisoformat(request["correction_due"]) < today)}


def accept_request(db: Database, number: str, received_on: date, by: str, calendar: Any,
                   note: str = "", now: datetime | None = None, applicant_type: str = "") -> dict[str, Any]:
    """Staff confirm receipt: the statutory clock starts on `received_on` (start day excluded). `applicant_type`
    (one of APPLICANT_TYPES) is the annual report's column; it can be set later with `set_applicant`."""
    by, applicant_type = _check_receipt(received_on, by, applicant_type, now)
    request = _require(db, number, ("pending",))
    created = date.fromisoformat(request["created_at"][:10])
    if received_on < created:  # a typo (02-10 for 12-10) would make it overdue at once
        raise InvalidInput(f"收到日 {received_on.isoformat()} 早于该线索的登记日 {created.isoformat()}：正式申请在线索登记之后收到，"
                           "请核对日期；当面、邮寄等渠道收到的申请用 requests new 登记")
    return _start_clock(db, request, received_on, by, calendar, note, now, applicant_type)


def register_request(db: Database, question: str, received_on: date, by: str, calendar: Any, via: str = "当面",
                     note: str = "", now: datetime | None = None, applicant_type: str = "") -> dict[str, Any]:
    """A formal request that did not start in a chat (handed in, posted, faxed ...): numbered and accepted at once,
    on the day it was really received, which may be before today (last December's letters, entered in January)."""
    if not question.strip():
        raise InvalidInput("须写明申请公开的信息（名称、文号或便于查询的特征描述）")
    if via not in SUBMISSION_CHANNELS:
        raise InvalidInput(f"未知提交渠道 {via!r}，可选：{'、'.join(SUBMISSION_CHANNELS)}")
    by, applicant_type = _check_receipt(received_on, by, applicant_type, now)
    request, _ = open_possible_request(db, question.strip(), "", via, by, "", now=now)
    return _start_clock(db, request, received_on, by, calendar, note, now, applicant_type)


def _check_receipt(received_on: date, by: str, applicant_type: str, now: datetime | None) -> tuple[str, str]:
    """(staff name, applicant type) as stored, once the receipt date is one a request can have."""
    by = _staff(by)
    applicant_type = _applicant(applicant_type) if applicant_type else ""
    _not_future(received_on, "收到日", now)
    if received_on < _FIRST_RULES_FROM:
        raise InvalidInput(f"收到日 {received_on.isoformat()} 早于《政府信息公开条例》施行日 "
                           f"{_FIRST_RULES_FROM.isoformat()}，没有法定答复期限")
    return by, applicant_type


def _start_clock(db: Database, request: dict[str, Any], received_on: date, by: str, calendar: Any, note: str,
                 now: datetime | None, applicant_type: str) -> dict[str, Any]:
    """The request becomes formal: its reply period runs from `received_on` (checked by _check_receipt)."""
    due, estimated = statutory_due(received_on, calendar)
    kind = f"（{applicant_type}）" if applicant_type else ""
    return _update(db, request, now, status="accepted", received_on=received_on.isoformat(),
                   reply_due=due.isoformat(), due_estimated=int(estimated), applicant_type=applicant_type,
                   note=_signed(f"{by} 确认收到申请{kind}", note))


def statutory_due(received_on: date, calendar: Any, extended: bool = False) -> tuple[date, bool]:
    """(reply due, estimated): 20 working days after receipt, 15 for requests received under the 2008 text;
    an extension (art.33) adds as many again, counted from the first due date."""
    days = _REPLY_DAYS if received_on >= _NEW_RULES_FROM else _REPLY_DAYS_BEFORE_2019
    due, estimated = calendar.due(received_on, days)
    if extended:
        due, later = calendar.due(due, days)
        estimated = estimated or later
    return due, bool(estimated)


def extend_request(db: Database, number: str, by: str, reason: str, calendar: Any,
                   now: datetime | None = None) -> dict[str, Any]:
    """条例 art.33: once, with the head of the office's consent, and the applicant told; the reason is recorded."""
    by = _staff(by)
    if not reason.strip():
        raise InvalidInput("延期须写明理由（条例第三十三条：经负责人同意并告知申请人）")
    request = _require(db, number, ("accepted",))
    if request.get("extended"):
        raise InvalidInput(f"编号 {number} 已延期过一次，答复期限 {request['reply_due']}：条例只允许延长一次")
    if not request.get("paused_on") and _today(now) > date.fromisoformat(request["reply_due"]):
        raise InvalidInput(f"编号 {number} 的答复期限 {request['reply_due']} 已过：延期须在答复期限内决定并告知申请人")
    due, estimated = reply_due({**request, "extended": 1}, calendar)
    return _update(db, request, now, extended=1, reply_due=due.isoformat(), due_estimated=int(estimated),
                   note=_signed(f"{by} 延长答复期限至 {due.isoformat()}", reason))


def reply_due(request: dict[str, Any], calendar: Any) -> tuple[date, bool]:
    """(reply due, estimated) of a formal request: counted from its receipt, or from the day its correction
    arrived (art.30), extended once (art.33), and moved on by the working days it was paused (arts.32-34)."""
    start = date.fromisoformat(request.get("corrected_on") or request["received_on"])
    due, estimated = statutory_due(start, calendar, bool(request.get("extended")))
    if request.get("paused_days"):
        due, later = calendar.due(due, int(request["paused_days"]))
        estimated = estimated or later
    return due, estimated


def recompute_due_dates(db: Database, calendar: Any, now: datetime | None = None) -> int:
    """After the working-day calendar changed (an override, a confirmed year), the open requests' due dates as
    that calendar gives them, and the ends of 补正 periods; each change goes into the request's history. How many
    changed."""
    cursor = db.execute("SELECT * FROM requests WHERE received_on != '' AND (status = 'accepted'"
                        " OR status = 'correcting' AND correction_days > 0)")
    changed = 0
    for request in [_as_dict(cursor, row) for row in cursor.fetchall()]:
        if request["status"] == "correcting":
            field = "correction_due"
            asked = date.fromisoformat(request["correction_asked_on"])
            due, estimated = calendar.due(asked, request["correction_days"])
        else:
            field = "reply_due"
            due, estimated = reply_due(request, calendar)
        if (due.isoformat(), int(estimated)) != (request[field], request["due_estimated"]):
            _update(db, request, now, **{field: due.isoformat(), "due_estimated": int(estimated)})
            changed += 1
    return changed


def set_applicant(db: Database, number: str, applicant_type: str, by: str,
                  now: datetime | None = None) -> dict[str, Any]:
    """The applicant's type (自然人, 商业企业 ...), for the annual report; staff learn it from the formal request."""
    by = _staff(by)
    applicant_type = _applicant(applicant_type)
    request = _require(db, number, _FORMAL)
    return _update(db, request, now, applicant_type=applicant_type, note=f"{by} 登记申请人类型：{applicant_type}")


def ask_correction(db: Database, number: str, by: str, items: str, calendar: Any, on: date | None = None,
                   now: datetime | None = None, within: int = CORRECTION_PERIOD) -> dict[str, Any]:
    """条例 art.30: the one 补正 notice, naming what to correct and the period to do it in (`within` working
    days). The clock stops until the correction arrives, and restarts from that day; a notice later than 7
    working days after receipt is recorded as late."""
    by = _staff(by)
    if not items.strip():
        raise InvalidInput("补正告知须写明需要补正的事项（条例第三十条：一次性告知）")
    if not 1 <= within <= _CORRECTION_PERIOD_MAX:
        raise InvalidInput(f"补正期限应为 1–{_CORRECTION_PERIOD_MAX} 个工作日，现为 {within}")
    request = _require(db, number, ("accepted",))
    if request.get("correction_asked_on"):
        raise InvalidInput(f"编号 {number} 已于 {request['correction_asked_on']} 告知过补正：条例第三十条要求一次性告知")
    if request.get("extended"):
        raise InvalidInput(f"编号 {number} 已延期：内容不明确的，应在延期前告知补正（条例第三十条）")
    if request.get("paused_on") or request.get("paused_days"):
        raise InvalidInput(f"编号 {number} 已征求过意见：内容不明确的，应在征求意见前告知补正（条例第三十条）")
    day = _step_day(on, request["received_on"], "补正告知日", "收到日", now)
    limit = calendar.add_workdays(date.fromisoformat(request["received_on"]), _CORRECTION_NOTICE_DAYS)
    late = f"（晚于条例第三十条规定的 {limit.isoformat()}）" if day > limit else ""
    due, estimated = calendar.due(day, within)
    return _update(db, request, now, status="correcting", correction_asked_on=day.isoformat(), reply_due="",
                   due_estimated=int(estimated), correction_due=due.isoformat(), correction_days=within,
                   note=_signed(f"{by} {day.isoformat()} 告知申请人补正，补正期限 {due.isoformat()}{late}", items))


def record_correction(db: Database, number: str, received_on: date, by: str, calendar: Any, note: str = "",
                      now: datetime | None = None) -> dict[str, Any]:
    """The corrected request arrived on `received_on`: the reply period starts again from that day (art.30)."""
    by = _staff(by)
    request = _require(db, number, ("correcting",))
    day = _step_day(received_on, request["correction_asked_on"], "补正收到日", "补正告知日", now)
    due, estimated = reply_due({**request, "corrected_on": day.isoformat()}, calendar)
    return _update(db, request, now, status="accepted", corrected_on=day.isoformat(), reply_due=due.isoformat(),
                   due_estimated=int(estimated),
                   note=_signed(f"{by} {day.isoformat()} 收到补正，答复期限重新起算至 {due.isoformat()}", note))


def pause_request(db: Database, number: str, by: str, reason: str, on: date | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """条例 arts.32-34: from `on`, the time spent consulting a third party or another agency is not counted."""
    by = _staff(by)
    if not reason.strip():
        raise InvalidInput("暂停计时须写明征求意见的对象和事项（条例第三十二至三十四条）")
    request = _require(db, number, ("accepted",))
    if request.get("paused_on"):
        raise InvalidInput(f"编号 {number} 自 {request['paused_on']} 起已暂停计时，请先恢复计时")
    day = _step_day(on, request.get("resumed_on") or request.get("corrected_on") or request["received_on"], "暂停日",
                    "上次恢复计时日" if request.get("resumed_on") else "起算日", now)
    if day > date.fromisoformat(request["reply_due"]):
        raise InvalidInput(f"暂停日 {day.isoformat()} 已过答复期限 {request['reply_due']}：逾期后不能再暂停计时")
    return _update(db, request, now, paused_on=day.isoformat(),
                   note=_signed(f"{by} 自 {day.isoformat()} 起征求意见，暂停计时", reason))


def resume_request(db: Database, number: str, by: str, calendar: Any, on: date | None = None, note: str = "",
                   now: datetime | None = None) -> dict[str, Any]:
    """The opinion arrived on `on`: the working days after the pause began, up to that day, are added to the
    reply period."""
    by = _staff(by)
    request = _require(db, number, ("accepted",))
    if not request.get("paused_on"):
        raise InvalidInput(f"编号 {number} 没有暂停计时")
    start = date.fromisoformat(request["paused_on"])
    day = _step_day(on, request["paused_on"], "恢复日", "暂停日", now)
    paused = int(request["paused_days"]) + calendar.workdays_between(start, day)
    due, estimated = reply_due({**request, "paused_days": paused}, calendar)
    return _update(db, request, now, paused_on="", resumed_on=day.isoformat(), paused_days=paused,
                   reply_due=due.isoformat(), due_estimated=int(estimated),
                   note=_signed(f"{by} {day.isoformat()} 恢复计时，共暂停 {paused} 个工作日，答复期限 {due.isoformat()}",
                                note))


def answer_request(db: Database, number: str, outcome: str, by: str, note: str = "", on: date | None = None,
                   now: datetime | None = None) -> dict[str, Any]:
    """The outcome (DOMAIN.md §7), concluded on `on` (today by default): the annual report counts it in that year."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"未知结果代码 {outcome!r}，可选：{', '.join(OUTCOMES)}")
    by = _staff(by)
    request = _require(db, number, ("accepted", "correcting"))
    if outcome == "other_no_correction" and request["status"] != "correcting":
        raise InvalidInput(f"编号 {number} 未告知补正：不能以“{OUTCOMES[outcome]}”办结")
    if outcome == "none_unclear" and not request.get("corrected_on"):
        raise InvalidInput(f"编号 {number} 未收到补正：“{OUTCOMES[outcome]}”只用于补正后内容仍不明确的申请")
    steps = {"收到日": request["received_on"], "补正告知日": request.get("correction_asked_on", ""),
             "补正收到日": request.get("corrected_on", ""), "恢复计时日": request.get("resumed_on", ""),
             "暂停日": request.get("paused_on", "")}
    latest = max((d, what) for what, d in steps.items() if d)
    day = _step_day(on, latest[0], "答复日", latest[1], now)
    if outcome == "other_no_correction" and day.isoformat() <= request.get("correction_due", ""):
        raise InvalidInput(f"编号 {number} 的补正期限 {request['correction_due']} 尚未届满：期满仍未补正的，"
                           f"才能以“{OUTCOMES[outcome]}”办结")
    return _update(db, request, now, status="answered", outcome=outcome, concluded_on=day.isoformat(), paused_on="",
                   note=_signed(f"{by}：{OUTCOMES[outcome]}", note))


def close_request(db: Database, number: str, by: str, reason: str, now: datetime | None = None) -> dict[str, Any]:
    by = _staff(by)
    if not reason.strip():
        raise InvalidInput("关闭线索须写明理由")
    request = _require(db, number, ("pending",))
    return _update(db, request, now, status="closed", note=f"{by}：{reason.strip()}")


def mark_faq(db: Database, number: str, by: str, note: str = "", now: datetime | None = None) -> dict[str, Any]:
    """The question deserved a catalog item; staff added one."""
    by = _staff(by)
    request = _require(db, number, ("pending",))
    return _update(db, request, now, status="faq", note=_signed(f"{by} 已补充到公开目录", note))


def _applicant(text: str) -> str:
    kind = normalize(text).strip()
    if kind not in APPLICANT_TYPES:
        raise InvalidInput(f"未知申请人类型 {text!r}，可选：{'、'.join(APPLICANT_TYPES)}")
    return kind


def _today(now: datetime | None) -> date:
    return (now or clock.now()).astimezone(clock.TZ).date()


def _not_future(day: date, what: str, now: datetime | None) -> None:
    today = _today(now)
    if day > today:
        raise InvalidInput(f"{what} {day.isoformat()} 晚于今天 {today.isoformat()}：不能登记尚未发生的事")


def _step_day(day: date | None, earliest: str, what: str, earlier: str, now: datetime | None) -> date:
    """The day a step happened: today unless given; not in the future, not before the step it follows."""
    day = day or _today(now)
    _not_future(day, what, now)
    if day < date.fromisoformat(earliest):
        raise InvalidInput(f"{what} {day.isoformat()} 早于{earlier} {earliest}")
    return day


def _staff(by: str) -> str:
    """Who did it: every change to a request names its staff member."""
    if not (by or "").strip():
        raise InvalidInput("必须用 --by 指明操作人")
    return by.strip()


def _signed(action: str, note: str) -> str:
    """The change's note: who did what, then staff's own note, so neither hides the other."""
    return f"{action}；{note.strip()}" if note.strip() else action


def _require(db: Database, number: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    request = get_request(db, number)
    if request["status"] not in allowed:
        now = STATUS_TEXT.get(request["status"], request["status"])
        need = "或".join(f"“{STATUS_TEXT[s]}”" for s in allowed)
        raise InvalidInput(f"编号 {number} 当前为“{now}”，不能执行此操作（需为{need}）")
    return request


def _update(db: Database, request: dict[str, Any], now: datetime | None, **changes: Any) -> dict[str, Any]:
    changes["updated_at"] = clock.iso(now or clock.now())
    db["requests"].update(request["id"], changes)
    insert_row(db, "request_events", {"request_id": request["id"], "at": changes["updated_at"],
                                      "change": dumps(changes)})
    return get_request(db, request["id"], (now or clock.now()).date())
