"""`requests`: the queue of possible and formal disclosure requests."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlite_utils import Database

from cli import CliContext
from disclosure import appeals
from disclosure import requests as service
from disclosure.workdays import load_calendar, parse_day
from handlers import texts
from knowledge.lexicon import normalize
from store import transaction

__all__ = ["register"]


def _number(text: str) -> str:
    """A request number as staff type it: ２０２６－０００１ reads as 2026-0001, as in the chat commands."""
    return normalize(text).strip()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("requests", help="依申请公开线索与申请 (disclosure requests)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="列出 (list)")
    ls.add_argument("--status", choices=service.STATUSES)
    ls.add_argument("--overdue", action="store_true", help="只列出待督办的：已逾期的正式申请、补正期限已过的、征求意见已超过15个工作日的")
    ls.set_defaults(func=_list)
    show = verbs.add_parser("show", help="查看 (show one)")
    show.add_argument("number", type=_number)
    show.set_defaults(func=_show)
    accept = verbs.add_parser("accept", help="确认收到，转为正式申请，开始计算答复期限")
    accept.add_argument("number", type=_number)
    accept.add_argument("--received", required=True, help="收到日 YYYY-MM-DD")
    accept.add_argument("--by", required=True)
    accept.add_argument("--applicant", choices=service.APPLICANT_TYPES, help="申请人类型（年度报告按此分列）")
    accept.add_argument("--note", default="")
    accept.set_defaults(func=_accept)
    new = verbs.add_parser("new", help="登记当面、邮寄、传真等渠道收到的正式申请（按实际收到日起算）")
    new.add_argument("--question", required=True, help="申请公开的信息：名称、文号或特征描述")
    new.add_argument("--received", required=True, help="收到日 YYYY-MM-DD")
    new.add_argument("--via", choices=service.SUBMISSION_CHANNELS, default="当面", help="提交渠道")
    new.add_argument("--by", required=True)
    new.add_argument("--applicant", choices=service.APPLICANT_TYPES, help="申请人类型（年度报告按此分列）")
    new.add_argument("--note", default="", help="如：申请人姓名或名称、联系方式、获取方式")
    new.set_defaults(func=_new)
    answer = verbs.add_parser("answer", help="登记答复结果 (outcome code)")
    answer.add_argument("number", type=_number)
    answer.add_argument("--outcome", required=True, choices=sorted(service.OUTCOMES))
    answer.add_argument("--by", required=True)
    answer.add_argument("--on", help="答复日 YYYY-MM-DD（默认今天；年度报告按此计入年份）")
    answer.add_argument("--note", default="")
    answer.set_defaults(func=_answer)
    extend = verbs.add_parser("extend", help="延长答复期限（条例第三十三条，仅一次，须写明理由）")
    extend.add_argument("number", type=_number)
    extend.add_argument("--by", required=True)
    extend.add_argument("--reason", required=True, help="延期理由（经负责人同意并告知申请人）")
    extend.set_defaults(func=_extend)
    applicant = verbs.add_parser("applicant", help="登记或更正申请人类型（年度报告按此分列）")
    applicant.add_argument("number", type=_number)
    applicant.add_argument("type", choices=service.APPLICANT_TYPES)
    applicant.add_argument("--by", required=True)
    applicant.set_defaults(func=_applicant)
    correction = verbs.add_parser("correction", help="告知申请人补正（条例第三十条，一次性告知；期限停止计算）")
    correction.add_argument("number", type=_number)
    correction.add_argument("--by", required=True)
    correction.add_argument("--items", required=True, help="需要补正的事项")
    correction.add_argument("--within", type=int, default=service.CORRECTION_PERIOD,
                            help=f"补正期限，工作日（默认 {service.CORRECTION_PERIOD}），自告知日起算")
    correction.add_argument("--on", help="告知日 YYYY-MM-DD（默认今天）")
    correction.set_defaults(func=_correction)
    corrected = verbs.add_parser("corrected", help="收到补正（答复期限自收到补正之日起重新计算）")
    corrected.add_argument("number", type=_number)
    corrected.add_argument("--received", required=True, help="补正收到日 YYYY-MM-DD")
    corrected.add_argument("--by", required=True)
    corrected.add_argument("--note", default="")
    corrected.set_defaults(func=_corrected)
    pause = verbs.add_parser("pause", help="征求第三方或其他机关意见，暂停计时（条例第三十二至三十四条）")
    pause.add_argument("number", type=_number)
    pause.add_argument("--by", required=True)
    pause.add_argument("--reason", required=True, help="征求谁的意见、什么事项")
    pause.add_argument("--on", help="暂停日 YYYY-MM-DD（默认今天）")
    pause.set_defaults(func=_pause)
    resume = verbs.add_parser("resume", help="收到意见，恢复计时（答复期限顺延暂停的工作日）")
    resume.add_argument("number", type=_number)
    resume.add_argument("--by", required=True)
    resume.add_argument("--on", help="恢复日 YYYY-MM-DD（默认今天）")
    resume.add_argument("--note", default="")
    resume.set_defaults(func=_resume)
    appeal = verbs.add_parser("appeal", help="登记申请人就该申请提起的行政复议或行政诉讼（年度报告表四）")
    appeal.add_argument("number", type=_number)
    appeal.add_argument("--kind", required=True, choices=appeals.KINDS, help="复议、诉讼（未经复议直接起诉）、复议后诉讼")
    appeal.add_argument("--filed", required=True, help="提起日 YYYY-MM-DD")
    appeal.add_argument("--by", required=True)
    appeal.add_argument("--note", default="", help="如：复议机关、案号")
    appeal.set_defaults(func=_appeal)
    appeal_result = verbs.add_parser("appeal-result", help="登记行政复议或行政诉讼的结果")
    appeal_result.add_argument("number", type=_number)
    appeal_result.add_argument("--kind", required=True, choices=appeals.KINDS)
    appeal_result.add_argument("--result", required=True, choices=appeals.RESULTS,
                               help="维持；纠正（撤销、变更、责令答复等）；其他（撤回、驳回等）")
    appeal_result.add_argument("--decided", required=True, help="审结日 YYYY-MM-DD")
    appeal_result.add_argument("--by", required=True)
    appeal_result.add_argument("--note", default="")
    appeal_result.set_defaults(func=_appeal_result)
    appeal_remove = verbs.add_parser("appeal-remove", help="撤销误登记的行政复议或行政诉讼（须写明理由，留在办理记录中）")
    appeal_remove.add_argument("number", type=_number)
    appeal_remove.add_argument("--kind", required=True, choices=appeals.KINDS)
    appeal_remove.add_argument("--by", required=True)
    appeal_remove.add_argument("--reason", required=True)
    appeal_remove.set_defaults(func=_appeal_remove)
    faq = verbs.add_parser("faq", help="线索已补充到公开目录（该问题以后可直接答复）")
    faq.add_argument("number", type=_number)
    faq.add_argument("--by", required=True)
    faq.add_argument("--note", default="", help="如：已新增目录条目 ID")
    faq.set_defaults(func=_faq)
    close = verbs.add_parser("close", help="关闭线索（须写明理由）")
    close.add_argument("number", type=_number)
    close.add_argument("--by", required=True)
    close.add_argument("--reason", required=True)
    close.set_defaults(func=_close)
    for verb in (ls, show, accept, new, answer, extend, applicant, correction, corrected, pause, resume, appeal,
                 appeal_result, appeal_remove, faq, close):
        verb.add_argument("--json", action="store_true")


def _line(request: dict[str, Any]) -> str:
    due = f"  期限 {request['reply_due']}" if request.get("reply_due") else ""
    due += "（预估）" if request.get("due_estimated") else ""
    due += "（已逾期）" if request.get("overdue") else ""
    if request.get("correction_overdue"):
        due += f"（补正期限 {request['correction_due']} 已过，未收到补正：可按 other_no_correction 办结）"
    elif request.get("correction_due") and request["status"] == "correcting":
        due += f"  补正期限 {request['correction_due']}" + ("（预估）" if request.get("due_estimated") else "")
    if request.get("consult_overdue"):
        due += f"（暂停计时，征求意见已过 {request['consult_due']}，请恢复计时）"
    elif request.get("paused_on"):
        due += f"（暂停计时，征求意见期至 {request['consult_due']}）" if request.get("consult_due") else "（暂停计时）"
    return f"{request['id']}  {service.STATUS_TEXT.get(request['status'], request['status'])}{due}  {request['question']}"


def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    db = ctx.db()
    rows = service.list_requests(db, args.status, overdue=args.overdue, calendar=load_calendar(db))
    ctx.out(rows, lambda rs: "\n".join(_line(r) for r in rs) or "（没有记录）")
    return 0


def _show(args: argparse.Namespace, ctx: CliContext) -> int:
    db = ctx.db()
    request = {**service.get_request(db, args.number), "appeals": appeals.appeals_of(db, args.number)}
    steps = service.history(db, request["id"])
    lines = ["  " + " ".join(part for part in (step["at"][:16].replace("T", " "),
                                              service.STATUS_TEXT.get(step.get("status", ""), ""),
                                              step.get("note", "")) if part) for step in steps]
    cases = [f"{c['kind']}：{c['filed_on']} 提起" + (f"，{c['decided_on']} 审结（{c['result']}）" if c["decided_on"]
                                                    else "，尚未审结") for c in request["appeals"]]
    ctx.out(request, lambda r: "\n".join([texts.request_detail(r), *cases])
            + ("\n办理记录：\n" + "\n".join(lines) if lines else ""))
    return 0


def _step(ctx: CliContext, change: Callable[[Database], dict[str, Any]]) -> int:
    """One staff step on a request, in a transaction; print the request's line."""
    db = ctx.db()
    with transaction(db):
        request = change(db)
    ctx.out(request, _line)
    return 0


