"""Catalog import: every bad row is reported as FILE:LINE: field: and leaves the catalog as it was."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

import clock
from cli import CliContext
from cli import catalog as cli_catalog
from config.settings import Settings
from errors import ImportRowError, InvalidInput, NotFound
from knowledge import CATEGORIES
from knowledge.catalog import (
    FIELDS,
    all_items,
    get_item,
    import_file,
    import_items,
    list_items,
    parse_file,
    seed_demo,
)
from store import get_meta, open_db, revisions

DATA = Path(__file__).parent / "data" / "import"
HEADER = "id,title,category,published,url,keywords,body\n"
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=clock.TZ)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "catalog.db")
    yield database
    database.close()


def _line(item: dict[str, Any]) -> str:
    return json.dumps(item, ensure_ascii=False)


def _item(item_id: str = "A-1", **fields: Any) -> dict[str, Any]:
    base = {"id": item_id, "title": "标题", "category": "办事指南", "published": "2024-01-02",
            "url": "https://example.gov.cn/x", "keywords": ["许可"], "body": "正文"}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not _DROP}


_DROP = object()


def _jsonl(*items: dict[str, Any]) -> str:
    return "".join(_line(item) + "\n" for item in items)


GOOD = _line(_item("OK-1"))
HUGE_INT = '{"id": "H-1", "title": "t", "category": "办事指南", "x": ' + "1" * 5000 + "}"  # past Python's 4300 digits
DEEP = "[" * 100_000 + "]" * 100_000  # past the parser's recursion limit
TWO_TITLES = '{"id": "K-1", "category": "办事指南",\n "title": "a", "title": "b"}'

# (file name, content, line, field): the expected "FILE:LINE: field:" prefix of the error.
BAD_INPUTS: list[tuple[str, str | bytes, int, str]] = [
    ("gbk.csv", (HEADER + "G-1,食品经营许可,办事指南,,,,\n").encode("gbk"), 2, "encoding"),
    ("gbk.jsonl", (GOOD + "\n\n").encode() + _line(_item("G-2")).encode("gb18030"), 3, "encoding"),
    ("utf16.csv", (HEADER + "U-1,标题,办事指南,,,,\n").encode("utf-16"), 1, "encoding"),
    ("broken.jsonl", GOOD + '\n{"id": "B-2", "title": \n', 2, "json"),
    ("not-object.jsonl", GOOD + "\n[1, 2]\n", 2, "json"),
    ("broken.json", '[\n  {"id": "B-1", "title": "t", "category": "办事指南"},\n  {"id": "B-2", "title": t}\n]', 3, "json"),
    ("trailing-comma.json", '[\n  {"id": "B-1", "title": "t", "category": "办事指南"},\n]\n', 3, "json"),
    ("unclosed.json", '[\n  {"id": "B-1", "title": "t", "category": "办事指南"}\n', 3, "json"),
    ("element.json", "[1]", 1, "json"),
    ("missing-id.jsonl", GOOD + "\n" + _line(_item(id=_DROP)), 2, "id"),
    ("empty-id.csv", HEADER + "OK-1,标题,办事指南,,,,\n  ,标题,办事指南,,,,\n", 3, "id"),
    ("space-id.jsonl", _line(_item("A 1")), 1, "id"),
    ("int-id.jsonl", _line(_item(12)), 1, "id"),
    ("empty-title.jsonl", _jsonl(_item("E-1"), _item("E-2", title="   ")), 2, "title"),
    ("missing-title.jsonl", _line(_item(title=_DROP)), 1, "title"),
    ("wrong-type-title.jsonl", _line(_item(title=123)), 1, "title"),
    ("category.jsonl", _line(_item(category="食品安全")), 1, "category"),
    ("missing-category.csv", "id,title\nC-1,标题\n", 1, "category"),
    ("date-feb30.jsonl", _line(_item(published="2024-02-30")), 1, "published"),
    ("date-slash.csv", HEADER + "D-1,标题,办事指南,2024/3/5,,,\n", 2, "published"),
    ("date-short.jsonl", _line(_item(published="2024-3-5")), 1, "published"),
    ("keywords-string.jsonl", _line(_item(keywords="许可;餐饮")), 1, "keywords"),
    ("keywords-numbers.json", "[\n" + _line(_item(keywords=[1, 2])) + "\n]", 2, "keywords"),
    ("unknown-field.jsonl", _line(_item(author="张三")), 1, "author"),
    ("unknown-column.csv", "id,title,category,author\nU-1,标题,办事指南,张三\n", 1, "author"),
    ("duplicate-column.csv", "id,title,category,title\nU-1,标题,办事指南,x\n", 1, "title"),
    ("duplicate.jsonl", _jsonl(_item("D-1"), _item("D-2"), _item("D-1")), 3, "id"),
    ("duplicate.csv", HEADER + "D-1,标题,办事指南,,,,\nD-1,标题2,办事指南,,,,\n", 3, "id"),
    ("url-ftp.jsonl", _line(_item(url="ftp://example.gov.cn/x")), 1, "url"),
    ("url-bare.csv", HEADER + "L-1,标题,办事指南,,www.example.gov.cn,,\n", 2, "url"),
    ("empty.jsonl", "", 1, "file"),
    ("blank.json", "  \n\n", 1, "file"),
    ("empty-array.json", "[]", 1, "file"),
    ("header-only.csv", HEADER, 1, "file"),
    ("demo-not-bool.jsonl", _line(_item(demo="yes")), 1, "demo"),
    ("demo-bad-cell.csv", "id,title,category,demo\nB-1,标题,办事指南,maybe\n", 2, "demo"),
    ("too-many-cells.csv", HEADER + "T-1,标题,办事指南,,,,,extra\n", 2, "csv"),
    ("huge-int.jsonl", GOOD + "\n" + HUGE_INT + "\n", 2, "json"),
    ("huge-int.json", "[\n" + GOOD + ",\n" + HUGE_INT + "\n]", 3, "json"),
    ("deep.json", DEEP, 1, "json"),
    ("deep-body.jsonl", GOOD + '\n{"id": "N-1", "title": "t", "body": ' + DEEP + "}\n", 2, "json"),
    ("deep-pretty.json", '\n{\n  "id": "N-1",\n  "body": ' + DEEP + "\n}\n", 2, "json"),
    ("duplicate-key.jsonl", GOOD + "\n" + TWO_TITLES.replace("\n", "") + "\n", 2, "title"),
    ("duplicate-key.json", "[\n" + TWO_TITLES + "\n]", 2, "title"),  # reported where the object starts
]


def _snapshot(db: Database) -> tuple[list[dict[str, Any]], dict[str, int]]:
    return all_items(db), revisions(db)


@pytest.mark.parametrize(("name", "content", "line", "field"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_names_file_line_field_and_imports_nothing(
    db: Database, tmp_path: Path, name: str, content: str | bytes, line: int, field: str
) -> None:
    import_file(db, DATA / "good.jsonl")
    before = _snapshot(db)
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportRowError) as caught:
        import_file(db, path)
    error = caught.value
    assert str(error).startswith(f"{path}:{line}: {field}: ")
    assert (error.line, error.field) == (line, field)
    assert error.reason.strip()
    assert _snapshot(db) == before


@pytest.mark.parametrize("char", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("field", FIELDS)
def test_nul_or_lone_surrogate_in_any_text_field_is_refused(
    db: Database, tmp_path: Path, field: str, char: str
) -> None:
    import_file(db, DATA / "good.jsonl")
    before = _snapshot(db)
    value = _item().get(field, "x")
    bad = [value[0] + char] if field == "keywords" else value + char
    path = tmp_path / "chars.jsonl"
    path.write_text(GOOD + "\n" + json.dumps(_item(**{field: bad})) + "\n", encoding="utf-8")  # ASCII escapes
    with pytest.raises(ImportRowError) as caught:
        import_file(db, path)
    assert (caught.value.line, caught.value.field) == (2, field)
    assert f"含无效字符 {char!r}" in caught.value.reason
    assert _snapshot(db) == before


def test_reasons_say_what_to_fix(tmp_path: Path) -> None:
    cases = {
        "cat.jsonl": (_line(_item(category="食品安全")), "办事指南"),  # lists the allowed categories
        "dup.jsonl": (_jsonl(_item("D-1"), _item("D-1")), "第 1 行"),  # names the earlier line
        "gbk.csv": ((HEADER + "G-1,食品,办事指南,,,,\n").encode("gbk"), "字节偏移 "),
        "unknown.jsonl": (_line(_item(author="x")), "category"),  # lists the allowed fields
        "huge.jsonl": (HUGE_INT, "数字超过"),
        "deep.json": (DEEP, "嵌套层数过多"),
        "dup-key.jsonl": ('{"id": "K-1", "id": "K-2", "title": "t", "category": "办事指南"}', "重复出现"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(ImportRowError) as caught:
            parse_file(path)
        assert expected in caught.value.reason, name


def test_gbk_offset_points_at_first_bad_byte(tmp_path: Path) -> None:
    raw = (HEADER + "G-1,标题,办事指南,,,,\n").encode("gbk")  # 0xb1 cannot start a UTF-8 sequence
    path = tmp_path / "gbk.csv"
    path.write_bytes(raw)
    with pytest.raises(ImportRowError) as caught:
        parse_file(path)
    assert f"字节偏移 {len(HEADER) + len('G-1,')}" in caught.value.reason


def test_first_bad_row_wins_even_before_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "two-errors.jsonl"
    path.write_text(GOOD + "\n" + _line(_item("X", category="无")) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(ImportRowError, match=r":2: category: "):
        parse_file(path)


def test_json_array_error_names_the_line_where_the_element_starts(tmp_path: Path) -> None:
    elements = [json.dumps(_item(f"J-{n}"), ensure_ascii=False, indent=2) for n in range(3)]
    elements.append(json.dumps(_item("J-3", category="不存在"), ensure_ascii=False, indent=2))
    text = "[\n" + ",\n".join(elements) + "\n]\n"
    path = tmp_path / "array.json"
    path.write_text(text, encoding="utf-8")
    start = text.count("\n", 0, text.rindex("{", 0, text.index('"J-3"'))) + 1
    with pytest.raises(ImportRowError) as caught:
        parse_file(path)
    assert (caught.value.line, caught.value.field) == (start, "category")


def test_csv_line_numbers_count_physical_lines_of_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "multiline.csv"
    path.write_text(HEADER + 'M-1,标题,办事指南,,,,"一\n二\n三"\nM-2,标题,无此分类,,,,\n', encoding="utf-8")
    with pytest.raises(ImportRowError) as caught:
        parse_file(path)
    assert (caught.value.line, caught.value.field) == (5, "category")


def test_csv_fields_are_not_limited_to_the_csv_module_default(tmp_path: Path) -> None:
    body = "长" * 200_000  # the csv module refuses fields over 131,072 characters by default
    path = tmp_path / "long.csv"
    path.write_text(HEADER + f"L-1,标题,办事指南,,,,{body}\n", encoding="utf-8")
    assert parse_file(path)[0]["body"] == body


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="找不到文件"):
        parse_file(tmp_path / "nope.jsonl")


def test_jsonl_happy_path_strips_and_fills_defaults(db: Database) -> None:
    counts = import_file(db, DATA / "good.jsonl")
    assert counts == {"added": 2, "updated": 0, "removed": 0, "total": 2}
    item = get_item(db, "FDA-2024-002")
    assert item["title"] == "夏季食品安全消费提示"
    assert item["keywords"] == []
    assert item["index_no"] == "014236727/2024-00002"
    assert item["doc_no"] == ""
    assert item["demo"] is False


def test_json_array_happy_path(db: Database) -> None:
    counts = import_file(db, DATA / "good.json")
    assert counts["added"] == 2
    item = get_item(db, "FDA-2024-003")
    assert (item["doc_no"], item["validity"], item["url"]) == ("区市监〔2024〕12号", "有效", "http://example.gov.cn/a/3.html")
    assert item["keywords"] == ["火锅", "专项整治"]


def test_csv_happy_path_splits_keywords_on_both_semicolons(db: Database) -> None:
    import_file(db, DATA / "good.csv")
    assert get_item(db, "FDA-2024-001")["keywords"] == ["食品经营许可", "办证"]
    item = get_item(db, "FDA-2024-004")
    assert item["keywords"] == ["抽检", "不合格", "核查"]
    assert item["body"] == "第一段\n第二段"
    assert item["url"] == ""


def test_bom_csv_with_crlf(db: Database) -> None:
    counts = import_file(db, DATA / "bom.csv")
    assert counts["added"] == 1
    item = get_item(db, "FDA-2024-005")
    assert (item["title"], item["keywords"]) == ("小饭桌备案管理", ["小饭桌", "备案"])


def test_format_follows_content_when_the_extension_is_missing(tmp_path: Path) -> None:
    for name, text in {"a.txt": _jsonl(_item("T-1")), "b": "[" + _line(_item("T-2")) + "]",
                       "c.dat": HEADER + "T-3,标题,办事指南,,,,\n"}.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert len(parse_file(path)) == 1, name


def test_a_single_pretty_printed_object_in_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(_item("ONE"), ensure_ascii=False, indent=2), encoding="utf-8")
    assert [item["id"] for item in parse_file(path)] == ["ONE"]


def test_category_alias_and_null_optionals(tmp_path: Path) -> None:
    path = tmp_path / "alias.jsonl"
    path.write_text(_line(_item(category="其他信息", url=None, keywords=None, body=None)), encoding="utf-8")
    [item] = parse_file(path)
    assert (item["category"], item["url"], item["keywords"], item["body"]) == ("其它信息", "", [], "")
    assert set(item) == {*FIELDS, "demo"} and item["demo"] is False


def test_demo_flag_marks_sample_rows(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    path.write_text(_jsonl(_item("S-1", demo=True), _item("S-2")), encoding="utf-8")
    import_file(db, path)
    assert [(item["id"], item["demo"]) for item in list_items(db)] == [("S-1", True), ("S-2", False)]
    import_items(db, [_item("S-1")])  # a real item replacing the sample is no longer demo
    assert get_item(db, "S-1")["demo"] is False


def test_demo_catalog_shipped_with_the_project_imports(db: Database) -> None:
    demo = Path(__file__).parent.parent / "knowledge" / "data" / "demo_catalog.jsonl"
    if not demo.exists():
        pytest.skip("demo catalog not present")
    assert seed_demo(db, demo) == len(all_items(db)) > 0


def test_reimport_replaces_the_item(db: Database, tmp_path: Path) -> None:
    import_file(db, DATA / "good.jsonl")
    path = tmp_path / "update.jsonl"
    path.write_text(_line(_item("FDA-2024-001", title="新标题", keywords=["新"])), encoding="utf-8")
    counts = import_file(db, path)
    assert counts == {"added": 0, "updated": 1, "removed": 0, "total": 2}
    item = get_item(db, "FDA-2024-001")
    assert (item["title"], item["keywords"], item["category"]) == ("新标题", ["新"], "办事指南")


def test_replace_makes_the_file_the_whole_catalog(db: Database) -> None:
    import_file(db, DATA / "good.jsonl")  # FDA-2024-001, 002
    counts = import_file(db, DATA / "good.json", replace=True)  # FDA-2024-001, 003
    assert counts == {"added": 1, "updated": 1, "removed": 1, "total": 2}
    assert [item["id"] for item in all_items(db)] == ["FDA-2024-001", "FDA-2024-003"]


def test_bad_row_in_a_replace_import_keeps_the_old_catalog(db: Database, tmp_path: Path) -> None:
    import_file(db, DATA / "good.jsonl")
    before = _snapshot(db)
    path = tmp_path / "bad.jsonl"
    path.write_text(_jsonl(_item("N-1"), _item("N-2", published="2024-13-01")), encoding="utf-8")
    with pytest.raises(ImportRowError, match=r"bad.jsonl:2: published: "):
        import_file(db, path, replace=True)
    assert _snapshot(db) == before


def test_failure_while_writing_rolls_back_everything(db: Database) -> None:
    import_file(db, DATA / "good.jsonl")
    before = _snapshot(db)
    items = [_item("W-1"), _item("W-2", keywords=[object()])]  # not JSON-serialisable: fails mid-transaction
    with pytest.raises(TypeError):
        import_items(db, items, replace=True)
    assert _snapshot(db) == before


def test_replace_with_nothing_is_refused(db: Database) -> None:
    import_file(db, DATA / "good.jsonl")
    with pytest.raises(InvalidInput):
        import_items(db, [], replace=True)
    assert len(all_items(db)) == 2


def test_import_bumps_the_catalog_revision(db: Database) -> None:
    import_file(db, DATA / "good.jsonl")
    first = revisions(db)["catalog"]
    import_file(db, DATA / "good.csv")
    assert revisions(db)["catalog"] == first + 1


def test_list_and_all_items_shapes(db: Database) -> None:
    import_items(db, parse_file(DATA / "good.json"), now=NOW)
    listed = list_items(db)
    assert [item["id"] for item in listed] == ["FDA-2024-003", "FDA-2024-001"]  # newest first
    assert "body" not in listed[0]
    assert listed[0]["updated_at"] == "2025-03-01T09:00:00+08:00"
    for item in all_items(db):
        assert list(item) == list(FIELDS)
        assert isinstance(item["keywords"], list)


def test_get_item_unknown_id(db: Database) -> None:
    with pytest.raises(NotFound, match="X-404"):
        get_item(db, "X-404")


def test_seed_demo_only_once_and_only_into_an_empty_catalog(db: Database, tmp_path: Path) -> None:
    assert seed_demo(db, DATA / "good.jsonl") == 2
    assert get_meta(db, "demo_seeded")
    assert all(item["demo"] for item in list_items(db))
    assert seed_demo(db, DATA / "good.json") == 0
    other = open_db(tmp_path / "other.db")
    try:
        import_file(other, DATA / "bom.csv")
        assert seed_demo(other, DATA / "good.jsonl") == 0
        assert [item["id"] for item in all_items(other)] == ["FDA-2024-005"]
    finally:
        other.close()


def test_categories_are_the_knowledge_ones() -> None:
    assert "其它信息" in CATEGORIES


# ---- CLI handlers --------------------------------------------------------------------------------------


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="bot.py")
    parser.add_argument("--json", action="store_true")  # as bot.py may also offer it globally
    cli_catalog.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    ctx = CliContext(settings=settings, json=args.json)
    try:
        return int(args.func(args, ctx))
    finally:
        ctx.close()


def test_cli_import_list_show_json(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(settings, "catalog", "import", str(DATA / "good.jsonl"), "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["added"], result["total"]) == (2, 2)
    assert _run(settings, "catalog", "list", "--json") == 0
    assert [item["id"] for item in json.loads(capsys.readouterr().out)] == ["FDA-2024-001", "FDA-2024-002"]
    assert _run(settings, "catalog", "show", "FDA-2024-001", "--json") == 0
    assert json.loads(capsys.readouterr().out)["keywords"] == ["食品经营许可", "办证"]


def test_cli_json_flag_before_or_after_the_subcommand(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    _run(settings, "catalog", "import", str(DATA / "good.jsonl"))
    capsys.readouterr()
    _run(settings, "--json", "catalog", "list")
    assert len(json.loads(capsys.readouterr().out)) == 2
    _run(settings, "catalog", "list", "--json")
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_cli_human_output_is_chinese(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    _run(settings, "catalog", "import", str(DATA / "good.jsonl"))
    assert "新增 2 条" in capsys.readouterr().out
    _run(settings, "catalog", "import", str(DATA / "good.json"), "--replace")
    assert "删除 1 条" in capsys.readouterr().out
    _run(settings, "catalog", "list")
    assert "共 2 条" in capsys.readouterr().out
    _run(settings, "catalog", "show", "FDA-2024-003")
    out = capsys.readouterr().out
    assert "文号：区市监〔2024〕12号" in out and "主题词：火锅、专项整治" in out


def test_cli_import_error_propagates_for_bot_py(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "B-1,,办事指南,,,,\n", encoding="utf-8")
    with pytest.raises(ImportRowError, match=r"bad.csv:2: title: "):
        _run(settings, "catalog", "import", str(path))
