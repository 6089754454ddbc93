"""Load settings from TOML plus the environment; every mistake is `file: [section] key: reason`."""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, datetime, time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.settings import (
    MAX_AHEAD,
    BotConfig,
    CatalogConfig,
    GroupConfig,
    RemindersConfig,
    ReportConfig,
    SchedulerConfig,
    Settings,
    WebConfig,
    group_problems,
)
from errors import ConfigError, InvalidInput

__all__ = ["load_settings", "parse_duration", "DEFAULT_CONFIG", "Settings", "BotConfig", "GroupConfig"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "default.toml"

_TOP_KEYS = {"db", "timezone", "web", "scheduler", "catalog", "reminders", "report", "bots", "groups"}
_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "web": {"host": str, "port": int, "max_body": int},
    "scheduler": {"misfire_grace": (str, int), "poll_interval": (int, float)},
    "catalog": {"seed": str, "top_k": int},
    "reminders": {"to": str, "at": str, "ahead": int},
    "report": {"publisher": (str, list)},
}
_GROUP_KEYS: dict[str, type | tuple[type, ...]] = {"name": str, "bot": str, "chat": (str, int), "tags": list}
_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | int | float) -> float:
    """'1h' -> 3600.0; a bare number is seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"不是时长（如 30s、10m、1h、2d）：{value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    db: str | None = None,
) -> Settings:
    """Read the config file (the embedded default when none is named) and apply overrides.

    Precedence: explicit arguments (CLI flags) > GONGKAI_* environment > file.
    """
    env = os.environ if environ is None else environ
    chosen = path or env.get("GONGKAI_CONFIG") or DEFAULT_CONFIG
    file = Path(chosen)
    name = str(chosen)
    if db is not None and not db.strip():
        raise ConfigError("--db: 数据库路径为空（不写 --db 则用配置文件中的数据库）")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8-sig"))  # -sig: Windows editors save a BOM
    except FileNotFoundError:
        raise ConfigError(f"{name}: 找不到配置文件") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: 这是文件夹，不是配置文件") from None
    except PermissionError:
        raise ConfigError(f"{name}: 没有读取权限") from None
    except OSError as exc:
        raise ConfigError(f"{name}: 无法读取（{exc.strerror}）") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: 不是 UTF-8 编码（第 {exc.start + 1} 个字节无法读取）") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: {_toml_error(str(exc))}") from None
    return _build(raw, name, file.parent, env, db)


def _build(raw: dict[str, Any], name: str, base: Path, env: Mapping[str, str], db: str | None) -> Settings:
    for key in raw:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{name}: [] {key}: 未知的键")
    sections = {s: _section(raw, s, name) for s in _SECTIONS}
    web, sched, cat = sections["web"], sections["scheduler"], sections["catalog"]
    for section, key, low, high in (("web", "port", 0, 65535), ("web", "max_body", 1, None),
                                    ("catalog", "top_k", 1, None), ("scheduler", "poll_interval", 0.001, None),
                                    ("reminders", "ahead", 1, MAX_AHEAD)):
        value = sections[section].get(key)
        if value is not None and (value < low or high is not None and value > high):
            limits = f"应为 {low}–{high}" if high is not None else f"应不小于 {low}"
            raise ConfigError(f"{name}: [{section}] {key}: {limits}，现为 {value}")
    try:
        grace = parse_duration(sched.get("misfire_grace", "1h"))
    except ValueError as exc:
        raise ConfigError(f"{name}: [scheduler] misfire_grace: {exc}") from None
    if grace < 0:
        raise ConfigError(f"{name}: [scheduler] misfire_grace: 应为不小于 0 的时长，现为 {grace:g} 秒")
    db_path = db or env.get("GONGKAI_DB")
    file_db = _typed(raw, "db", str, name, "")
    tz = _typed(raw, "timezone", str, name, "")
    if tz not in ("", "Asia/Shanghai"):
        raise ConfigError(f"{name}: [] timezone: 只支持 Asia/Shanghai，现为 {tz!r}")
    seed = cat.get("seed", "")
    bots = tuple(_bot(entry, i, name, env) for i, entry in enumerate(_list(raw, "bots", name)))
    groups = tuple(_group(entry, i, name) for i, entry in enumerate(_list(raw, "groups", name)))
    _check_references(bots, groups, name)
    return Settings(
        db=str(db_path or _relative(file_db or "data/gongkai.db", base)),
        web=WebConfig(
            host=web.get("host", "127.0.0.1"),
            port=web.get("port", 8080),
            max_body=web.get("max_body", 1024 * 1024),
        ),
        scheduler=SchedulerConfig(misfire_grace=grace, poll_interval=float(sched.get("poll_interval", 1.0))),
        catalog=CatalogConfig(seed=str(_relative(seed, base)) if seed else "", top_k=cat.get("top_k", 3)),
        reminders=_reminders(sections["reminders"], name),
        report=_report(sections["report"], name),
        bots=bots,
        groups=groups,
        source=name,
        db_overridden=bool(db_path),
    )


# tomllib's messages in Chinese ({0}: what the parser named); an unknown one keeps the parser's own words.
_TOML_MESSAGES = [(re.compile(pattern), text) for pattern, text in (
    (r"Invalid value", "值无效"),
    (r"Expected newline or end of document after a statement", "一行只能写一项，后面应换行"),
    (r"Unescaped '\\' in a string", "双引号字符串里的反斜杠要写成 \\\\（Windows 路径可改用单引号或 /）"),
    (r"Unterminated string", "字符串缺少结尾的引号"),
    (r"Expected '=' after a key in a key/value pair", "键的后面缺少“=”"),
    (r"Expected '\]\]' at the end of an array declaration", "[[…]] 缺少结尾的“]]”"),
    (r"Expected '\]' at the end of a table declaration", "[…] 缺少结尾的“]”"),
    (r"Invalid initial character for a key part", "键名的开头字符无效（键名含中文或空格时要加引号）"),
    (r"Invalid statement", "无法识别的语句（键名只能用字母、数字、_ 和 -，否则要加引号）"),
    (r"Invalid date or datetime", "日期或时间无效"),
    (r"Unclosed array", "列表缺少结尾的“]”"),
    (r"Unclosed inline table", "内联表缺少结尾的“}}”"),
    (r"Cannot declare (.+) twice", "{0} 重复定义"),
    (r"Cannot overwrite a value", "同一个键写了两次"),
    (r"Cannot (?:redefine|mutate immutable) namespace (.+)", "{0} 已定义，不能再改"),
    (r"Duplicate inline table key (.+)", "内联表里的键 {0} 重复"),
    (r"Illegal character '\\n'", "字符串缺少结尾的引号"),  # the line ended inside a string
    (r"(?:Found invalid|Illegal) character (.+)", "非法字符 {0}"),
)]


def _toml_error(message: str) -> str:
    """tomllib's message in Chinese, with its place; the parser's own words only for a message we do not know."""
    place = re.search(r"\(at (?:line (\d+)(?:, column (\d+))?|end of document)\)", message)
    detail = message[:place.start()].strip() if place else message
    if place is None:
        where = ""
    elif place[1] is None:
        where = "文件末尾"
    else:
        where = f"第 {place[1]} 行" + (f"第 {place[2]} 列" if place[2] else "")
    # An unquoted word or time (at = 09:00, to = 内部) is the usual cause of these two.
    unquoted = detail.startswith(("Expected newline or end of document", "Invalid value"))
    hint = "（文字和时刻要加引号，如 at = \"09:00\"）" if unquoted else ""
    known = next(((m, text) for pattern, text in _TOML_MESSAGES if (m := pattern.fullmatch(detail))), None)
    if known:
        detail = known[1].format(*known[0].groups())
    return f"TOML 格式错误{'（' + where + '）' if where else ''}：{detail}{hint}"


def _reminders(table: dict[str, Any], name: str) -> RemindersConfig:
    from scheduler.groups import parse_expr  # here, not at the top: the scheduler imports config

    to, at = table.get("to", "").strip(), table.get("at", "09:00").strip()
    if to:
        try:
            terms = parse_expr(to)
        except InvalidInput as exc:
            raise ConfigError(f"{name}: [reminders] to: {exc}") from None
        # Each alternative must name the staff's groups: `*` or `!内部` alone would reach every business group.
        if not all(any(not negated and tag != "*" for negated, tag in term) for term in terms):
            raise ConfigError(f"{name}: [reminders] to: 办理提醒只发工作人员自己的群：每个“或”项都要写明群名或标签，"
                              f"不能用 *，也不能只写 ! 项（现为 {to!r}）")
    clock_time = _CLOCK_TIME.match(at)
    if not clock_time:
        raise ConfigError(f"{name}: [reminders] at: 应为 HH:MM 格式的时刻，如 09:00，现为 {at!r}")
    return RemindersConfig(to=to, at=f"{int(clock_time[1]):02d}:{clock_time[2]}", ahead=table.get("ahead", 5))


def _report(table: dict[str, Any], name: str) -> ReportConfig:
    value = table.get("publisher", [])
    names = [value] if isinstance(value, str) else value
    if not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"{name}: [report] publisher: 应为本机关在公开目录“发布机构”中的名称（字符串或字符串列表）")
    return ReportConfig(publishers=tuple(n.strip() for n in names))


def _relative(value: str, base: Path) -> Path:
    """Paths in the embedded default are relative to the repository; others to the working directory."""
    path = Path(value)
    if path.is_absolute():
        return path
    return ROOT / path if base == DEFAULT_CONFIG.parent else path


def _typed(raw: dict[str, Any], key: str, kind: type | tuple[type, ...], name: str, default: Any) -> Any:
    value = raw.get(key, default)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{name}: [] {key}: 应为{_kind(kind)}，现为{_kind(type(value))}")
    return value


def _section(raw: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    table = raw.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{name}: [{section}]: 应为表（[{section}]）")
    spec = _SECTIONS[section]
    for key, value in table.items():
        if key not in spec:
            raise ConfigError(f"{name}: [{section}] {key}: 未知的键")
        if not isinstance(value, spec[key]) or isinstance(value, bool):
            raise ConfigError(f"{name}: [{section}] {key}: 应为{_kind(spec[key])}，现为{_kind(type(value))}")
    return table


def _list(raw: dict[str, Any], key: str, name: str) -> list[dict[str, Any]]:
    entries = raw.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{name}: [[{key}]]: 应为表数组（[[{key}]]）")
    return entries


def _bot(entry: dict[str, Any], index: int, name: str, env: Mapping[str, str]) -> BotConfig:
    label = entry.get("name")
    section = f"[bots.{label}]" if isinstance(label, str) and label else f"[bots #{index + 1}]"
    for key in ("name", "platform"):
        if not isinstance(entry.get(key), str) or not entry.get(key):
            raise ConfigError(f"{name}: {section} {key}: 必填，且不能为空")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", entry["name"]):
        raise ConfigError(f"{name}: {section} name: 只能用字母、数字、-、_ 或 .（它是网址的一部分）")
    from platforms import REGISTRY  # here, not at the top: platforms imports aiohttp, config must stay light

    if entry["platform"] not in REGISTRY:  # every command, not only `run`, should stop on a typo here
        raise ConfigError(f"{name}: {section} platform: 未知的平台 {entry['platform']!r}"
                          f"（可选：{'、'.join(sorted(REGISTRY))}）")
    options: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("name", "platform"):
            continue
        if isinstance(value, str) and value.startswith("env:"):
            var = value[4:]
            if var not in env or not env[var]:
                raise ConfigError(f"{name}: {section} {key}: 环境变量 {var} 未设置")
            value = env[var]
        options[key] = value
    return BotConfig(name=entry["name"], platform=entry["platform"], options=options, source=f"{name}: {section}")


def _group(entry: dict[str, Any], index: int, name: str) -> GroupConfig:
    label = entry.get("name")
    section = f"[groups.{label}]" if isinstance(label, str) and label else f"[groups #{index + 1}]"
    for key, value in entry.items():
        if key not in _GROUP_KEYS:
            raise ConfigError(f"{name}: {section} {key}: 未知的键")
        if not isinstance(value, _GROUP_KEYS[key]):
            raise ConfigError(f"{name}: {section} {key}: 应为{_kind(_GROUP_KEYS[key])}")
    for key in ("name", "bot"):
        if not entry.get(key):
            raise ConfigError(f"{name}: {section} {key}: 必填，且不能为空")
    tags = entry.get("tags", [])
    if not all(isinstance(t, str) and t.strip() for t in tags):
        raise ConfigError(f"{name}: {section} tags: 应为非空字符串的列表")
    return GroupConfig(name=entry["name"], bot=entry["bot"], chat=str(entry.get("chat", "")),
                       tags=tuple(t.strip() for t in tags))


def _check_references(bots: tuple[BotConfig, ...], groups: tuple[GroupConfig, ...], name: str) -> None:
    platform_of: dict[str, str] = {}
    for bot in bots:
        if bot.name in platform_of:
            raise ConfigError(f"{name}: [bots.{bot.name}] name: 重复定义")
        platform_of[bot.name] = bot.platform
    names: set[str] = set()
    for group in groups:
        if group.bot not in platform_of:
            raise ConfigError(f"{name}: [groups.{group.name}] bot: 没有名为 {group.bot!r} 的 [[bots]]")
        if group.name in names:
            raise ConfigError(f"{name}: [groups.{group.name}] name: 重复定义")
        names.add(group.name)
    first = next(group_problems((g.name, g.bot, platform_of[g.bot], g.chat) for g in groups), None)
    if first is not None:
        raise ConfigError(f"{name}: [groups.{first[0]}] {first[1]}: {first[2]}")


def _kind(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {str: "字符串", int: "整数", float: "小数", list: "列表", bool: "布尔值（true/false）", dict: "表",
             datetime: "日期时间", date: "日期", time: "时刻"}
    return "或".join(words.get(k, k.__name__) for k in kinds)