def _accept(args: argparse.Namespace, ctx: CliContext) -> int:
    received = parse_day(args.received, "--received")
    return _step(ctx, lambda db: service.accept_request(db, args.number, received, args.by, load_calendar(db),
                                                        args.note, applicant_type=args.applicant or ""))


def _new(args: argparse.Namespace, ctx: CliContext) -> int:
    received = parse_day(args.received, "--received")
    return _step(ctx, lambda db: service.register_request(db, args.question, received, args.by, load_calendar(db),
                                                          args.via, args.note, applicant_type=args.applicant or ""))


def _answer(args: argparse.Namespace, ctx: CliContext) -> int:
    on = _day(args.on, "--on")
    return _step(ctx, lambda db: service.answer_request(db, args.number, args.outcome, args.by, args.note, on))


def _day(text: str | None, option: str) -> date | None:
    return parse_day(text, option) if text is not None else None


def _applicant(args: argparse.Namespace, ctx: CliContext) -> int:
    return _step(ctx, lambda db: service.set_applicant(db, args.number, args.type, args.by))


def _correction(args: argparse.Namespace, ctx: CliContext) -> int:
    on = _day(args.on, "--on")
    return _step(ctx, lambda db: service.ask_correction(db, args.number, args.by, args.items, load_calendar(db), on,
                                                        within=args.within))


