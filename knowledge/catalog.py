"""The disclosure catalog: import from JSON Lines, a JSON array or CSV, all or nothing, and read it back.

`parse_file` checks every row and raises `ImportRowError(file, line, field, reason)` for the first bad one, so
staff can fix the file and re-run; nothing reaches the database until the whole file is good. Errors that
concern the file rather than one field use the pseudo-fields `encoding`, `json`, `csv` and `file`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

import clock
from errors import ImportRowError, InvalidInput, NotFound
from knowledge import CATEGORIES
from store import bump, dumps, get_meta, loads, set_meta, transaction

__all__ = [
    "FIELDS",
    "REQUIRED",
    "parse_file",
    "import_items",
    "import_file",
    "list_items",
    "get_item",
    "all_items",
    "seed_demo",
]

FIELDS: tuple[str, ...] = (
    "id", "title", "category", "published", "url", "keywords", "body",
    "index_no", "doc_no", "publisher", "validity",
)
REQUIRED: tuple[str, ...] = ("id", "title", "category")
_ALLOWED = (*FIELDS, "demo")  # demo: true marks shipped sample rows (knowledge/data/demo_catalog.jsonl)
_CSV_BOOLS = {"": False, "0": False, "false": False, "否": False, "1": True, "true": True, "是": True}
_TEXT_FIELDS = tuple(f for f in FIELDS if f != "keywords")
_CATEGORY_ALIASES = {"其他信息": "其它信息"}  # both spellings occur on government sites
_KEYWORD_SEPARATORS = re.compile(r"[;；]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ID_MAX = 100
_JSON_WS = " \t\r\n"
_JSON_TYPES = {bool: "布尔值", int: "数字", float: "数字", list: "数组", dict: "对象", str: "字符串"}
_LIST_COLUMNS = ("id", "title", "category", "published", "url", "keywords",
                 "index_no", "doc_no", "publisher", "validity", "demo", "updated_at")

Record = tuple[int, dict[str, Any]]  # (line, raw fields) before checking


# ---- reading ---------------------------------------------------------------------------------------------


def parse_file(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a whole import file, so a bad row stops the import before anything is written."""
    name = str(path)
    text = _decode(name, _read(name))
    if not text.strip():
        raise ImportRowError(name, 1, "file", "文件为空，没有条目")
    readers = {"jsonl": _jsonl_records, "json": _json_array_records, "csv": _csv_records}
    items = _check_records(name, readers[_detect(name, text)](name, text))
    if not items:
        raise ImportRowError(name, 1, "file", "文件中没有条目")
    return items


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


