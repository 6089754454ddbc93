"""The enquiry log read back for staff: what people asked, what was answered, where the catalog falls short."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlite_utils import Database

from disclosure.requests import question_key
from disclosure.workdays import parse_day
from errors import InvalidInput
from store import loads

__all__ = ["KINDS", "UNDELIVERED", "list_enquiries", "enquiry_stats"]

KINDS = ("enquiry", "complaint", "command", "feedback")  # feedback: 不对 / 答非所问 after an answer


UNDELIVERED = ("failed", "dead", "expired")  # a deferred answer that never reached the chat
_SQLITE_MAX_INT = 2**63 - 1  # a larger LIMIT cannot be bound; it means every row anyway


def _since(since: date | str) -> str:
    """The lower bound as the stored `at` texts compare: a real date, or "" for every row. Compared as typed,
    2026/1/1 or ２０２６－０１－０１ would silently match nothing and 2026-02-30 everything."""
    if isinstance(since, date):
        return since.isoformat()
    return parse_day(since, "--since").isoformat() if since.strip() else ""


def list_enquiries(db: Database, since: date | str = "", kind: str | None = None, unanswered: bool = False,
                   limit: int = 100, undelivered: bool = False) -> list[dict[str, Any]]:
    """The newest enquiries first; `since` is a date or its YYYY-MM-DD text (Asia/Shanghai). `delivery` is the
    state of a deferred answer not yet posted (queued, or failed / dead / expired: the asker never saw it), else ""."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"未知类型 {kind!r}，可选：{', '.join(KINDS)}")
    if limit < 1:
        raise InvalidInput("--limit 须为正整数")
    limit = min(limit, _SQLITE_MAX_INT)
    where, args = ["e.at >= ?"], [_since(since)]
    if kind:
        where.append("e.kind = ?")
        args.append(kind)
    if unanswered:
        where.append("e.answered = 0 AND e.kind = 'enquiry'")
    if undelivered:
        where.append(f"r.status IN ({', '.join('?' * len(UNDELIVERED))})")
        args.extend(UNDELIVERED)
    rows = db.execute(
        "SELECT e.id, e.at, e.channel, e.bot, e.chat, e.question, e.answered, e.kind, e.request_id, e.matches,"
        " COALESCE(r.status, ''), COALESCE(r.error, '') FROM enquiries e"
        " LEFT JOIN replies r ON r.platform = e.channel AND r.event_id = e.event_id"
        f" WHERE {' AND '.join(where)} ORDER BY e.id DESC LIMIT ?", [*args, limit]).fetchall()
    columns = ("id", "at", "channel", "bot", "chat", "question", "answered", "kind", "request_id", "matches",
               "delivery", "delivery_error")
    return [{**dict(zip(columns, row)), "answered": bool(row[6]), "matches": loads(row[9], [])} for row in rows]


def enquiry_stats(db: Database, since: date | str = "", top: int = 10) -> dict[str, Any]:
    """Totals by kind and channel, the answer rate, answers that never reached the chat, and the questions most
    often left unanswered."""
    since = _since(since)
    rows = db.execute("SELECT channel, kind, answered, question FROM enquiries WHERE at >= ?", [since]).fetchall()
    undelivered = db.execute(
        f"SELECT COUNT(*) FROM replies WHERE created_at >= ? AND status IN ({', '.join('?' * len(UNDELIVERED))})",
        [since, *UNDELIVERED]).fetchone()[0]
    enquiries = [r for r in rows if r[1] == "enquiry"]
    answered = sum(1 for r in enquiries if r[2])
    gaps: Counter[str] = Counter()
    example: dict[str, str] = {}
    for _, _, was_answered, question in enquiries:
        if not was_answered:
            key = question_key(question)
            gaps[key] += 1
            example.setdefault(key, question)
    return {
        "total": len(rows),
        "by_kind": dict(Counter(r[1] for r in rows)),
        "by_channel": dict(Counter(r[0] for r in rows)),
        "answer_rate": round(answered / len(enquiries), 3) if enquiries else None,
        "undelivered": undelivered,
        "unanswered_top": [{"question": example[k], "count": n} for k, n in gaps.most_common(top)],
    }
