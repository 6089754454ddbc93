"""Reading catalog import files: JSON Lines, a JSON array or CSV, as (line, raw record) pairs.

Every syntax problem is an `ImportRowError` with the physical line it is on; checking the fields of a record
is the caller's job (knowledge/catalog.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from errors import ImportRowError, InvalidInput

__all__ = ["Record", "read_records", "type_name"]

Record = tuple[int, dict[str, Any]]  # (line, raw fields) before checking
_JSON_WS = " \t\r\n"
_KEYWORD_SEPARATORS = re.compile(r"[;；]")  # CSV keyword cells: "许可;餐饮" or with a full-width ；
_JSON_TYPES = {bool: "布尔值", int: "数字", float: "数字", list: "数组", dict: "对象", str: "字符串"}


def read_records(name: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> Iterator[Record]:
    """The records of one import file in file order; `allowed`/`required` are the CSV header's columns."""
    text = _decode(name, _read(name))
    if not text.strip():
        raise ImportRowError(name, 1, "file", "文件为空，没有条目")
    kind = _detect(name, text)
    if kind == "csv":
        return _csv_records(name, text, allowed, required)
    return _jsonl_records(name, text) if kind == "jsonl" else _json_array_records(name, text)


def _read(name: str) -> bytes:
    """The file's bytes, or one clear line instead of a traceback."""
    try:
        return Path(name).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"找不到文件: {name}") from None
    except OSError as exc:
        raise InvalidInput(f"无法读取文件 {name}: {exc.strerror or exc}") from None


def _decode(name: str, raw: bytes) -> str:
    """UTF-8 text without a BOM; Excel's GBK and UTF-16 exports are the usual mistakes, so say where."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRowError(name, 1, "encoding", "文件是 UTF-16 编码，请另存为 UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ImportRowError(
            name, line, "encoding",
            f"不是 UTF-8 编码：字节偏移 {exc.start}（0x{raw[exc.start]:02x}）无法解码；"
            "如为 GBK/GB18030，请另存为 UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def _detect(name: str, text: str) -> str:
    """jsonl, json (an array) or csv: the extension first, then the first character."""
    ext = Path(name).suffix.lower()
    first = text.lstrip(_JSON_WS + "\ufeff")[:1]
    if ext == ".csv":
        return "csv"
    if first == "[":
        return "json"
    if first == "{" or ext in (".json", ".jsonl", ".ndjson"):
        return "jsonl"
    return "csv"


_JSON_MESSAGES = {
    "Expecting value": "此处应为一个值",
    "Expecting property name enclosed in double quotes": "字段名应使用英文双引号",
    "Unterminated string starting at": "字符串缺少结束的双引号",
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting ':' delimiter": "缺少冒号",
    "Extra data": "一行只能有一个 JSON 对象",
    "Invalid control character at": "字符串中有未转义的控制字符（如换行）",
}


def _json_error(name: str, exc: json.JSONDecodeError, line: int | None = None) -> ImportRowError:
    """Python's message with a Chinese gloss, at the line the parser stopped."""
    gloss = _JSON_MESSAGES.get(exc.msg)
    message = f"{gloss}（{exc.msg}）" if gloss else exc.msg
    return ImportRowError(name, line or exc.lineno, "json", f"JSON 格式错误: {message}，第 {exc.colno} 列")


