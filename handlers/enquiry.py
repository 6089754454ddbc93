"""Answer a question from the catalog; a complaint goes to 12315; no answer opens a possible request."""

from __future__ import annotations

import re
from datetime import date

from sqlite_utils import Database

from disclosure.requests import open_possible_request, question_key
from handlers import Context, Reply, pseudonym, texts
from knowledge import Answer, Match
from knowledge.lexicon import READ_LIMIT
from platforms import Inbound

__all__ = ["handle", "decide", "is_complaint"]

# 条例 art.39: complaints and reports are not disclosure requests; route them to 12315.
_COMPLAINT = re.compile(
    r"(?<!被)(投诉|举报)|维权|假货|买到假|假冒|被骗|被坑|坑人|缺斤|短斤|少秤|吃出.{0,6}(虫|头发|异物|苍蝇|玻璃)|"
    r"吃坏|拉肚子|食物中毒了|消费纠纷|退一赔三|退一赔十|12315|12331|"
    r"(发霉|变质|过期|有异味|长毛|坏了).{0,8}(找谁|怎么办|能退|退货|退钱|赔)"  # what I bought: a consumer dispute
)
_GUIDE_HINT = ("投诉", "举报", "12315")


def is_complaint(text: str) -> bool:
    return _COMPLAINT.search(text) is not None


def handle(db: Database, ctx: Context, event: Inbound) -> Reply:
    """Answer, or open (or find) the possible request and say its number."""
    reply = decide(ctx, event.text)
    if reply.answered or reply.kind != "enquiry":
        return reply
    request, repeated = open_possible_request(
        db, event.text.strip(), pseudonym(ctx.salt, event.platform, event.sender), event.platform, event.bot,
        event.chat, now=ctx.now())
    return Reply(texts.no_answer(request["id"], repeated), request_id=request["id"], matches=reply.matches,
                 matches_json=reply.matches_json)


def decide(ctx: Context, question: str) -> Reply:
    """The answer without touching the database; an unanswered enquiry carries no number yet. Remembered per
    question and day, like the search under it: a chat asks the same things over and over. Of a long message,
    the first READ_LIMIT characters are read."""
    question = question.strip()[:READ_LIMIT]
    if not question:
        return Reply(texts.NOT_UNDERSTOOD, kind="command")
    if len(question_key(question)) < 2:  # 1, 药, 。: nothing a possible request could be about
        return Reply(texts.TOO_SHORT, kind="command")
    today = ctx.now().date()
    return ctx.memo(("decide", question, today), lambda: _decide(ctx, question, today))


def _decide(ctx: Context, question: str, today: date) -> Reply:
    result = ctx.search(question, today)
    matches = [m.as_dict() | {"published": m.published} for m in result.matches]
    if is_complaint(question):
        return _complaint_reply(result, matches)
    if result.answered:
        alternatives = matches[1 : 1 + result.alternatives]
        return Reply(texts.answer(matches[0], _summary(ctx, result.matches[0]), alternatives), answered=True,
                     matches=_public(matches))
    return Reply(texts.NO_ANSWER_UNLOGGED, matches=_public(matches))


def _complaint_reply(result: Answer, matches: list[dict[str, object]]) -> Reply:
    guide = next((m for m in matches if any(h in str(m["title"]) for h in _GUIDE_HINT)), None)
    return Reply(texts.complaint(guide), kind="complaint", answered=guide is not None,
                 matches=_public([guide] if guide else []))


def _summary(ctx: Context, best: Match) -> str:
    """The first sentence or two of the item, so the answer is useful without opening the link."""
    body = str(ctx.items.get(best.id, {}).get("body", ""))
    if not body:
        return ""
    cut = body.find("。", 40)
    return body[: cut + 1] if 0 < cut < 160 else body[:120] + ("…" if len(body) > 120 else "")


def _public(matches: list[dict[str, object]]) -> list[dict[str, object]]:
    """The stable JSON shape of a match: id, title, category, url, score."""
    return [{k: m[k] for k in ("id", "title", "category", "url", "score")} for m in matches]
