"""Time for gongkai: every wall-clock reading goes through here, in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["TZ", "now", "iso"]

TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current time, aware, in Asia/Shanghai."""
    return datetime.now(TZ)


def iso(moment: datetime) -> str:
    """Seconds-precision ISO 8601 with offset, the form stored in the database."""
    return moment.astimezone(TZ).isoformat(timespec="seconds")
