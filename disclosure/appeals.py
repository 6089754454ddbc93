"""Administrative reconsideration (行政复议) and lawsuits (行政诉讼) over disclosure requests: table 四.

An applicant who disagrees with an answer, or got none in time, may apply for reconsideration or sue directly;
after a reconsideration decision they may still sue. Staff record each case when it is filed and its result
when it is decided; the annual report counts the cases open in the year by result (DOMAIN.md §2, table 四).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlite_utils import Database

import clock
from disclosure.requests import _FORMAL, _require, _signed, _staff, _step_day, get_request
from errors import InvalidInput, NotFound
from store import dumps, insert_row

__all__ = ["KINDS", "RESULTS", "file_appeal", "decide_appeal", "remove_appeal", "appeals_of", "annual_table4"]

# kind -> (the form's group, the form's sub-group)
KINDS: dict[str, tuple[str, str]] = {"复议": ("行政复议", ""), "诉讼": ("行政诉讼", "未经复议直接起诉"),
                                     "复议后诉讼": ("行政诉讼", "复议后起诉")}
RESULTS = ("维持", "纠正", "其他")
COLUMNS = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")


def file_appeal(db: Database, number: str, kind: str, filed_on: date, by: str, note: str = "",
                now: datetime | None = None) -> dict[str, Any]:
    """A case filed over request `number`: a reconsideration, a direct lawsuit, or a lawsuit after the
    reconsideration was decided."""
    by = _staff(by)
    if kind not in KINDS:
        raise InvalidInput(f"未知的类型 {kind!r}，可选：{'、'.join(KINDS)}")
    request = _require(db, number, _FORMAL)
    day = _step_day(filed_on, request["received_on"], "提起日", "收到日", now)
    cases = {c["kind"]: c for c in appeals_of(db, number)}
    if kind in cases:
        raise InvalidInput(f"编号 {number} 已登记过{kind}（{cases[kind]['filed_on']} 提起）")
    if kind == "诉讼" and "复议" in cases or kind == "复议" and "诉讼" in cases:
        raise InvalidInput(f"编号 {number} 已有{'复议' if kind == '诉讼' else '诉讼'}：复议后再起诉的，类型为“复议后诉讼”")
    if kind == "复议后诉讼":
        first = cases.get("复议")
        if first is None or not first["decided_on"]:
            raise InvalidInput(f"编号 {number} 没有已作出决定的复议：未经复议直接起诉的，类型为“诉讼”")
        if day.isoformat() < first["decided_on"]:
            raise InvalidInput(f"提起日 {day.isoformat()} 早于复议决定日 {first['decided_on']}")
    stamp = clock.iso(now or clock.now())
    insert_row(db, "request_appeals", {"request_id": request["id"], "kind": kind, "filed_on": day.isoformat(),
                                       "created_at": stamp, "updated_at": stamp})
    _log(db, request["id"], stamp, _signed(f"{by} 登记{kind}：{day.isoformat()} 提起", note))
    return get_request(db, request["id"])


def decide_appeal(db: Database, number: str, kind: str, result: str, decided_on: date, by: str, note: str = "",
                  now: datetime | None = None) -> dict[str, Any]:
    """The case's result: the answer upheld (维持), corrected (纠正: revoked, changed, ordered to answer), or
    another ending (其他: withdrawn, dismissed ...)."""
    by = _staff(by)
    if result not in RESULTS:
        raise InvalidInput(f"未知的结果 {result!r}，可选：{'、'.join(RESULTS)}")
    request = get_request(db, number)
    case = next((c for c in appeals_of(db, number) if c["kind"] == kind), None)
    if case is None:
        raise NotFound(f"编号 {number} 没有登记{kind}：先用 requests appeal 登记提起")
    if case["decided_on"]:
        raise InvalidInput(f"编号 {number} 的{kind}已于 {case['decided_on']} 审结（结果：{case['result']}）")
    day = _step_day(decided_on, case["filed_on"], "审结日", "提起日", now)
    stamp = clock.iso(now or clock.now())
    db.execute("UPDATE request_appeals SET result = ?, decided_on = ?, updated_at = ? WHERE request_id = ?"
               " AND kind = ?", [result, day.isoformat(), stamp, request["id"], kind])
    _log(db, request["id"], stamp, _signed(f"{by} 登记{kind}结果：{day.isoformat()} {result}", note))
    return get_request(db, request["id"])


def remove_appeal(db: Database, number: str, kind: str, by: str, reason: str,
                  now: datetime | None = None) -> dict[str, Any]:
    """Take back a case recorded by mistake (a wrong request, kind or date): it leaves table 四, and the request's
    history keeps who removed what and why. Record it again with the right facts."""
    by = _staff(by)
    if not reason.strip():
        raise InvalidInput("撤销登记须写明理由")
    request = get_request(db, number)
    cases = {c["kind"]: c for c in appeals_of(db, number)}
    case = cases.get(kind)
    if case is None:
        raise NotFound(f"编号 {number} 没有登记{kind}")
    if kind == "复议" and "复议后诉讼" in cases:
        raise InvalidInput(f"编号 {number} 还有复议后诉讼：先撤销它，再撤销复议")
    db.execute("DELETE FROM request_appeals WHERE request_id = ? AND kind = ?", [request["id"], kind])
    decided = f"，{case['decided_on']} 审结（{case['result']}）" if case["decided_on"] else ""
    _log(db, request["id"], clock.iso(now or clock.now()),
         _signed(f"{by} 撤销登记的{kind}（{case['filed_on']} 提起{decided}）", reason))
    return get_request(db, request["id"])


def appeals_of(db: Database, number: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT kind, filed_on, result, decided_on FROM request_appeals WHERE request_id = ?"
                         " ORDER BY filed_on, kind", [number.strip()]))


def annual_table4(db: Database, year: int) -> dict[str, dict[str, int]]:
    """Per kind, the cases filed by the year's end and not decided before it began: by result when decided in
    the year, else 尚未审结; 总计 is their sum."""
    first, last = date(year, 1, 1).isoformat(), date(year, 12, 31).isoformat()
    table = {kind: dict.fromkeys(COLUMNS, 0) for kind in KINDS}
    for kind, result, decided in db.execute("SELECT kind, result, decided_on FROM request_appeals"
                                            " WHERE filed_on <= ? AND (decided_on = '' OR decided_on >= ?)",
                                            [last, first]):
        if decided and decided <= last:
            column = "其他结果" if result == "其他" else f"结果{result}"
        else:
            column = "尚未审结"
        table[kind][column] += 1
        table[kind]["总计"] += 1
    return table


def _log(db: Database, number: str, at: str, note: str) -> None:
    insert_row(db, "request_events", {"request_id": number, "at": at, "change": dumps({"note": note})})
