"""The disclosure part of the staff's working-day reminder (办理提醒): which requests need doing, in numbers
and dates only.

A statutory deadline is missed when nobody looks at `requests list --overdue` in time, so the gateway pushes
this to the staff's own groups (`[reminders] to`, scheduler/reminders.py) and `bot.py digest` prints it. It
names no question and no person (a chat platform is not the place for them): `requests show N` has the details.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlite_utils import Database

from config.settings import MAX_AHEAD
from disclosure.requests import list_requests
from disclosure.workdays import WorkCalendar

__all__ = ["AHEAD", "MAX_AHEAD", "Digest", "build", "lines"]

AHEAD = 5  # working days: a request due within them is listed, so it is not first seen on its last day


@dataclass
class Digest:
    day: str
    # Each entry: the request's number, its date, and whether that date is 预估 (an unconfirmed year).
    overdue: list[dict[str, Any]] = field(default_factory=list)  # id, reply_due, estimated, late (working days)
    due_today: list[dict[str, Any]] = field(default_factory=list)  # id, reply_due, estimated
    due_soon: list[dict[str, Any]] = field(default_factory=list)  # id, reply_due, estimated, left (working days)
    correction_overdue: list[dict[str, Any]] = field(default_factory=list)  # id, correction_due, estimated
    consult_overdue: list[dict[str, Any]] = field(default_factory=list)  # id, paused_on, consult_due
    pending: int = 0  # chat questions still to sort (possible requests)
    pending_since: str = ""  # the oldest one's date

    def empty(self) -> bool:
        return not (self.overdue or self.due_today or self.due_soon or self.correction_overdue
                    or self.consult_overdue or self.pending)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build(db: Database, calendar: WorkCalendar, today: date, ahead: int = AHEAD) -> Digest:
    """What stands on `today`: formal requests overdue, due today or within `ahead` working days; 补正 periods
    and consultations that have run out; chat questions not yet sorted."""
    digest = Digest(today.isoformat())
    horizon = calendar.add_workdays(today, ahead)
    for request in list_requests(db, today=today, calendar=calendar):
        number, due, estimated = request["id"], request.get("reply_due", ""), bool(request.get("due_estimated"))
        if request["status"] == "pending":
            digest.pending += 1
            since = request["created_at"][:10]
            digest.pending_since = min(digest.pending_since or since, since)
        elif request["overdue"]:
            late = calendar.workdays_between(date.fromisoformat(due), today)
            digest.overdue.append({"id": number, "reply_due": due, "estimated": estimated, "late": late})
        elif request["correction_overdue"]:
            digest.correction_overdue.append({"id": number, "correction_due": request["correction_due"],
                                              "estimated": estimated})
        elif request.get("consult_overdue"):
            digest.consult_overdue.append({"id": number, "paused_on": request["paused_on"],
                                           "consult_due": request["consult_due"]})
        elif request["status"] == "accepted" and due and not request.get("paused_on"):
            day = date.fromisoformat(due)
            if day == today:
                digest.due_today.append({"id": number, "reply_due": due, "estimated": estimated})
            elif day <= horizon:
                left = calendar.workdays_between(today, day)
                digest.due_soon.append({"id": number, "reply_due": due, "estimated": estimated, "left": left})
    digest.overdue.sort(key=lambda r: r["reply_due"])
    digest.due_soon.sort(key=lambda r: r["reply_due"])
    return digest


def lines(digest: Digest, ahead: int = AHEAD) -> list[str]:
    """The reminder's sections about requests, most urgent first; [] when there is nothing to do."""
    sections: list[str] = []

    def section(heading: str, items: list[str]) -> None:
        if items:
            sections.append(f"**{heading}（{len(items)} 件）**\n" + "\n".join(f"- {item}" for item in items))

    def dated(day: str, entry: dict[str, Any]) -> str:
        return day + ("（预估）" if entry["estimated"] else "")

    section("已超过答复期限", [f"{r['id']}：期限 {dated(r['reply_due'], r)}，"
                               + (f"已超过 {r['late']} 个工作日" if r["late"] else "已逾期") for r in digest.overdue])
    section("今天到期", [f"{r['id']}：今天（{dated(r['reply_due'], r)}）须答复" for r in digest.due_today])
    section(f"{ahead} 个工作日内到期",
            [f"{r['id']}：期限 {dated(r['reply_due'], r)}，还有 {r['left']} 个工作日" for r in digest.due_soon])
    section("补正期限已过、未收到补正", [f"{r['id']}：补正期限 {dated(r['correction_due'], r)}；可按“逾期不补正”办结"
                                        for r in digest.correction_overdue])
    section("征求意见已超过 15 个工作日", [f"{r['id']}：{r['paused_on']} 起暂停计时，意见应于 {r['consult_due']} 前回复；"
                                          "请催办或恢复计时" for r in digest.consult_overdue])
    if digest.pending:
        sections.append(f"**待甄别的群聊线索：{digest.pending} 件**（最早 {digest.pending_since}）")
    return sections
