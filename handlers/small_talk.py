"""Small talk: 你好, 谢谢, 好的好的, 转人工, [图片]. None of it is a question, so none of it may become a
possible disclosure request; each gets a short answer instead.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

from disclosure.requests import question_key
from handlers import Context, Reply, texts
from handlers.enquiry import decide
from platforms import Inbound

__all__ = ["handle"]

# Small talk: a message made only of these (你好, 谢谢老师, 好的好的, 大家早上好) is not a question.
_GREETINGS = ("你好 您好 大家好 各位好 早上好 上午好 中午好 下午好 晚上好 早安 晚安 早 hi hello hey 嗨 哈喽 哈啰 哈罗 在吗 在不在 "
              "在么 有人吗 有人在吗 新年快乐 新年好 过年好 春节快乐 节日快乐 中秋快乐 国庆快乐 你是谁 您是谁 你是机器人吗 你是人吗 "
              "你是真人吗 你是ai吗 你叫什么名字 你叫什么 你叫啥 领导好 老师好 同志好 师傅好 测试一下 测试 test testing 哈哈 哈 呵呵 呵 嘻嘻 "
              "嘻").split()
_THANKS = "谢谢 谢了 谢啦 多谢 感谢 辛苦了 辛苦 麻烦了 麻烦您了 麻烦你了 有劳".split()
_OKAYS = ("好的 好滴 好嘞 好吧 ok okay 嗯 哦 噢 知道了 知道啦 知道 明白了 明白 了解了 了解 懂了 是的 对的 没错 行 可以 再见 拜拜 "
          "bye 好 666 66 6 赞 点赞 棒 厉害 牛").split()
_ADDRESS = "各位 大家 领导 老师 同志 师傅 小助手 助手 机器人 所有人 亲 你 您 啊 呀 哈 啦 呢 的 了 嘛 哟".split()
_SMALL_TALK = re.compile("|".join(sorted({*_GREETINGS, *_THANKS, *_OKAYS, *_ADDRESS}, key=len, reverse=True)))
_ANY_THANKS = re.compile("|".join(_THANKS))
_ANY_GREETING = re.compile("|".join(sorted(_GREETINGS, key=len, reverse=True)))
_HANDOFF = re.compile(r"(我要|我想|请|帮我)?(转|找|要|接)?(人工|真人|客服|人工客服|人工服务|工作人员)(服务)?(吧|呢|啊)?")
# What some platforms put in place of a picture, voice message or sticker.
_PLACEHOLDER = re.compile(r"(\[(图片|表情|动画表情|语音|文件|视频|链接|位置|名片|聊天记录|红包|转账|卡片消息)\]\s*)+")


def handle(db: Database, ctx: Context, event: Inbound) -> Reply | None:
    bare = question_key(event.text)
    if bare and not _SMALL_TALK.sub("", bare):
        return Reply(_small_talk(bare), kind="command")
    if _PLACEHOLDER.fullmatch(event.text.strip()):
        return Reply(texts.TEXT_ONLY, kind="command")
    if _HANDOFF.fullmatch(bare):
        return _handoff(ctx)
    return None


def _small_talk(bare: str) -> str:
    if _ANY_THANKS.search(bare):
        return texts.THANKS
    return texts.GREETING if _ANY_GREETING.search(bare) else texts.OKAY


def _handoff(ctx: Context) -> Reply:
    """No human behind the bot: say so, and give the bureau's own contacts when the catalog has them."""
    contact = decide(ctx, "分局联系电话和办公地址")
    if not contact.answered:
        return Reply(texts.HANDOFF + texts.HANDOFF_ELSEWHERE, kind="command")
    return Reply(f"{texts.HANDOFF}\n{contact.text}", kind="command", matches=contact.matches)