def _type_name(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _jsonl_records(name: str, text: str) -> Iterator[Record]:
    """One object a line; a lone pretty-printed object in a .json file is accepted too."""
    single = _single_object(text)
    if single is not None:
        yield single
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _json_error(name, exc, number) from None
        if not isinstance(value, dict):
            raise ImportRowError(name, number, "json", f"每行应是一个 JSON 对象，这里是{_type_name(value)}")
        yield number, value


def _single_object(text: str) -> Record | None:
    """The whole text as one JSON object spanning several lines, else None."""
    if "\n" not in text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    start = len(text) - len(text.lstrip(_JSON_WS))
    return text.count("\n", 0, start) + 1, value


def _json_array_records(name: str, text: str) -> Iterator[Record]:
    """The elements of a JSON array, each with the line where it starts (for the error message)."""
    decoder = json.JSONDecoder()
    lines = _LineCounter(text)
    pos = _skip_ws(text, _skip_ws(text, 0) + 1)  # past "["
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            if pos >= len(text):
                raise ImportRowError(name, lines.at(len(text)), "json", "JSON 数组没有结束（缺少 ]）")
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise _json_error(name, exc) from None
            if not isinstance(value, dict):
                raise ImportRowError(name, lines.at(pos), "json", f"数组元素应是 JSON 对象，这里是{_type_name(value)}")
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


def _csv_records(name: str, text: str) -> Iterator[Record]:
    """Rows as dicts keyed by the header, each with its physical start line (the header is line 1)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = _csv_header(name, next(reader))
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


def _csv_header(name: str, cells: list[str]) -> list[str]:
    """Column names, checked once so a wrong header is reported on line 1 rather than on every row."""
    header = [cell.strip().removeprefix("\ufeff") for cell in cells]
    for index, column in enumerate(header, start=1):
        if not column:
            raise ImportRowError(name, 1, "csv", f"表头第 {index} 列为空")
        if column not in _ALLOWED:
            raise ImportRowError(name, 1, column, f"未知字段；允许的字段: {', '.join(_ALLOWED)}")
        if header.index(column) != index - 1:
            raise ImportRowError(name, 1, column, "表头中重复出现")
    for column in REQUIRED:
        if column not in header:
            raise ImportRowError(name, 1, column, "表头缺少此列")
    return header


# ---- checking --------------------------------------------------------------------------------------------


def _check_records(name: str, records: Iterable[Record]) -> list[dict[str, Any]]:
    """Check rows in file order, so the first bad row (syntax or content) is the one reported."""
    seen: dict[str, int] = {}
    items = []
    for line, record in records:
        item = _check_record(name, line, record)
        if item["id"] in seen:
            raise ImportRowError(name, line, "id", f"id {item['id']} 与第 {seen[item['id']]} 行重复")
        seen[item["id"]] = line
        items.append(item)
    return items


def _check_record(name: str, line: int, record: dict[str, Any]) -> dict[str, Any]:
    """One row as a clean item (stripped strings, keywords a list), or the first field that is wrong."""
    for key in record:
        if key not in _ALLOWED:
            raise ImportRowError(name, line, str(key), f"未知字段；允许的字段: {', '.join(_ALLOWED)}")
    item: dict[str, Any] = {}
    for field in FIELDS:
        if field == "keywords":
            item[field] = _check_keywords(name, line, record.get(field))
        else:
            item[field] = _check_text(name, line, field, record)
    item["demo"] = _check_demo(name, line, record.get("demo"))
    return item


def _check_demo(name: str, line: int, value: Any) -> bool:
    """A JSON boolean, or in CSV one of 1/0/true/false/是/否 (empty is false)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _CSV_BOOLS:
        return _CSV_BOOLS[value.strip().lower()]
    raise ImportRowError(name, line, "demo", f"应为 true 或 false，这里是 {value!r}")


def _check_text(name: str, line: int, field: str, record: dict[str, Any]) -> str:
    value = _text(name, line, field, record.get(field))
    if field in REQUIRED and field not in record:
        raise ImportRowError(name, line, field, "缺少此字段")
    check = _CHECKS.get(field)
    if check is None:
        return value
    checked = check(value)
    if checked is None:
        raise ImportRowError(name, line, field, _reason(field, value))
    return checked


def _text(name: str, line: int, field: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImportRowError(name, line, field, f"应为字符串，这里是{_type_name(value)}")
    return value.strip()


def _check_id(value: str) -> str | None:
    ok = value and len(value) <= _ID_MAX and not any(c.isspace() or not c.isprintable() for c in value)
    return value if ok else None


def _check_title(value: str) -> str | None:
    return value or None


def _check_category(value: str) -> str | None:
    value = _CATEGORY_ALIASES.get(value, value)
    return value if value in CATEGORIES else None


def _check_published(value: str) -> str | None:
    if not value:
        return value
    try:
        return value if _DATE.match(value) and date.fromisoformat(value) else None
    except ValueError:
        return None


def _check_url(value: str) -> str | None:
    if not value:
        return value
    parts = urlsplit(value)
    ok = parts.scheme.lower() in ("http", "https") and parts.netloc and not any(c.isspace() for c in value)
    return value if ok else None


_CHECKS = {
    "id": _check_id,
    "title": _check_title,
    "category": _check_category,
    "published": _check_published,
    "url": _check_url,
}


def _reason(field: str, value: str) -> str:
    """Why a value failed its check, in words staff can act on."""
    if field == "id":
        if not value:
            return "id 为空"
        if len(value) > _ID_MAX:
            return f"id 不能超过 {_ID_MAX} 个字符"
        return f"id 不能含空白或控制字符: {value!r}"
    if field == "title":
        return "标题为空"
    if field == "category":
        shown = value or "（空）"
        return f"未知分类 {shown}；允许的分类: {'、'.join(CATEGORIES)}"
    if field == "published":
        return f"日期应为 YYYY-MM-DD 格式的真实日期（可留空）: {value}"
    return f"网址应以 http:// 或 https:// 开头: {value}"


def _check_keywords(name: str, line: int, value: Any) -> list[str]:
    """A list of strings, stripped, empties dropped, duplicates removed (order kept)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportRowError(name, line, "keywords", f"应为字符串数组（如 [\"许可\", \"餐饮\"]），这里是{_type_name(value)}")
    words: list[str] = []
    for index, word in enumerate(value, start=1):
        if not isinstance(word, str):
            raise ImportRowError(name, line, "keywords", f"第 {index} 个关键词应为字符串，这里是{_type_name(word)}")
        if word.strip() and word.strip() not in words:
            words.append(word.strip())
    return words


# ---- writing ---------------------------------------------------------------------------------------------

_UPSERT = (
    "INSERT INTO catalog(id, title, category, published, url, keywords, body, index_no, doc_no, publisher,"
    " validity, demo, updated_at) VALUES (:id, :title, :category, :published, :url, :keywords, :body,"
    " :index_no, :doc_no, :publisher, :validity, :demo, :updated_at) ON CONFLICT(id) DO UPDATE SET"
    " title = excluded.title, category = excluded.category, published = excluded.published,"
    " url = excluded.url, keywords = excluded.keywords, body = excluded.body, index_no = excluded.index_no,"
    " doc_no = excluded.doc_no, publisher = excluded.publisher, validity = excluded.validity,"
    " demo = excluded.demo, updated_at = excluded.updated_at"
)


def import_items(db: Database, items: Iterable[dict[str, Any]], replace: bool = False,
                 now: datetime | None = None, *, demo: bool = False) -> dict[str, int]:
    """Write checked items (as parse_file returns them) in one transaction; `replace` drops the rest.

    `demo=True` marks every item as sample data; otherwise an item's own `demo` flag counts.
    """
    stamp = clock.iso(now or clock.now())
    rows = {str(item["id"]): _row(item, stamp, demo) for item in items}  # a later duplicate wins
    if replace and not rows:
        raise InvalidInput("替换导入的文件不能为空：这会清空整个目录")
    with transaction(db):
        existing = {row[0] for row in db.execute("SELECT id FROM catalog").fetchall()}
        for row in rows.values():
            db.execute(_UPSERT, row)
        gone = sorted(existing - rows.keys()) if replace else []
        for item_id in gone:
            db.execute("DELETE FROM catalog WHERE id = ?", [item_id])
        bump(db, "catalog")
        total = db.execute("SELECT count(*) FROM catalog").fetchone()[0]
    added = len(rows.keys() - existing)
    return {"added": added, "updated": len(rows) - added, "removed": len(gone), "total": total}


def _row(item: dict[str, Any], stamp: str, demo: bool) -> dict[str, Any]:
    row = {field: item.get(field) or "" for field in _TEXT_FIELDS}
    row["keywords"] = dumps(list(item.get("keywords") or []))
    row["demo"] = int(demo or bool(item.get("demo")))
    row["updated_at"] = stamp
    return row


def import_file(db: Database, path: str | Path, replace: bool = False) -> dict[str, int]:
    """The `catalog import` command: check the whole file, then write it all or nothing."""
    return import_items(db, parse_file(path), replace=replace)


def seed_demo(db: Database, path: str | Path, now: datetime | None = None) -> int:
    """Load the demo catalog once into an empty database, so the default run can answer something."""
    if get_meta(db, "demo_seeded") or _count(db):
        return 0
    items = parse_file(path)
    with transaction(db):
        if get_meta(db, "demo_seeded") or _count(db):  # another process got there first
            return 0
        import_items(db, items, now=now, demo=True)
        set_meta(db, "demo_seeded", clock.iso(now or clock.now()))
    return len(items)


def _count(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM catalog").fetchone()[0])


# ---- reading back ----------------------------------------------------------------------------------------


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    for row in rows:
        row["keywords"] = loads(row.get("keywords"), [])
        if "demo" in row:
            row["demo"] = bool(row["demo"])
    return rows


def list_items(db: Database) -> list[dict[str, Any]]:
    """Every item without its body, newest first, for staff listings."""
    sql = f"SELECT {', '.join(_LIST_COLUMNS)} FROM catalog ORDER BY published DESC, id"
    return _dicts(db.execute(sql))


def get_item(db: Database, item_id: str) -> dict[str, Any]:
    """One item in full; NotFound names the id staff typed."""
    rows = _dicts(db.execute("SELECT * FROM catalog WHERE id = ?", [item_id.strip()]))
    if not rows:
        raise NotFound(f"目录中没有编号为 {item_id} 的条目")
    return rows[0]


def all_items(db: Database) -> list[dict[str, Any]]:
    """Every item with exactly the catalog fields, the input of `Knowledge.build`."""
    return _dicts(db.execute(f"SELECT {', '.join(FIELDS)} FROM catalog ORDER BY id"))
