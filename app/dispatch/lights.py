"""The warning light of one obligation (红黄绿灯), as pure functions of its facts and an as-of day.

red: overdue. yellow: due within `yellow_days`, or the month's report missing after its due
day, or 序时进度 lagging. green: the rest, and every closed obligation (whether it closed late
or after an extension stays a fact beside the light). A unit's light is its worst.

app/dispatch/facts.py states the same rules in SQL, for the aggregates; the two are tested
against each other. Days are whole numbers and the lag test is integer arithmetic on both
sides, so a boundary falls the same way in Python and in the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Light(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


RANK = {Light.green: 0, Light.yellow: 1, Light.red: 2}
BY_RANK = {rank: light for light, rank in RANK.items()}
# Before a quarter of its time has passed, an obligation that never reported is not yet behind.
UNREPORTED_GRACE = 4


def is_overdue(is_open: bool, deadline: date | None, as_of: date) -> bool:
    return is_open and deadline is not None and deadline < as_of


def is_due_within(is_open: bool, deadline: date | None, as_of: date, days: int) -> bool:
    """Open and due from as_of to as_of + days, both days included (due_soon, and yellow)."""
    return is_open and deadline is not None and as_of <= deadline <= as_of + timedelta(days=days)


def _share(as_of: date, starts_on: date, deadline: date) -> tuple[int, int]:
    """(days of the obligation's time used, capped at its span; its span in days)."""
    total = (deadline - starts_on).days
    return min((as_of - starts_on).days, total), total


def expected_progress(as_of: date, starts_on: date | None, deadline: date | None) -> float | None:
    """序时进度: the share of the obligation's time already elapsed, 0-100."""
    if deadline is None or starts_on is None:
        return None
    done, total = _share(as_of, starts_on, deadline)
    if total <= 0:
        return 100.0 if as_of >= deadline else 0.0
    return max(0.0, 100 * done / total)


def is_lagging(progress: int | None, as_of: date, starts_on: date | None, deadline: date | None,
               margin: int) -> bool:
    """Reported progress trails 序时进度 by more than `margin` points. An obligation that never
    reported counts as 0 once a quarter of its time has passed."""
    if deadline is None or starts_on is None:
        return False
    done, total = _share(as_of, starts_on, deadline)
    if total <= 0:
        return as_of >= deadline and (progress or 0) + margin < 100
    if progress is None and UNREPORTED_GRACE * done <= total:
        return False
    # expected - progress > margin, with expected = 100 * done / total, multiplied out.
    return 100 * done > ((progress or 0) + margin) * total


def report_late(missing: bool, as_of: date, due_date: date | None) -> bool:
    return missing and due_date is not None and as_of > due_date


def closed_late(closed_at: datetime | None, deadline: date | None, tz: ZoneInfo) -> bool:
    return closed_at is not None and deadline is not None and closed_at.astimezone(tz).date() > deadline


def light(*, is_open: bool, deadline: date | None, as_of: date, yellow_days: int,
          late_report: bool = False, lagging: bool = False) -> Light:
    if not is_open:
        return Light.green
    if is_overdue(is_open, deadline, as_of):
        return Light.red
    if is_due_within(is_open, deadline, as_of, yellow_days) or late_report or lagging:
        return Light.yellow
    return Light.green


def worst(lights: Iterable[Light]) -> Light:
    return BY_RANK[max((RANK[x] for x in lights), default=0)]
