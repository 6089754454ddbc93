"""China's adjusted working-day calendar (调休), so statutory deadlines count real working days.

The `holidays` package gives the State Council schedule up to its last published year; beyond that it only
applies the rules, so those results are estimates (预估) until staff confirm the year. Staff overrides in
`workday_overrides` beat the library, for a schedule published after the package was released.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from sqlite_utils import Database

import clock
from disclosure.requests import recompute_due_dates
from errors import InvalidInput, NotFound
from store import bump, set_meta, transaction

__all__ = [
    "KINDS",
    "official_data_until",
    "official_data_from",
    "calendar_years",
    "WorkCalendar",
    "load_calendar",
    "parse_day",
    "set_override",
    "remove_override",
    "list_overrides",
    "confirm_year",
    "confirmed_years",
]

KINDS: tuple[str, ...] = ("work", "rest")
_CONFIRMED_PREFIX = "calendar:confirmed:"
_MAX_WORKDAYS = 3660  # ten years of working days: a larger n is a typo, not a deadline


@functools.cache
def official_data_until() -> int:
    """The last year whose 调休 schedule the installed `holidays` package knows from the State Council notice.

    Computed on first use: importing `holidays` costs ~0.25 s, which the gateway's cold start cannot spare."""
    try:
        from holidays.countries.china import ChinaStaticHolidays

        return max(ChinaStaticHolidays.special_public_holidays)
    except (ImportError, AttributeError, ValueError):  # a future layout of the package: be conservative
        return 2026


@functools.cache
def official_data_from() -> int:
    """The first year whose 调休 schedule the installed `holidays` package knows; before it, only the rules (预估)."""
    try:
        from holidays.countries.china import ChinaStaticHolidays

        return min(ChinaStaticHolidays.special_public_holidays)
    except (ImportError, AttributeError, ValueError):
        return 2001


@functools.cache
def calendar_years() -> tuple[int, int]:
    """(first, last) year the `holidays` CN calendar has rules for: outside them it knows no holiday at all, so a
    deadline there would be wrong, not merely estimated."""
    try:
        from holidays.countries.china import China

        return int(China.start_year), int(China.end_year)
    except (ImportError, AttributeError, ValueError):
        return 1950, 2100


def parse_day(text: str, field: str = "") -> date:
    """A staff-typed YYYY-MM-DD (full-width digits read as half-width), or InvalidInput naming `field` and text."""
    value = unicodedata.normalize("NFKC", text).strip()
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        prefix = f"{field}: " if field else ""
        raise InvalidInput(f"{prefix}日期应为 YYYY-MM-DD 格式的真实日期: {text!r}") from None


class WorkCalendar:
    """Working days for statutory deadlines: staff overrides first, then the `holidays` CN calendar."""

    def __init__(self, overrides: Mapping[date, str] | None = None, confirmed_years: Iterable[int] = (),
                 last_official_year: int | None = None) -> None:
        self.overrides: dict[date, str] = dict(overrides or {})
        bad = {kind for kind in self.overrides.values() if kind not in KINDS}
        if bad:
            raise ValueError(f"override kind must be work or rest, not {sorted(bad)}")
        self.confirmed_years = frozenset(confirmed_years)
        self.last_official_year = last_official_year or official_data_until()
        self.first_official_year = official_data_from()
        import holidays

        self._base = holidays.country_holidays("CN", language="zh_CN")

    def is_workday(self, day: date) -> bool:
        """True when offices are open that day (调休 weekends count, statutory and 补假 days do not)."""
        kind = self.overrides.get(day)
        if kind is not None:
            return kind == "work"
        return bool(self._base.is_working_day(day))

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day strictly after `start` (民法典 art.201: the start day is not counted)."""
        if n < 0 or n > _MAX_WORKDAYS:
            raise InvalidInput(f"工作日天数应在 0 到 {_MAX_WORKDAYS} 之间: {n}")
        first, last = calendar_years()
        if not first <= start.year <= last:
            raise InvalidInput(f"起算日 {start.isoformat()} 超出工作日日历的范围（{first} 至 {last} 年）")
        day, count = start, n
        while count > 0:
            day += timedelta(days=1)
            if day.year > last:  # also keeps the count clear of date.max
                raise InvalidInput(f"{start.isoformat()} 起 {n} 个工作日的截止日超出工作日日历的范围"
                                   f"（{first} 至 {last} 年）")
            if self.is_workday(day):
                count -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after `start`, up to and including `end` (0 when `end` is not after `start`)."""
        return sum(self.is_workday(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))

    def is_estimated(self, day: date) -> bool:
        """True when `day` lies in a year the official schedule does not cover (after its last year, or before its
        first) and staff have not confirmed."""
        covered = self.first_official_year <= day.year <= self.last_official_year
        return not covered and day.year not in self.confirmed_years

    def due(self, start: date, n: int) -> tuple[date, bool]:
        """(due date, estimated): estimated when any counted day falls in an unconfirmed year outside the data."""
        end = self.add_workdays(start, n)
        first = min(start + timedelta(days=1), end)  # the start day itself is not counted
        return end, any(self.is_estimated(date(year, 1, 1)) for year in range(first.year, end.year + 1))


