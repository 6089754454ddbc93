"""Notices that need a person: groups a notice could not reach, and recalls not confirmed by their deadline.

The outbox retries what can be retried; what is left (`dead`: a robot removed, a keyword or signature refused;
`uncertain`: cut off by a restart) waits for staff. So does a 下架 notice whose groups have not answered
“已下架” after the reminders. Both go into the staff's daily reminder (scheduler/reminders.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

import clock
from errors import InvalidInput
from scheduler import templates
from store import loads

__all__ = ["RECENT", "undelivered", "unconfirmed_recalls", "lines"]

RECENT = timedelta(days=7)  # a problem older than this has been seen every working day of a week: staff know
_RECALL = "问题产品下架通知"


def undelivered(db: Database, now: datetime) -> list[dict[str, Any]]:
    """Per notice, the groups left `dead` or `uncertain` in the last RECENT; the reminder's own too, so one staff
    group hears that another did not get it (and `bot.py digest` shows it when none did)."""
    out: dict[int, dict[str, Any]] = {}
    for notice_id, title, status, count in db.execute(
            "SELECT d.notice_id, n.title, d.status, COUNT(DISTINCT d.grp) FROM deliveries d JOIN notices n"
            " ON n.id = d.notice_id WHERE d.status IN ('dead', 'uncertain') AND d.updated_at >= ?"
            " GROUP BY d.notice_id, d.status ORDER BY d.notice_id", [clock.iso(now - RECENT)]):
        out.setdefault(notice_id, {"id": notice_id, "title": title, "dead": 0, "uncertain": 0})[status] = count
    return list(out.values())


def unconfirmed_recalls(db: Database, now: datetime) -> list[dict[str, Any]]:
    """下架 notices whose `reply_by` passed in the last RECENT, with the groups that got them and have not
    answered."""
    out: list[dict[str, Any]] = []
    for notice_id, title, fields in db.execute("SELECT id, title, fields FROM notices WHERE kind = ?"
                                               " AND status != 'cancelled' ORDER BY id", [_RECALL]):
        reply_by = str(loads(fields, {}).get("reply_by") or "")
        try:
            due = templates.parse_when(reply_by, "reply_by") if reply_by else None
        except InvalidInput:
            continue
        if due is None or not now - RECENT <= due < now:
            continue
        silent = [row[0] for row in db.execute(
            "SELECT DISTINCT d.grp FROM deliveries d JOIN sends s ON s.notice_id = d.notice_id AND s.n = d.send_n"
            " WHERE d.notice_id = ? AND s.kind = 'notice' AND d.status = 'sent' AND d.grp NOT IN"
            " (SELECT grp FROM notice_acks WHERE notice_id = ?) ORDER BY d.grp", [notice_id, notice_id])]
        if silent:
            out.append({"id": notice_id, "title": title, "reply_by": clock.iso(due)[:16].replace("T", " "),
                        "groups": silent})
    return out


def lines(undelivered_notices: list[dict[str, Any]], recalls: list[dict[str, Any]]) -> list[str]:
    """The reminder's sections about notices."""
    sections: list[str] = []
    if undelivered_notices:
        items = []
        for n in undelivered_notices:
            what = "；".join(part for part in (f"{n['dead']} 个群未送达" if n["dead"] else "",
                                               f"{n['uncertain']} 个群发送中断、是否送达待确认" if n["uncertain"] else "")
                            if part)
            items.append(f"- 通知 {n['id']}《{n['title']}》：{what}")
        sections.append(f"**推送未送达（{len(items)} 条通知）**\n" + "\n".join(items))
    if recalls:
        items = [f"- 通知 {r['id']}《{r['title']}》：回复期限 {r['reply_by']}，{len(r['groups'])} 个群未回复"
                 f"“已下架”（{'、'.join(r['groups'])}）" for r in recalls]
        sections.append(f"**下架通知逾期未确认（{len(items)} 条）**\n" + "\n".join(items))
    return sections
