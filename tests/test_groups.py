"""Groups: config sync, staff additions, tag expressions, inbound matching, and the `groups` CLI."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from cli import CliContext
from cli import groups as cli_groups
from config.settings import BotConfig, GroupConfig, Settings
from errors import ConfigError, GongkaiError, InvalidInput, NotFound
from scheduler import groups
from scheduler.templates import KINDS
from store import open_db, revisions

CONFIG = (
    GroupConfig("餐饮-东区", "ding", "", ("餐饮", "东区")),
    GroupConfig("餐饮-西区", "feishu", "oc_1", ("餐饮", "西区")),
    GroupConfig("药店-东区", "onebot", "1001", ("药店", "东区")),
    GroupConfig("学校食堂", "onebot", "1002", ("餐饮", "学校", "东区")),
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "g.db")
    groups.sync_config_groups(database, CONFIG)
    yield database
    database.close()


def names(rows: list[dict]) -> list[str]:
    return sorted(r["name"] for r in rows)


@pytest.mark.parametrize("expr, expected", [
    ("餐饮", ["学校食堂", "餐饮-东区", "餐饮-西区"]),
    ("餐饮,药店", ["学校食堂", "药店-东区", "餐饮-东区", "餐饮-西区"]),
    ("餐饮+东区", ["学校食堂", "餐饮-东区"]),
    ("!学校", ["药店-东区", "餐饮-东区", "餐饮-西区"]),
    ("餐饮+!学校", ["餐饮-东区", "餐饮-西区"]),
    ("*", ["学校食堂", "药店-东区", "餐饮-东区", "餐饮-西区"]),
    ("药店 , 西区", ["药店-东区", "餐饮-西区"]),
    ("药店、西区", ["药店-东区", "餐饮-西区"]),  # the enumeration comma lists too
    ("餐饮＋东区＋！学校", ["餐饮-东区"]),
    ("不存在", []),
    ("学校食堂", ["学校食堂"]),
])
def test_tag_expressions(db: Database, expr: str, expected: list[str]) -> None:
    assert names(groups.select_groups(db, expr)) == expected


@pytest.mark.parametrize("expr", ["", "  ", "餐饮,", "+东区", "!", "!*", "餐饮++东区", "餐(饮)"])
def test_bad_expressions_are_refused_clearly(db: Database, expr: str) -> None:
    with pytest.raises(InvalidInput, match="目标表达式"):
        groups.select_groups(db, expr)


def test_sync_keeps_staff_groups_and_subscriptions(db: Database) -> None:
    groups.add_group(db, "临时群", "ding", "", ["餐饮"])
    groups.subscribe(db, "餐饮-东区", "预警信息")
    before = revisions(db).get("groups", 0)
    dropped = {g["name"] for g in groups.list_groups(db)} - {"餐饮-东区", "临时群"}
    groups.sync_config_groups(db, [GroupConfig("餐饮-东区", "ding", "", ("餐饮", "东区", "新标签"))])
    east = groups.get_group(db, "餐饮-东区")
    assert east["tags"] == ["餐饮", "东区", "新标签"] and east["subscriptions"] == ["预警信息"]
    assert groups.get_group(db, "临时群")["source"] == "staff"
    assert revisions(db)["groups"] > before
    assert dropped and {g["name"] for g in groups.list_groups(db)} == {"餐饮-东区", "临时群"}  # out of config


def test_sync_with_no_config_groups_keeps_staff_groups(db: Database) -> None:
    groups.add_group(db, "临时群", "ding", "", ["餐饮"])
    groups.sync_config_groups(db, [])
    assert [g["name"] for g in groups.list_groups(db)] == ["临时群"]


def test_add_group_refuses_duplicates_and_bad_tags(db: Database) -> None:
    with pytest.raises(InvalidInput, match="已存在"):
        groups.add_group(db, "餐饮-东区", "ding")
    with pytest.raises(InvalidInput, match="标签"):
        groups.add_group(db, "新群", "ding", "", ["a+b"])


def test_subscriptions_filter_kinds(db: Database) -> None:
    group = groups.subscribe(db, "药店-东区", "预警信息")
    assert groups.receives(group, "预警信息") and not groups.receives(group, "培训通知")
    groups.subscribe(db, "药店-东区", "培训通知")
    group = groups.unsubscribe(db, "药店-东区", "预警信息")
    assert group["subscriptions"] == ["培训通知"] and not groups.receives(group, "预警信息")
    with pytest.raises(InvalidInput, match="唯一类别.*groups remove 药店-东区"):  # [] would be every kind again
        groups.unsubscribe(db, "药店-东区", "培训通知")
    assert groups.get_group(db, "药店-东区")["subscriptions"] == ["培训通知"]
    with pytest.raises(NotFound):
        groups.subscribe(db, "没有这个群", "预警信息")


def test_an_unknown_kind_cannot_be_subscribed(db: Database) -> None:
    """A group subscribed only to a kind no notice has would silently receive nothing."""
    with pytest.raises(InvalidInput, match="没有 '天气' 这个通知类别；可订阅：.*预警信息"):
        groups.subscribe(db, "药店-东区", "天气")
    assert groups.get_group(db, "药店-东区")["subscriptions"] == []


def test_a_configured_group_may_not_take_a_staff_groups_name(db: Database) -> None:
    """Before, the config's group replaced the staff's (tags lost) and vanished with it when the config changed."""
    groups.add_group(db, "夜市", "ding", "", ["餐饮", "夜市"])
    with pytest.raises(ConfigError, match=r"\[groups\.夜市\] name: 已有工作人员添加的同名群"):
        groups.sync_config_groups(db, (*CONFIG, GroupConfig("夜市", "ding", "", ("学校",))))
    assert groups.get_group(db, "夜市")["tags"] == ["餐饮", "夜市"]


def test_leaving_one_kind_of_every_kind_keeps_the_others(db: Database) -> None:
    group = groups.unsubscribe(db, "药店-东区", "培训通知")  # [] received every kind
    assert not groups.receives(group, "培训通知")
    assert all(groups.receives(group, kind) for kind in KINDS if kind != "培训通知")
    with pytest.raises(InvalidInput, match="没有订阅"):
        groups.unsubscribe(db, "药店-东区", "培训通知")


def test_find_group_matches_bot_and_chat_id_only(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    assert groups.find_group(db, "onebot", "1002")["name"] == "学校食堂"
    assert groups.find_group(db, "onebot", "9999") is None
    assert groups.find_group(db, "nobody", "") is None
    # A private chat (chat "") is no group, even where a group's chat is blank; nor is another chat of the bot.
    assert groups.find_group(db, "ding", "") is None
    with caplog.at_level(logging.INFO, logger="scheduler.groups"):
        assert groups.find_group(db, "ding", "cid-another") is None
    assert '如果这就是“餐饮-东区”，请在其 [[groups]] 中填写 chat = "cid-another"' in caplog.text
    # One receiving robot (an enterprise robot's single callback) answers in groups that push through robots
    # of their own: the chat id finds the group whichever bot it pushes with.
    assert groups.find_group(db, "another-receiver", "1002")["name"] == "学校食堂"


def run_cli(settings: Settings, *argv: str) -> tuple[int, str]:
    """Parse like bot.py does (a registered subcommand, `func`) and map GongkaiError to exit 1."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli_groups.register(sub)
    from cli import notice

    notice.register(sub)
    args = parser.parse_args(argv)
    ctx = CliContext(settings)
    try:
        return args.func(args, ctx), ""
    except GongkaiError as exc:
        return 1, str(exc)
    finally:
        ctx.close()