def _corrected(args: argparse.Namespace, ctx: CliContext) -> int:
    received = parse_day(args.received, "--received")
    return _step(ctx, lambda db: service.record_correction(db, args.number, received, args.by, load_calendar(db),
                                                           args.note))


def _pause(args: argparse.Namespace, ctx: CliContext) -> int:
    on = _day(args.on, "--on")
    return _step(ctx, lambda db: service.pause_request(db, args.number, args.by, args.reason, on))


def _resume(args: argparse.Namespace, ctx: CliContext) -> int:
    on = _day(args.on, "--on")
    return _step(ctx, lambda db: service.resume_request(db, args.number, args.by, load_calendar(db), on, args.note))


def _extend(args: argparse.Namespace, ctx: CliContext) -> int:
    return _step(ctx, lambda db: service.extend_request(db, args.number, args.by, args.reason, load_calendar(db)))


def _appeal(args: argparse.Namespace, ctx: CliContext) -> int:
    filed = parse_day(args.filed, "--filed")
    return _step(ctx, lambda db: appeals.file_appeal(db, args.number, args.kind, filed, args.by, args.note))


def _appeal_result(args: argparse.Namespace, ctx: CliContext) -> int:
    decided = parse_day(args.decided, "--decided")
    return _step(ctx, lambda db: appeals.decide_appeal(db, args.number, args.kind, args.result, decided, args.by,
                                                       args.note))


def _appeal_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    return _step(ctx, lambda db: appeals.remove_appeal(db, args.number, args.kind, args.by, args.reason))


def _faq(args: argparse.Namespace, ctx: CliContext) -> int:
    return _step(ctx, lambda db: service.mark_faq(db, args.number, args.by, args.note))


def _close(args: argparse.Namespace, ctx: CliContext) -> int:
    return _step(ctx, lambda db: service.close_request(db, args.number, args.by, args.reason))
