"""Chat commands: 帮助, 查询 <编号>, 订阅 <类别>, 退订 <类别>; recognised in natural variants.

A command is recognised only when the whole message is one (with its fillers: 请, 一下, 吧, 谢谢 ...); a question
that merely contains a command word (订阅号怎么注册, 2013-2014年抽检结果) goes on to the enquiry handler.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

from disclosure.requests import get_request, question_key, requests_of
from errors import InvalidInput, NotFound
from handlers import Context, Reply, pseudonym, texts
from knowledge.lexicon import normalize
from platforms import Inbound
from scheduler import groups
from scheduler.templates import KINDS

__all__ = ["handle", "category_of", "QUESTION_WORDS"]

_HELP = re.compile(
    r"(请问)?(帮助|help|菜单|功能|功能列表|(有)?(什么|哪些)功能|用法|使用说明|使用方法|说明|指令|命令"
    r"|(怎么|如何)(用|使用)(你|您|这个|机器人|小助手)?"
    r"|(你|您|小助手|机器人)?(能|会|可以)(帮我)?(干|做|帮|查)?(点)?(什么|啥|哪些|些什么)(事)?)(呀|啊|呢)?")
# A request number is 2026-0007; not a date (2024-12-01) nor a range of years (2013-2014年).
_NUMBER = re.compile(r"(?<!\d)(20\d{2})\s*[-－—–_年]\s*(\d{1,4})(?![\d年月日/.\-－—–])")  # 2026年0001 too
_QUERY_FILLER = re.compile(
    r"查询|查一下|查下|查查|查|看看|看一下|帮我|请问|麻烦|我的|我们的|我问的|我提的|我问|这个|编号|单号|号码|申请|问题|线索"
    r"|进度|状态|结果|有|是多少|多少|几号"
    r"|处理|办理|答复|回复|情况|到哪一步|到哪|怎么样|如何|办得|了没|没有|谢谢|一下|号|呢|吗|啊|呀|的|了|是")
_NO_REPLY = re.compile(r"(为什么|为啥|怎么|咋)?(还)?(不|没|没有|没人)(人)?(回复|答复|回|理|联系)(我|我们)?(呢|啊|吗|呀)?")
_STATUS_WORD = re.compile(r"查|进度|到哪|结果|答复|回复|编号|单号|状态")
_EXPLICIT = re.compile(r"^\s*(只订阅|订阅|退订|取消订阅)\s*[:：]?\s*(.*?)\s*$")
_SUBSCRIBE = re.compile(r"(我想|我要|想|要|请|帮我|麻烦|给本群|本群)?(订阅|订|关注|开通)(一下)?(?P<what>.+?)(吧|谢谢)?")
_UNSUBSCRIBE = re.compile(
    r"(我想|我要|想|要|请|帮我|麻烦|本群)?(退订|取消订阅|取消|不要再?发|别再?发|不用再?发|不再接收|不要再?推送?"
    r"|别再?推送?|不想再?(收到?|接收|看到?))(一下)?(?P<what>.+?)(了|啦|吧|谢谢)*")
_SUBSCRIPTIONS = re.compile(r"(查看|查询|看看|看一下)?(本群|我们|我|这个群)?(的)?(订阅|订阅了(什么|哪些|啥)(类别|通知)?)(呢|吗)?")
_CATEGORY_FILLER = re.compile(r"通知|信息|消息|推送|提醒|类别|类|相关|这些|的")
QUESTION_WORDS = re.compile(r"怎么|如何|吗|么|什么|哪|为啥|为什么|能否|可以|[?？]")
# Everyday words for a notice category, beside any unambiguous part of its name.
_CATEGORY_WORDS = {"培训": "培训通知", "预警": "预警信息", "风险": "预警信息", "警示": "预警信息", "下架": "问题产品下架通知",
                   "召回": "问题产品下架通知", "问题产品": "问题产品下架通知", "整治": "专项整治", "专项": "专项整治",
                   "自查": "自查提醒", "公告": "通知公告"}


def handle(db: Database, ctx: Context, event: Inbound) -> Reply | None:
    text = normalize(event.text.strip())  # 查詢, 訂閱 read as 查询, 订阅
    bare = question_key(text)  # no spaces, punctuation or emoji; lower case, half width
    if not bare and text:  # all punctuation or emoji: "?" asks what the bot does, 👍 only agrees
        return Reply(texts.HELP if "?" in text else texts.OKAY, kind="command")  # normalize made ？ a ?
    if _HELP.fullmatch(bare):
        return Reply(texts.HELP, kind="command")
    number = _NUMBER.search(text)
    if number and not _QUERY_FILLER.sub("", question_key(text[:number.start()] + text[number.end():])):
        who = pseudonym(ctx.salt, event.platform, event.sender)
        return _status(db, f"{number.group(1)}-{int(number.group(2)):04d}", who)
    if not number and (_STATUS_WORD.search(bare) and not _QUERY_FILLER.sub("", bare) or _NO_REPLY.fullmatch(bare)):
        return _own_requests(db, ctx, event)  # 我的申请到哪了, 为什么还没人回复我
    return _subscription_command(db, event, text, bare)


def _own_requests(db: Database, ctx: Context, event: Inbound) -> Reply:
    """Status asked without a number: the asker's own latest possible requests, found by their pseudonym."""
    mine = requests_of(db, pseudonym(ctx.salt, event.platform, event.sender))
    return Reply(texts.own_requests(mine), kind="command")