def cli_settings(tmp_path: Path) -> Settings:
    bots = (BotConfig("ding", "console"), BotConfig("feishu", "console"), BotConfig("onebot", "console"))
    return Settings(db=str(tmp_path / "cli.db"), bots=bots, groups=CONFIG)


def test_groups_cli_add_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = cli_settings(tmp_path)
    assert run_cli(settings, "groups", "add", "夜市", "--bot", "ding", "--tags", "餐饮,夜市", "--json")[0] == 0
    added = json.loads(capsys.readouterr().out)
    assert added["name"] == "夜市" and added["tags"] == ["餐饮", "夜市"] and added["source"] == "staff"
    assert run_cli(settings, "groups", "list", "--json")[0] == 0
    listed = json.loads(capsys.readouterr().out)
    assert names(listed) == sorted(["夜市", *(g.name for g in CONFIG)])
    assert run_cli(settings, "groups", "add", "x", "--bot", "nobot", "--tags", "a") == (1, "没有名为 'nobot' 的机器人（见配置文件 [[bots]]）")


def test_a_one_chat_push_robot_takes_one_group(tmp_path: Path) -> None:
    """A DingTalk, WeCom or Feishu push robot is a webhook of one chat: a second group on it would make the one
    chat get each notice twice."""
    settings = Settings(db=str(tmp_path / "cli.db"), bots=(BotConfig("dt", "dingtalk"), BotConfig("qq", "onebot")))
    assert run_cli(settings, "groups", "add", "餐饮-东区", "--bot", "dt")[0] == 0
    assert run_cli(settings, "groups", "add", "餐饮-西区", "--bot", "dt") == (
        1, "--bot: 机器人 dt 的推送 webhook 只属于一个群，已由群 '餐饮-东区' 使用；另一个群请在该群添加自己的推送机器人，并为它另配一个 [[bots]]")
    assert run_cli(settings, "groups", "add", "QQ一群", "--bot", "qq", "--chat", "1001")[0] == 0
    assert run_cli(settings, "groups", "add", "QQ二群", "--bot", "qq", "--chat", "1002")[0] == 0  # group_id apart
    assert run_cli(settings, "groups", "add", "QQ三群", "--bot", "qq", "--chat", "abc") == (
        1, "--chat: 应为 QQ 群号（数字），现为 'abc'")  # every push to it would fail
    assert run_cli(settings, "groups", "add", "QQ四群", "--bot", "qq", "--chat", "1002") == (
        1, "--chat: 群 ID '1002' 已是群 'QQ二群' 的；同一个群登记两次会重复收到每条通知")


def test_groups_cli_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Staff remove a group they added; a configured group is removed from the config file, and says so."""
    settings = cli_settings(tmp_path)
    assert run_cli(settings, "groups", "add", "夜市", "--bot", "ding", "--tags", "餐饮")[0] == 0
    capsys.readouterr()
    assert run_cli(settings, "groups", "remove", "夜市")[0] == 0
    assert "已移除群：夜市" in capsys.readouterr().out
    assert run_cli(settings, "groups", "list", "--to", "餐饮", "--json")[0] == 0
    assert "夜市" not in names(json.loads(capsys.readouterr().out))
    assert run_cli(settings, "groups", "remove", "夜市") == (1, "没有名为 '夜市' 的群")
    code, error = run_cli(settings, "groups", "remove", "学校食堂")
    assert code == 1 and "配置文件" in error
    assert run_cli(settings, "groups", "list", "--to", "学校", "--json")[0] == 0
    assert names(json.loads(capsys.readouterr().out)) == ["学校食堂"]