def load_calendar(db: Database) -> WorkCalendar:
    """The calendar as staff have configured it in this database."""
    overrides = {date.fromisoformat(row["day"]): row["kind"] for row in list_overrides(db)}
    return WorkCalendar(overrides, confirmed_years(db))


def set_override(db: Database, day: date | str, kind: str, note: str = "",
                 now: datetime | None = None) -> dict[str, str]:
    """Record that `day` is a working or a rest day whatever the library says (a newly published schedule)."""
    when = parse_day(day) if isinstance(day, str) else day
    if kind not in KINDS:
        raise InvalidInput(f"类型应为 work（上班）或 rest（休息）: {kind!r}")
    row = {"day": when.isoformat(), "kind": kind, "note": note.strip(), "created_at": clock.iso(now or clock.now())}
    with transaction(db):
        db.execute(
            "INSERT INTO workday_overrides(day, kind, note, created_at) VALUES (:day, :kind, :note, :created_at) "
            "ON CONFLICT(day) DO UPDATE SET kind = excluded.kind, note = excluded.note, "
            "created_at = excluded.created_at",
            row,
        )
        bump(db, "calendar")
        _recompute(db)
    return row


def _recompute(db: Database) -> None:
    """Open requests' due dates follow the calendar staff just changed: a date computed on an estimate is not
    left standing once the schedule is entered."""
    recompute_due_dates(db, load_calendar(db))


def remove_override(db: Database, day: date | str) -> None:
    """Give `day` back to the library's calendar."""
    when = parse_day(day) if isinstance(day, str) else day
    with transaction(db):
        cursor = db.execute("DELETE FROM workday_overrides WHERE day = ?", [when.isoformat()])
        if cursor.rowcount == 0:
            raise NotFound(f"没有 {when.isoformat()} 的工作日调整")
        bump(db, "calendar")
        _recompute(db)


def list_overrides(db: Database) -> list[dict[str, str]]:
    """Every staff override, oldest day first."""
    cursor = db.execute("SELECT day, kind, note, created_at FROM workday_overrides ORDER BY day")
    return [{"day": d, "kind": k, "note": n or "", "created_at": c} for d, k, n, c in cursor.fetchall()]


def confirm_year(db: Database, year: int, confirmed: bool = True) -> None:
    """Mark a year past the package's data as checked against the State Council notice, so it is not 预估."""
    if not 1900 <= year <= 2200:
        raise InvalidInput(f"年份不合理: {year}")
    entered = db.execute("SELECT COUNT(*) FROM workday_overrides WHERE day LIKE ?", [f"{year}-%"]).fetchone()[0]
    if confirmed and not entered and not calendar_years()[0] <= year <= official_data_until():
        # Every year has 调休 days; confirming none would drop the 预估 mark from deadlines that may be wrong.
        raise InvalidInput(f"{year} 年还没有录入调休安排：请先按国务院通知用 calendar set 录入，再确认")
    with transaction(db):
        if confirmed:
            set_meta(db, f"{_CONFIRMED_PREFIX}{year}", "1")
        else:
            db.execute("DELETE FROM meta WHERE key = ?", [f"{_CONFIRMED_PREFIX}{year}"])
        bump(db, "calendar")
        _recompute(db)


def confirmed_years(db: Database) -> set[int]:
    """Years staff have confirmed (their overrides now hold the official schedule)."""
    rows = db.execute("SELECT key FROM meta WHERE key LIKE ?", [f"{_CONFIRMED_PREFIX}%"]).fetchall()
    return {int(key[len(_CONFIRMED_PREFIX):]) for (key,) in rows if key[len(_CONFIRMED_PREFIX):].isdigit()}
