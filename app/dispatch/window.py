"""A dispatch period and the days it turns on: "YYYY-MM" (a month), "YYYY-Qn" (a quarter) or
"YYYY" (a year), its window in Asia/Shanghai, the as-of day, and each month's report due date.

A month's report is owed by the obligations active and open in it, and due on day `due_day`
of that month (the period's row when the office set one, else settings.report_due_day).
Months that have not begun by the as-of day owe nothing yet.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import InvalidInput
from app.models import ReportingPeriod
from app.query import Query, fetch

# ASCII digits: \d also takes "２０２５", which would come back as the period's name.
FORMS = re.compile(r"^([0-9]{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")
FIRST_YEAR, LAST_YEAR = 1949, 9998


@dataclass(frozen=True, slots=True)
class Window:
    period: str
    kind: str  # month, quarter or year
    start: date
    end: date
    months: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Month:
    period: str
    first: date
    last: date
    due_day: int
    closed_at: datetime | None

    @property
    def due_date(self) -> date:
        return self.first.replace(day=self.due_day)


@dataclass(frozen=True, slots=True)
class Scope:
    """A window resolved against the database's periods, an as-of day and the settings."""

    window: Window
    as_of: date
    months: tuple[Month, ...]
    tz: ZoneInfo
    due_soon_days: int
    yellow_days: int
    lag_margin: int

    @property
    def cutoff(self) -> date:
        return min(self.as_of, self.window.end)

    @property
    def counted(self) -> tuple[Month, ...]:
        """The months whose reports are owed by the as-of day."""
        return tuple(m for m in self.months if m.first <= self.cutoff)

    @property
    def current(self) -> Month | None:
        """The month whose report decides `missing` and the light: the as-of day's month."""
        counted = self.counted
        return counted[-1] if counted else None

    def cut(self, month: Month) -> date:
        return min(month.last, self.as_of)

    def instant(self, day: date) -> datetime:
        return start_of(day, self.tz)

    def after(self, day: date) -> datetime:
        """The first instant after `day` has ended."""
        return self.instant(day + timedelta(days=1))


def start_of(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in the service's time zone, in UTC."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


def parse(period: str) -> Window:
    found = FORMS.match(period)
    year = int(found.group(1)) if found else 0
    if found is None or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"Period {period!r} is not YYYY-MM, YYYY-Qn or YYYY "
                           "(e.g. 2025-03, 2025-Q1, 2025).", period=period)
    if found.group(2):
        first, kind = int(found.group(2)), "month"
        numbers = [first]
    elif found.group(3):
        first, kind = 3 * int(found.group(3)) - 2, "quarter"
        numbers = [first, first + 1, first + 2]
    else:
        kind, numbers = "year", list(range(1, 13))
    last = numbers[-1]
    return Window(period=period, kind=kind, start=date(year, numbers[0], 1),
                  end=date(year, last, monthrange(year, last)[1]),
                  months=tuple(f"{year}-{n:02d}" for n in numbers))


def month_bounds(period: str) -> tuple[date, date]:
    year, number = int(period[:4]), int(period[5:7])
    return date(year, number, 1), date(year, number, monthrange(year, number)[1])


def default_as_of(window: Window, as_of: date | None, today: date) -> date:
    """Given, else today, but never past the window: a closed month is judged at its end."""
    return as_of if as_of is not None else min(today, window.end)


# The window's months as a range ("YYYY-MM" sorts as the months do), in a statement built once.
_MONTHS = Query(select(ReportingPeriod.period, ReportingPeriod.due_day, ReportingPeriod.closed_at)
                .where(ReportingPeriod.period.between(bindparam("first"), bindparam("last"))))


async def resolve(session: AsyncSession, period: str, as_of: date | None, today: date,
                  settings: Settings) -> Scope:
    window = parse(period)
    rows = {r["period"]: r for r in await fetch(session, _MONTHS, first=window.months[0],
                                                 last=window.months[-1])}
    months = []
    for name in window.months:
        row = rows.get(name)
        first, last = month_bounds(name)
        months.append(Month(name, first, last, row["due_day"] if row else settings.report_due_day,
                            row["closed_at"] if row else None))
    return Scope(window=window, as_of=default_as_of(window, as_of, today), months=tuple(months),
                 tz=settings.tz, due_soon_days=settings.dispatch_due_soon_days,
                 yellow_days=settings.dispatch_yellow_days, lag_margin=settings.dispatch_lag_margin)
