"""Groups (chats a bot pushes to), their tags and subscriptions, and the tag expressions that target them.

Config groups are synced into the `groups` table at start; staff add more at run time. A tag expression is
OR (`,`) of AND (`+`) terms, each atom a tag, `!tag` or `*`: `餐饮,药店`, `餐饮+东区`, `餐饮+!学校`, `*`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlite_utils import Database

import clock
from config.settings import GroupConfig
from errors import ConfigError, InvalidInput, NotFound
from scheduler.templates import KINDS
from store import bump, dumps, loads

__all__ = [
    "sync_config_groups",
    "add_group",
    "list_groups",
    "get_group",
    "find_group",
    "subscribe",
    "unsubscribe",
    "parse_expr",
    "select_groups",
    "receives",
]

log = logging.getLogger(__name__)

_FULL_WIDTH = str.maketrans({"，": ",", "、": ",", "＋": "+", "！": "!", "＊": "*", "　": " "})  # 餐饮、药店 is a list
_BAD_TAG = re.compile(r"[,、+!*()（）\s]")
Expr = list[list[tuple[bool, str]]]  # OR of AND terms; (negated, tag); tag "*" matches every group


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "bot": row["bot"], "chat": row["chat"] or "", "tags": loads(row["tags"], []),
            "subscriptions": loads(row["subscriptions"], []), "source": row["source"],
            "created_at": row["created_at"]}


def _clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for tag in (t.strip() for t in tags):
        if not tag:
            continue
        if _BAD_TAG.search(tag):
            raise InvalidInput(f"标签 {tag!r} 含有不允许的字符（, + ! * 括号或空格）")
        if tag not in out:
            out.append(tag)
    return out


def sync_config_groups(db: Database, groups: Sequence[GroupConfig]) -> int:
    """Make the configured groups current; staff-added groups and everyone's subscriptions stay, and a group
    taken out of the config file is no longer a target (its deliveries keep its name)."""
    now = clock.iso(clock.now())
    names = [group.name for group in groups]
    db.execute(f"DELETE FROM groups WHERE source = 'config' AND name NOT IN ({', '.join('?' for _ in names)})",
               names)
    for group in groups:
        old = db.execute("SELECT subscriptions, created_at, source FROM groups WHERE name = ?", [group.name]).fetchone()
        if old is not None and old[2] == "staff":  # replacing it would lose the staff's tags, then the group itself
            raise ConfigError(f"[groups.{group.name}] name: 已有工作人员添加的同名群；请给配置中的群改名，"
                              f"或先移除那个群（groups remove {group.name}）")
        db.execute(
            "INSERT OR REPLACE INTO groups(name, bot, chat, tags, subscriptions, source, created_at)"
            " VALUES (?, ?, ?, ?, ?, 'config', ?)",
            [group.name, group.bot, group.chat, dumps(_clean_tags(group.tags)), old[0] if old else "[]",
             old[1] if old else now],
        )
    bump(db, "groups")
    return len(groups)


def add_group(db: Database, name: str, bot: str, chat: str = "", tags: Iterable[str] = ()) -> dict[str, Any]:
    """A group added by staff at run time; the name is its key, so a second add is refused."""
    name, bot = name.strip(), bot.strip()
    if not name or not bot:
        raise InvalidInput("群名称和 --bot 都不能为空")
    if db.execute("SELECT 1 FROM groups WHERE name = ?", [name]).fetchone():
        raise InvalidInput(f"群 {name!r} 已存在")
    row = {"name": name, "bot": bot, "chat": chat.strip(), "tags": dumps(_clean_tags(tags)),
           "subscriptions": "[]", "source": "staff", "created_at": clock.iso(clock.now())}
    db["groups"].insert(row)
    bump(db, "groups")
    return _row(row)


def list_groups(db: Database) -> list[dict[str, Any]]:
    return [_row(r) for r in db.query("SELECT * FROM groups ORDER BY name")]


def get_group(db: Database, name: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM groups WHERE name = ?", [name]))
    if not rows:
        raise NotFound(f"没有名为 {name!r} 的群")
    return _row(rows[0])


def find_group(db: Database, bot: str, chat: str) -> dict[str, Any] | None:
    """The group an inbound message came from: the group with that chat id, the receiving bot's own first, then
    one pushed to by another bot (a DingTalk enterprise robot answers in groups that each push through their own
    custom robot). A single chat (chat "") is no group, and a group configured without a chat id matches no
    message: a receiving robot can sit in many groups and take private chats, and only the id tells them apart."""
    if not chat:
        return None
    rows = [_row(r) for r in db.query("SELECT * FROM groups WHERE chat = ? ORDER BY bot != ?, name", [chat, bot])]
    if rows and (rows[0]["bot"] == bot or len(rows) == 1):  # chat ids are the platform's own: cid…, wrk…, oc_…
        return rows[0]
    unbound = [name for (name,) in db.execute(  # the bot's own first: it is the likelier one
        "SELECT name FROM groups WHERE chat = '' ORDER BY bot != ?, name LIMIT 5", [bot])]
    if unbound:  # the admin's way to learn the id: no platform shows it in its app
        log.info("机器人 %s 在群 %s 收到的消息不属于任何推送群；如果这就是“%s”，请在其 [[groups]] 中填写 chat = \"%s\"",
                 bot, chat, "”或“".join(unbound), chat)
    return None


def _set_subscriptions(db: Database, group: str, subs: list[str]) -> dict[str, Any]:
    db.execute("UPDATE groups SET subscriptions = ? WHERE name = ?", [dumps(subs), group])
    bump(db, "groups")
    return get_group(db, group)


def subscribe(db: Database, group: str, category: str) -> dict[str, Any]:
    """Narrow a group to the categories it asked for ([] means it receives every kind)."""
    subs = get_group(db, group)["subscriptions"]
    category = category.strip()
    if not category:
        raise InvalidInput("订阅的类别不能为空")
    if category not in KINDS:  # a group subscribed only to an unknown kind would receive nothing at all
        raise InvalidInput(f"没有 {category!r} 这个通知类别；可订阅：{'、'.join(KINDS)}")
    return _set_subscriptions(db, group, subs if category in subs else [*subs, category])


def unsubscribe(db: Database, group: str, category: str) -> dict[str, Any]:
    """Stop one kind. A group that receives every kind ([]) then receives every other kind. The last kind of a
    narrowed list is refused: [] would mean every kind again; `remove_group` stops a group's notices."""
    subs = get_group(db, group)["subscriptions"]
    category = category.strip()
    if not subs and category in KINDS:
        return _set_subscriptions(db, group, [k for k in KINDS if k != category])
    if category not in subs:
        raise InvalidInput(f"群 {group!r} 没有订阅 {category!r}")
    if subs == [category]:
        raise InvalidInput(f"{category!r} 是群 {group!r} 订阅的唯一类别：退订后订阅为空，即重新接收全部类别。"
                           f"如不再向该群推送，请移除该群（groups remove {group}）")
    return _set_subscriptions(db, group, [s for s in subs if s != category])


