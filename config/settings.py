"""Frozen settings objects: what the rest of the program reads, never the raw TOML."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Settings", "BotConfig", "GroupConfig", "SchedulerConfig", "WebConfig", "CatalogConfig", "RemindersConfig",
           "ReportConfig", "MAX_AHEAD", "ONE_CHAT_PUSH", "group_problem",
           "group_problems"]

# Their push robot is a webhook that belongs to one chat (DESIGN.md): a second group on it would get nothing of
# its own, and the one chat would get each notice twice.
ONE_CHAT_PUSH = frozenset({"wecom", "dingtalk", "feishu"})


def group_problem(bot: str, platform: str, chat: str, bot_taken_by: str, chat_taken_by: str) -> tuple[str, str]:
    """(key, reason) a group cannot be added, or ("", ""): a second group on a one-chat push robot (the first is
    `bot_taken_by`) or on a chat id already used (by `chat_taken_by`), either of which would get each notice
    twice, or a QQ group without its number, to which every push would fail."""
    if platform in ONE_CHAT_PUSH and bot_taken_by:
        return "bot", (f"机器人 {bot} 的推送 webhook 只属于一个群，已由群 {bot_taken_by!r} 使用；"
                       "另一个群请在该群添加自己的推送机器人，并为它另配一个 [[bots]]")
    if platform == "onebot" and not (chat.isascii() and chat.isdigit()):
        return "chat", f"应为 QQ 群号（数字），现为 {chat!r}"
    if chat and chat_taken_by:
        return "chat", f"群 ID {chat!r} 已是群 {chat_taken_by!r} 的；同一个群登记两次会重复收到每条通知"
    return "", ""


def group_problems(groups: Iterable[tuple[str, str, str, str]]) -> Iterator[tuple[str, str, str]]:
    """(group, key, reason) for each of `groups` — (name, bot, platform, chat), in order — that `group_problem`
    refuses after the ones before it."""
    on_bot: dict[str, str] = {}
    at_chat: dict[str, str] = {}
    for name, bot, platform, chat in groups:
        key, problem = group_problem(bot, platform, chat, on_bot.get(bot, ""), at_chat.get(chat, ""))
        if problem:
            yield name, key, problem
        on_bot.setdefault(bot, name)
        if chat:
            at_chat.setdefault(chat, name)


@dataclass(frozen=True, slots=True)
class BotConfig:
    """One `[[bots]]` entry; `options` holds the platform keys with env: secrets resolved."""

    name: str
    platform: str
    options: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # "file: [bots.NAME]", for error messages

    def __repr__(self) -> str:  # options may hold secrets: never print them
        return f"BotConfig(name={self.name!r}, platform={self.platform!r})"


@dataclass(frozen=True, slots=True)
class GroupConfig:
    name: str
    bot: str
    chat: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    misfire_grace: float = 3600.0  # seconds
    poll_interval: float = 1.0  # how often the gateway looks for CLI changes


@dataclass(frozen=True, slots=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CatalogConfig:
    seed: str = ""  # file loaded into an empty catalog by the embedded default run
    top_k: int = 3


MAX_AHEAD = 20  # working days the reminder may look ahead: a whole reply period, more would list every request


@dataclass(frozen=True, slots=True)
class RemindersConfig:
    """The staff's working-day reminder of disclosure deadlines (办理提醒)."""

    to: str = ""  # target expression of the staff's own groups; "" = no reminder is pushed
    at: str = "09:00"  # Asia/Shanghai, on working days
    ahead: int = 5  # working days: requests due within them are listed

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.at.split(":")
        return int(hour), int(minute)


@dataclass(frozen=True, slots=True)
class ReportConfig:
    """The annual report: who this bureau is in the catalog's 发布机构, to tell its own 规范性文件 from others'."""

    publishers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    db: str
    web: WebConfig = field(default_factory=WebConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    bots: tuple[BotConfig, ...] = ()
    groups: tuple[GroupConfig, ...] = ()
    source: str = ""  # the config file these came from
    db_overridden: bool = False  # --db / GONGKAI_DB named the database

    def bot(self, name: str) -> BotConfig | None:
        return next((b for b in self.bots if b.name == name), None)