def _status(db: Database, number: str, who: str) -> Reply:
    try:
        request = get_request(db, number)
    except NotFound:
        return Reply(texts.request_not_found(number), kind="command")
    # The asker sees which question it was; anyone else with the number sees only how far it has got.
    own = bool(who) and request.get("sender") == who
    return Reply(texts.request_status(request, own), kind="command", request_id=number)


def _subscription_command(db: Database, event: Inbound, text: str, bare: str) -> Reply | None:
    """订阅 预警 (explicit), 我想订阅召回通知 / 不要再发培训通知了 (natural), 本群订阅了什么 (the list)."""
    explicit = _EXPLICIT.match(text)
    if _SUBSCRIPTIONS.fullmatch(bare) or (explicit and not explicit.group(2)):
        return _list(db, event)
    if explicit:
        word = question_key(explicit.group(2))
        category = category_of(word)
        if category is not None:
            verb = explicit.group(1)
            return _change(db, event, verb in ("订阅", "只订阅"), category, only=verb == "只订阅")
        if QUESTION_WORDS.search(text):
            return None  # 订阅号怎么注册: a question, not a command
        return Reply(texts.unknown_category(word, KINDS), kind="command")
    for pattern, subscribe in ((_UNSUBSCRIBE, False), (_SUBSCRIBE, True)):
        natural = pattern.fullmatch(bare)
        if natural is None:
            continue
        category = category_of(natural.group("what"))
        if category is not None and _names_only(natural.group("what"), category):
            return _change(db, event, subscribe, category)
    return None


def _names_only(words: str, category: str) -> bool:
    """Whether `words` name the category and nothing else: 培训通知 yes, 培训报名 (a sign-up to cancel) no."""
    names = [category, *(k for k, c in _CATEGORY_WORDS.items() if c == category)]
    for name in sorted(names, key=len, reverse=True):
        words = words.replace(name, "")
    return not _CATEGORY_FILLER.sub("", words)


def category_of(word: str) -> str | None:
    """A notice category by its name, an everyday word for it (召回 -> 问题产品下架通知) or any unambiguous part
    of its name (预警 -> 预警信息); None when there is no single answer."""
    if word in KINDS:
        return word
    hits = {category for key, category in _CATEGORY_WORDS.items() if key in word}
    if len(hits) == 1:
        return hits.pop()
    named = [c for c in KINDS if word and word in c]
    return named[0] if len(named) == 1 else None


def _list(db: Database, event: Inbound) -> Reply:
    group = groups.find_group(db, event.bot, event.chat)
    if group is None:
        return Reply(texts.GROUP_NOT_REGISTERED, kind="command")
    return Reply(texts.subscriptions(group["name"], group["subscriptions"], KINDS), kind="command")


def _change(db: Database, event: Inbound, subscribe: bool, category: str, only: bool = False) -> Reply:
    group = groups.find_group(db, event.bot, event.chat)
    if group is None:
        return Reply(texts.GROUP_NOT_REGISTERED, kind="command")
    name, current = group["name"], group["subscriptions"]
    if subscribe and not current and not only:  # 订阅 X meant "make sure we get X", not "nothing else"
        return Reply(texts.already_all(name, category), kind="command")
    if not subscribe and current and category not in current:
        return Reply(texts.not_subscribed(name, category, current), kind="command")
    if not subscribe and current == [category]:  # [] would mean every kind again
        return Reply(texts.last_subscription(name, category), kind="command")
    try:
        changed = (groups.subscribe if subscribe else groups.unsubscribe)(db, name, category)
    except InvalidInput as exc:
        return Reply(str(exc), kind="command")
    template = texts.subscribed if subscribe else texts.unsubscribed
    return Reply(template(name, category, changed["subscriptions"]), kind="command")