def remove_group(db: Database, name: str) -> dict[str, Any]:
    """Take a staff-added group out of the targets; a configured one is removed from the config file. Its past
    deliveries, acknowledgements and registrations keep its name, and deliveries already queued still go out."""
    group = get_group(db, name)
    if group["source"] == "config":
        raise InvalidInput(f"群 {name!r} 来自配置文件：请在配置文件中删去它的 [[groups]]，再重启网关")
    db.execute("DELETE FROM groups WHERE name = ?", [name])
    bump(db, "groups")
    return group


def receives(group: dict[str, Any], kind: str) -> bool:
    subs = group["subscriptions"]
    return not subs or kind in subs


def parse_expr(expr: str) -> Expr:
    """Parse a tag expression or raise InvalidInput saying what is wrong and what is allowed."""
    text = (expr or "").translate(_FULL_WIDTH).strip()
    hint = "写法：餐饮 | 餐饮,药店（或） | 餐饮+东区（且） | !学校（非） | *（全部）"
    if not text:
        raise InvalidInput(f"目标表达式为空；{hint}")
    terms: Expr = []
    for term in text.split(","):
        atoms: list[tuple[bool, str]] = []
        for atom in term.split("+"):
            atom = atom.strip()
            negated = atom.startswith("!")
            tag = atom[1:].strip() if negated else atom
            if not tag or (negated and tag == "*") or (tag != "*" and _BAD_TAG.search(tag)):
                raise InvalidInput(f"目标表达式 {expr!r} 有误：{atom or '空项'!r}；{hint}")
            atoms.append((negated, tag))
        terms.append(atoms)
    return terms


def _matches(parsed: Expr, group: dict[str, Any]) -> bool:
    tags = {*group["tags"], group["name"]}  # a group's own name targets it alone
    return any(all((tag == "*" or tag in tags) != negated for negated, tag in term) for term in parsed)


def select_groups(db: Database, expr: str) -> list[dict[str, Any]]:
    """The groups an expression targets, by name."""
    parsed = parse_expr(expr)
    return [g for g in list_groups(db) if _matches(parsed, g)]
