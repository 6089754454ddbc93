"""The disclosure catalog: import from JSON Lines, a JSON array or CSV, all or nothing, and read it back.

`parse_file` checks every row and raises `ImportRowError(file, line, field, reason)` for the first bad one, so
staff can fix the file and re-run; nothing reaches the database until the whole file is good. Errors that
concern the file rather than one field use the pseudo-fields `encoding`, `json`, `csv` and `file`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

import clock
from errors import ImportRowError, InvalidInput, NotFound
from knowledge import CATEGORIES, formats
from knowledge.formats import Record
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
    "index_no", "doc_no", "publisher", "validity", "repealed",
)
REQUIRED: tuple[str, ...] = ("id", "title", "category")
_ALLOWED = (*FIELDS, "demo")  # demo: true marks shipped sample rows (knowledge/data/demo_catalog.jsonl)
_CSV_BOOLS = {"": False, "0": False, "false": False, "否": False, "1": True, "true": True, "是": True}
_TEXT_FIELDS = tuple(f for f in FIELDS if f != "keywords")
_CATEGORY_ALIASES = {"其他信息": "其它信息"}  # both spellings occur on government sites
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BAD_CHAR = re.compile(r"[\x00\ud800-\udfff]")  # NUL, lone surrogates
_ID_MAX = 100
_LIST_COLUMNS = ("id", "title", "category", "published", "url", "keywords",
                 "index_no", "doc_no", "publisher", "validity", "repealed", "demo", "updated_at")


# ---- reading ---------------------------------------------------------------------------------------------


def parse_file(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a whole import file, so a bad row stops the import before anything is written."""
    name = str(path)
    items = _check_records(name, formats.read_records(name, _ALLOWED, REQUIRED))
    if not items:
        raise ImportRowError(name, 1, "file", "文件中没有条目")
    return items


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
    if item["repealed"] and item["published"] and item["repealed"] < item["published"]:
        raise ImportRowError(name, line, "repealed", f"废止日期 {item['repealed']} 早于发布日期 {item['published']}")
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
        raise ImportRowError(name, line, field, f"应为字符串，这里是{formats.type_name(value)}")
    _check_chars(name, line, field, value)
    return value.strip()


def _check_chars(name: str, line: int, field: str, value: str) -> None:
    """NUL cuts text short in SQLite functions; a lone surrogate (JSON "\\ud800") cannot be stored as UTF-8."""
    bad = _BAD_CHAR.search(value)
    if bad:
        raise ImportRowError(name, line, field, f"含无效字符 {bad.group()!r}（第 {bad.start() + 1} 个字符）")


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
    "repealed": _check_published,
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
    if field in ("published", "repealed"):
        return f"日期应为 YYYY-MM-DD 格式的真实日期（可留空）: {value}"
    return f"网址应以 http:// 或 https:// 开头: {value}"


def _check_keywords(name: str, line: int, value: Any) -> list[str]:
    """A list of strings, stripped, empties dropped, duplicates removed (order kept)."""
    if value is None:
        return []
    if not isinstance(value, list):
        kind = formats.type_name(value)
        raise ImportRowError(name, line, "keywords", f"应为字符串数组（如 [\"许可\", \"餐饮\"]），这里是{kind}")
    words: list[str] = []
    for index, word in enumerate(value, start=1):
        if not isinstance(word, str):
            kind = formats.type_name(word)
            raise ImportRowError(name, line, "keywords", f"第 {index} 个关键词应为字符串，这里是{kind}")
        _check_chars(name, line, "keywords", word)
        if word.strip() and word.strip() not in words:
            words.append(word.strip())
    return words


# ---- writing ---------------------------------------------------------------------------------------------

_UPSERT = (
    "INSERT INTO catalog(id, title, category, published, url, keywords, body, index_no, doc_no, publisher,"
    " validity, repealed, demo, updated_at) VALUES (:id, :title, :category, :published, :url, :keywords, :body,"
    " :index_no, :doc_no, :publisher, :validity, :repealed, :demo, :updated_at) ON CONFLICT(id) DO UPDATE SET"
    " title = excluded.title, category = excluded.category, published = excluded.published,"
    " url = excluded.url, keywords = excluded.keywords, body = excluded.body, index_no = excluded.index_no,"
    " doc_no = excluded.doc_no, publisher = excluded.publisher, validity = excluded.validity,"
    " repealed = excluded.repealed,"
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