class _DuplicateKey(ValueError):
    """A repeated key, raised inside the JSON parser, which does not know the line; the caller adds it."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: a repeated key is refused rather than silently keeping the last value."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object)


def _parse_error(name: str, line: int, exc: ValueError | RecursionError) -> ImportRowError:
    """What the parser raises besides JSONDecodeError (huge integer, deep nesting, repeated key)."""
    if isinstance(exc, _DuplicateKey):
        return ImportRowError(name, line, exc.args[0], "同一个 JSON 对象中重复出现")
    if isinstance(exc, RecursionError):
        return ImportRowError(name, line, "json", "JSON 格式错误: 嵌套层数过多")
    # the only other ValueError: an integer longer than Python converts (sys.set_int_max_str_digits)
    return ImportRowError(name, line, "json", f"JSON 格式错误: 数字超过 {sys.get_int_max_str_digits()} 位")


def type_name(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _jsonl_records(name: str, text: str) -> Iterator[Record]:
    """One object a line; a lone pretty-printed object in a .json file is accepted too."""
    single = _single_object(name, text)
    if single is not None:
        yield single
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = _DECODER.decode(line)
        except json.JSONDecodeError as exc:
            raise _json_error(name, exc, number) from None
        except (ValueError, RecursionError) as exc:
            raise _parse_error(name, number, exc) from None
        if not isinstance(value, dict):
            raise ImportRowError(name, number, "json", f"每行应是一个 JSON 对象，这里是{type_name(value)}")
        yield number, value


def _single_object(name: str, text: str) -> Record | None:
    """The whole text as one JSON object spanning several lines, else None."""
    if "\n" not in text.strip():
        return None
    start = len(text) - len(text.lstrip(_JSON_WS))
    line = text.count("\n", 0, start) + 1
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError:
        return None
    except (ValueError, RecursionError) as exc:  # in the first object, which starts on `line`
        raise _parse_error(name, line, exc) from None
    if not isinstance(value, dict):
        return None
    return line, value


def _json_array_records(name: str, text: str) -> Iterator[Record]:
    """The elements of a JSON array, each with the line where it starts (for the error message)."""
    lines = _LineCounter(text)
    pos = _skip_ws(text, _skip_ws(text, 0) + 1)  # past "["
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            if pos >= len(text):
                raise ImportRowError(name, lines.at(len(text)), "json", "JSON 数组没有结束（缺少 ]）")
            try:
                value, end = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise _json_error(name, exc) from None
            except (ValueError, RecursionError) as exc:
                raise _parse_error(name, lines.at(pos), exc) from None
            if not isinstance(value, dict):
                raise ImportRowError(name, lines.at(pos), "json", f"数组元素应是 JSON 对象，这里是{type_name(value)}")
            yield lines.at(pos), value
            pos = _skip_ws(text, end)
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            if pos >= len(text) or text[pos] != ",":
                raise ImportRowError(name, lines.at(pos), "json", "JSON 格式错误: 元素之间缺少逗号或数组缺少 ]")
            pos = _skip_ws(text, pos + 1)
            if pos < len(text) and text[pos] == "]":
                raise ImportRowError(name, lines.at(pos), "json", "JSON 格式错误: 数组末尾多了一个逗号")
    if _skip_ws(text, pos) < len(text):
        raise ImportRowError(name, lines.at(_skip_ws(text, pos)), "json", "JSON 格式错误: 数组之后还有多余内容")


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


class _LineCounter:
    """Line numbers of increasing offsets without rescanning the text from the start each time."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            return self.text.count("\n", 0, pos) + 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _csv_records(name: str, text: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> Iterator[Record]:
    """Rows as dicts keyed by the header, each with its physical start line (the header is line 1)."""
    # no field can be longer than the file: lift csv's 131,072-character default, as JSON has no such limit
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = _csv_header(name, next(reader), allowed, required)
        end = reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                raise ImportRowError(name, start, "csv", f"本行有 {len(row)} 列，表头只有 {len(header)} 列")
            record: dict[str, Any] = dict(zip(header, row))
            if "keywords" in record:
                record["keywords"] = _KEYWORD_SEPARATORS.split(record["keywords"])
            yield start, record
    except csv.Error as exc:
        raise ImportRowError(name, reader.line_num, "csv", f"CSV 格式错误: {exc}") from None


def _csv_header(name: str, cells: list[str], allowed: tuple[str, ...], required: tuple[str, ...]) -> list[str]:
    """Column names, checked once so a wrong header is reported on line 1 rather than on every row."""
    header = [cell.strip().removeprefix("\ufeff") for cell in cells]
    for index, column in enumerate(header, start=1):
        if not column:
            raise ImportRowError(name, 1, "csv", f"表头第 {index} 列为空")
        if column not in allowed:
            raise ImportRowError(name, 1, column, f"未知字段；允许的字段: {', '.join(allowed)}")
        if header.index(column) != index - 1:
            raise ImportRowError(name, 1, column, "表头中重复出现")
    for column in required:
        if column not in header:
            raise ImportRowError(name, 1, column, "表头缺少此列")
    return header
