"""Answer a question from the catalog; a complaint goes to 12315; no answer opens a possible request."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlite_utils import Database

import clock
from disclosure.requests import open_possible_request, question_key
from handlers import Context, Reply, pseudonym, texts
from knowledge import Answer, Match
from knowledge.items import retired
from knowledge.lexicon import READ_LIMIT
from platforms import Inbound

__all__ = ["handle", "decide", "is_complaint", "follow_up", "combine", "PREVIOUS_QUESTIONS"]

# 条例 art.39: complaints and reports are not disclosure requests; route them to 12315.
_COMPLAINT = re.compile(
    r"(?<!被)(投诉|举报)|维权|假货|买到假|假冒|被骗|被坑|坑人|缺斤|短斤|少秤|吃出.{0,6}(虫|头发|异物|苍蝇|玻璃)|"
    r"吃坏|拉肚子|食物中毒了|消费纠纷|退一赔三|退一赔十|12315|12331|"
    r"(发霉|变质|过期|有异味|长毛|坏了).{0,8}(找谁|怎么办|能退|退货|退钱|赔)"  # what I bought: a consumer dispute
)
_GUIDE_HINT = ("投诉", "举报", "12315")
# 那药店呢, 那2013年的呢, 一季度的呢: a follow-up that names only what changed. The rest is in the asker's last
# question, so the two are read together; alone, such a fragment is no question a possible request could hold.
_FOLLOW_UP = re.compile(r"(?:那么?|那要是|要是|如果是)?\s*(?P<what>[^\s，,。？?！!]{1,6}?)的?(?:呢|怎么样|咋样)[\s？?。！!]*")
_ASKS = re.compile(r"怎么|如何|吗|什么|啥|哪|为什么|多少|几|谁|能否|可以|是否")  # then it is a question of its own
_YEAR = re.compile(r"\d{2,4}年度?|去年|前年|今年|明年")
_PART = re.compile(r"[一二三四1-4]季度|[上下]半年|\d{1,2}月份?|[一二三四五六七八九十]{1,2}月份?")
_FRAME = re.compile(r"在哪|去哪|怎么|如何|要|需要|有没有|能不能|可以|是|什么|啥|多少|哪")  # where the ask begins
_CONTEXT_WINDOW = timedelta(minutes=10)


def is_complaint(text: str) -> bool:
    return _COMPLAINT.search(text) is not None


def handle(db: Database, ctx: Context, event: Inbound) -> Reply:
    """Answer, or open (or find) the possible request and say its number."""
    question = event.text.strip()
    fragment = follow_up(question)
    if fragment is None:
        reply = decide(ctx, question)
    else:
        previous = _previous_question(db, ctx, event)
        if previous is None:  # nothing to read it with
            reply = decide(ctx, question)
            if not reply.answered and reply.kind == "enquiry":
                return Reply(texts.FOLLOW_UP_ALONE, matches=reply.matches, matches_json=reply.matches_json)
            return reply
        combined = combine(previous, fragment)
        reply = decide(ctx, combined)
        if reply.answered:
            return Reply(texts.understood_as(combined) + reply.text, kind=reply.kind, answered=True,
                         matches=reply.matches, matches_json=reply.matches_json)
        alone = decide(ctx, question)  # 那小餐饮呢: the words may answer on their own
        if alone.answered or alone.kind != "enquiry":
            return alone
        question = combined  # what staff would need to read in the possible request
    if reply.answered or reply.kind != "enquiry":
        return reply
    # The pseudonym only here and for a follow-up: an answered question does not need it.
    sender = pseudonym(ctx.salt, event.platform, event.sender)
    request, repeated = open_possible_request(db, question, sender, event.platform, event.bot, event.chat,
                                              now=ctx.now())
    return Reply(texts.no_answer(request["id"], repeated), request_id=request["id"], matches=reply.matches,
                 matches_json=reply.matches_json)


def follow_up(text: str) -> str | None:
    """What a follow-up names (药店 of 那药店呢), or None when the message is a question of its own."""
    match = _FOLLOW_UP.fullmatch(text.strip())
    if match is None or _ASKS.search(match.group("what")):
        return None
    return match.group("what")


def combine(previous: str, what: str) -> str:
    """The last question with what the follow-up changed: a year or part of one for the same in it (2014年 ->
    2013年); a place or thing for the word of about its length that shares its first or last character (饭店 ->
    药店, 小饭桌 -> 小餐饮); else for what comes before the question's ask (健康证在哪办 -> 营业执照在哪办)."""
    for pattern in (_YEAR, _PART):
        if pattern.search(what):
            if pattern.search(previous):
                return pattern.sub(what, previous, count=1)
            year = _YEAR.search(previous)
            if pattern is _PART and year:  # 2014年的抽检结果 + 一季度 -> 2014年一季度的抽检结果
                return previous[:year.end()] + what + previous[year.end():]
            return what + previous
    n = len(what)
    for size in sorted(range(2, n + 2), key=lambda k: (abs(k - n), -k)):  # n, n+1, n-1, ...
        for start in range(len(previous) - size + 1):
            word = previous[start:start + size]
            if word != what and (word[-1] == what[-1] or word[0] == what[0]) and not _ASKS.search(word):
                return previous[:start] + what + previous[start + size:]
    ask = _FRAME.search(previous)
    return what + previous[ask.start():] if ask and ask.start() > 0 else what + previous


# One seek on idx_enquiries_sender_at (m012), not a scan of the whole log.
PREVIOUS_QUESTIONS = ("SELECT question FROM enquiries WHERE at >= ? AND channel = ? AND bot = ? AND chat = ?"
                      " AND sender = ? AND kind = 'enquiry' ORDER BY id DESC LIMIT 5")


def _previous_question(db: Database, ctx: Context, event: Inbound) -> str | None:
    """The asker's last question in this chat within a few minutes, not itself a follow-up."""
    sender = pseudonym(ctx.salt, event.platform, event.sender)
    if not sender:
        return None
    since = clock.iso(ctx.now() - _CONTEXT_WINDOW)
    rows = db.execute(PREVIOUS_QUESTIONS, [since, event.platform, event.bot, event.chat, sender]).fetchall()
    return next((q for (q,) in rows if follow_up(q) is None and len(q) <= READ_LIMIT), None)


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
    matches = [m.as_dict() | {"published": m.published, "retired": retired(ctx.items.get(m.id, {}), today)}
               for m in result.matches]
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
