"""Config: the embedded default loads; every mistake is one clear `file: [section] key: reason` line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import DEFAULT_CONFIG, load_settings, parse_duration
from errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gongkai.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_embedded_default_needs_no_secrets() -> None:
    settings = load_settings(environ={})
    assert settings.source == str(DEFAULT_CONFIG)
    assert settings.db.endswith("data/gongkai.db")
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8080)
    assert settings.scheduler.misfire_grace == 3600
    assert [b.platform for b in settings.bots] == ["console", "webhook"]
    assert settings.groups[0].tags == ("演示", "餐饮")
    assert settings.catalog.seed.endswith("demo_catalog.jsonl") and not settings.db_overridden


def test_db_flag_beats_environment_beats_file(tmp_path: Path) -> None:
    assert load_settings(environ={"GONGKAI_DB": "/x/env.db"}).db == "/x/env.db"
    settings = load_settings(environ={"GONGKAI_DB": "/x/env.db"}, db="/x/flag.db")
    assert settings.db == "/x/flag.db" and settings.db_overridden


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, 'db = "custom.db"\n')
    assert load_settings(environ={"GONGKAI_CONFIG": path}).db == "custom.db"


def test_env_secret_is_resolved_and_not_in_repr(tmp_path: Path) -> None:
    path = write(tmp_path, '[[bots]]\nname = "hook"\nplatform = "webhook"\nsecret = "env:HOOK_SECRET"\n')
    settings = load_settings(path, environ={"HOOK_SECRET": "s3cr3t-value"})
    assert settings.bots[0].options["secret"] == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "[] colour: 未知的键"),
        ("[web]\nport = \"80\"\n", "[web] port: 应为整数，现为字符串"),
        ("[web]\nhots = \"x\"\n", "[web] hots: 未知的键"),
        ("[scheduler]\nmisfire_grace = \"soon\"\n", "[scheduler] misfire_grace: 不是时长（如 30s、10m、1h、2d）"),
        ('[[bots]]\nname = "a"\nplatform = "webhook"\nsecret = "env:NOPE"\n',
         "[bots.a] secret: 环境变量 NOPE 未设置"),
        ('[[bots]]\nplatform = "webhook"\n', "[bots #1] name: 必填，且不能为空"),
        ('[[bots]]\nname = "a"\nplatform = "wechat"\n', "[bots.a] platform: 未知的平台 'wechat'（可选："),
        ('[[bots]]\nname = "a b"\nplatform = "webhook"\n', "[bots.a b] name: 只能用字母、数字"),
        ('[[groups]]\nname = "g"\nbot = "ghost"\n', "[groups.g] bot: 没有名为 'ghost' 的 [[bots]]"),
        ('[[groups]]\nname = "g"\nbot = "x"\ncolour = 1\n', "[groups.g] colour: 未知的键"),
        ('[[bots]]\nname = "dt"\nplatform = "dingtalk"\n[[groups]]\nname = "a"\nbot = "dt"\n[[groups]]\nname = "b"\n'
         'bot = "dt"\n', "[groups.b] bot: 机器人 dt 的推送 webhook 只属于一个群，已由群 'a' 使用"),
        ('[[bots]]\nname = "qq"\nplatform = "onebot"\n[[groups]]\nname = "a"\nbot = "qq"\nchat = "群1"\n',
         "[groups.a] chat: 应为 QQ 群号（数字），现为 '群1'"),
        ('[[bots]]\nname = "qq"\nplatform = "onebot"\n[[groups]]\nname = "a"\nbot = "qq"\nchat = "1001"\n'
         '[[groups]]\nname = "b"\nbot = "qq"\nchat = "1001"\n', "[groups.b] chat: 群 ID '1001' 已是群 'a' 的"),
        ("db = \"x\"\nport =\n", "TOML 格式错误（第 2 行第 7 列）：值无效（文字和时刻要加引号"),
        ("[web]\n[web]\n", "TOML 格式错误（第 2 行第 5 列）：('web',) 重复定义"),
        ('db = "C:\\data\\g.db"\n', "TOML 格式错误（第 1 行第 11 列）：双引号字符串里的反斜杠要写成 \\\\（Windows 路径"),
        ('db = "g.db\n', "TOML 格式错误（第 1 行第 11 列）：字符串缺少结尾的引号"),
        ("[[bots]\n", "TOML 格式错误（第 1 行第 7 列）：[[…]] 缺少结尾的“]]”"),
        ("[web]\nport = {a = 1\n", "TOML 格式错误（第 2 行第 14 列）：内联表缺少结尾的“}”"),
        ("[report]\npublisher = [\"某分局\",\n", "TOML 格式错误（文件末尾）：值无效"),
        ("名称 = 1\n", "TOML 格式错误（第 1 行第 1 列）：无法识别的语句（键名只能用字母"),
        ("[reminders]\nat = 09:00:00\n", "[reminders] at: 应为字符串，现为时刻"),
        ("[web]\nport = 8080.0\n", "[web] port: 应为整数，现为小数"),
        ('timezone = "UTC"\n', "[] timezone: 只支持 Asia/Shanghai"),
        ("[report]\npublisher = 1\n", "[report] publisher: 应为字符串或列表，现为整数"),
        ('[report]\npublisher = ["某分局", ""]\n', "[report] publisher: 应为本机关在公开目录“发布机构”中的名称"),
        ("[web]\nport = 99999\n", "[web] port: 应为 0–65535，现为 99999"),
        ("[web]\nport = -1\n", "[web] port: 应为 0–65535，现为 -1"),
        ("[web]\nmax_body = 0\n", "[web] max_body: 应不小于 1，现为 0"),
        ("[catalog]\ntop_k = -3\n", "[catalog] top_k: 应不小于 1，现为 -3"),
        ("[scheduler]\npoll_interval = 0\n", "[scheduler] poll_interval: 应不小于 0.001，现为 0"),
        ("[scheduler]\nmisfire_grace = -5\n", "[scheduler] misfire_grace: 应为不小于 0 的时长"),
    ],
)
def test_bad_config_names_file_section_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="找不到配置文件"):
        load_settings(str(tmp_path / "nope.toml"), environ={})


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes('db = "数据.db"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match=r"不是 UTF-8 编码（第 7 个字节无法读取）"):
        load_settings(str(path), environ={})


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("30m", 1800), ("90s", 90), ("2d", 172800), ("15", 15)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="这是文件夹，不是配置文件"):
        load_settings(str(tmp_path), environ={})


def test_a_byte_order_mark_is_read_past(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeff[web]\nport = 8181\n".encode())  # as Windows Notepad saves UTF-8
    assert load_settings(str(path), environ={}).web.port == 8181


def test_an_empty_db_flag_is_an_error_not_the_default_database() -> None:
    """--db "$DB" with DB unset must not quietly open the live database."""
    with pytest.raises(ConfigError, match="--db"):
        load_settings(None, environ={}, db=" ")
