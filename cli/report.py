"""`report`: the annual report's tables from the store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli import CliContext
from disclosure import appeals
from disclosure import report as service
from disclosure.requests import APPLICANT_TYPES

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="政府信息公开工作年度报告 (annual report)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    annual = verbs.add_parser("annual", help="主动公开条数（按分类）和表三：收到和处理政府信息公开申请情况（制表符分隔，可贴入表格）")
    annual.add_argument("year", type=int, help="年份，如 2026")
    annual.add_argument("--json", action="store_true")
    annual.set_defaults(func=_annual)


def _annual(args: argparse.Namespace, ctx: CliContext) -> int:
    table = service.annual_table3(ctx.db(), args.year)
    table["proactive"] = service.proactive(ctx.db(), args.year)
    table["appeals"] = appeals.annual_table4(ctx.db(), args.year)
    publishers = ctx.settings.report.publishers
    # Table 二 is produced in the 2021 layout only: earlier years had another (the text says so).
    current = args.year >= service.FORMAT_2021
    table["regulations"] = service.regulations(ctx.db(), args.year, publishers) if publishers and current else None
    # Warnings go to stderr, so the table itself can be piped into a spreadsheet as it is.
    if table["untyped"]:
        print(f"注意：{len(table['untyped'])} 件正式申请未登记申请人类型，单列为“{service.UNTYPED}”："
              f"{'、'.join(table['untyped'])}。用 requests applicant 编号 类型 --by 姓名 补登。", file=sys.stderr)
    undated, demo = table["proactive"]["undated"], table["proactive"]["demo"]
    if undated:
        shown = "、".join(undated[:10]) + ("等" if len(undated) > 10 else "")
        print(f"注意：公开目录中 {len(undated)} 条没有发布日期，未计入主动公开条数：{shown}。", file=sys.stderr)
    if demo:
        print(f"注意：公开目录中 {demo} 条是演示数据，未计入主动公开条数。", file=sys.stderr)
    if current and table["regulations"] is None:
        print("注意：未设置 [report] publisher（本机关在公开目录“发布机构”中的名称），表二的行政规范性文件一行未统计。",
              file=sys.stderr)
    elif table["regulations"] is not None:
        _warn_regulations(table["regulations"], publishers)
    ctx.out(table, _text)
    return 0


def _warn_regulations(counts: dict[str, Any], publishers: tuple[str, ...]) -> None:
    if counts["unknown_repeal"]:
        print(f"注意：{'、'.join(counts['unknown_repeal'])} 标为废止或失效但没有废止日期，未计入任何一年的废止件数，"
              "本年起不计为现行有效。请在目录中补 repealed（废止日期）。", file=sys.stderr)
    if not (counts["made"] or counts["repealed"] or counts["in_force"]) and counts["others"]:
        print(f"注意：公开目录的规范性文件中没有发布机构为“{'、'.join(publishers)}”的；目录中的发布机构有："
              f"{'、'.join(counts['others'])}。请核对 [report] publisher（多个名称写成列表）。", file=sys.stderr)


def _proactive(counts: dict[str, Any], until: str) -> str:
    def listed(by_category: dict[str, int]) -> str:
        return f"，其中{'，'.join(f'{c} {n} 条' for c, n in by_category.items())}" if by_category else ""

    return (f"{counts['year']} 年度 二、主动公开政府信息情况{until}\n"
            f"本年主动公开政府信息 {counts['published']} 条{listed(counts['by_category'])}。\n"
            f"截至本年底累计主动公开 {counts['total']} 条{listed(counts['total_by_category'])}。\n")


def _table2(regulations: dict[str, Any] | None) -> list[str]:
    """Table 二 as the form lays it out. Only the 规范性文件 row comes from the store; the licensing, enforcement
    and fee figures are kept in other systems, so their cells say where to take them from."""
    own = ("（未设置 [report] publisher）",) * 3 if regulations is None else (
        regulations["made"], regulations["repealed"], regulations["in_force"])
    return ["第二十条第（一）项\t本年制发件数\t本年废止件数\t现行有效件数",
            "规章\t0\t0\t0",  # a district bureau makes no 规章
            "\t".join(["行政规范性文件", *map(str, own)]),
            "第二十条第（五）项\t本年处理决定数量", "行政许可\t（请按行政审批系统填写）",
            "第二十条第（六）项\t本年处理决定数量", "行政处罚\t（请按执法办案系统填写）", "行政强制\t（请按执法办案系统填写）",
            "第二十条第（八）项\t本年收费金额（单位：万元）", "行政事业性收费\t（请按财务数据填写）"]


def _text(table: dict[str, Any]) -> str:
    columns = table["columns"]
    organisations = [c for c in columns if c in APPLICANT_TYPES[1:]]
    until = "" if table["complete"] else f"（截至 {table['as_of']}，本年度尚未结束）"
    table2 = _table2(table["regulations"]) if table["year"] >= service.FORMAT_2021 else [
        f"（{table['year']} 年度的表二不是 2021 年格式（国办公开办函〔2021〕30号），本系统未生成）"]
    lines = [_proactive(table["proactive"], until), *table2, ""] if "proactive" in table else []
    lines += [f"{table['year']} 年度 三、收到和处理政府信息公开申请情况{until}",
             "\t".join(["", "申请人情况", *[""] * (len(columns) - 1)]),
             "\t".join(["", "自然人", "法人或其他组织", *[""] * (len(organisations) - 1),
                        *columns[1 + len(organisations):]]),
             "\t".join(["", "", *organisations, *[""] * (len(columns) - 1 - len(organisations))])]
    for row in table["rows"]:
        label = "　" * row["depth"] + row["label"]
        lines.append("\t".join([label, *(str(row["counts"][c]) if row["counts"] else "" for c in columns)]))
    if "appeals" in table:
        lines += ["", *_table4(table["appeals"], table["year"], until)]
    s = table["summary"]
    lines.append(f"\n本年群聊消息 {s['messages']} 条，其中咨询 {s['questions']} 条，由公开目录自动答复 {s['answered']} 条；"
                 f"投诉举报 {s['complaints']} 条已引导至 12345/12315；形成待甄别线索 {s['possible_requests']} 件，"
                 f"其中转为正式申请 {s['made_formal']} 件。")
    return "\n".join(lines)


def _table4(counts: dict[str, dict[str, int]], year: int, until: str) -> list[str]:
    """Table 四 as the form lays it out: 行政复议, then 行政诉讼 split in two, five columns each, one data row."""
    width = len(appeals.COLUMNS)
    groups = [group for group, _ in appeals.KINDS.values()]
    subgroups = [sub for _, sub in appeals.KINDS.values()]
    return [f"{year} 年度 四、政府信息公开行政复议、行政诉讼情况{until}",
            "\t".join(cell for i, group in enumerate(groups) if group not in groups[:i]
                      for cell in [group, *[""] * (width * groups.count(group) - 1)]),
            "\t".join(cell for sub in subgroups for cell in [sub, *[""] * (width - 1)]),
            "\t".join(appeals.COLUMNS * len(counts)),
            "\t".join(str(counts[kind][column]) for kind in appeals.KINDS for column in appeals.COLUMNS)]
