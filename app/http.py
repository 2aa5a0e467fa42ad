"""HTTP conventions shared by the routers: ETags and If-Match, the as-of date, periods."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import AfterValidator, BeforeValidator, Field

from app.dispatch.window import FIRST_YEAR, LAST_YEAR
from app.errors import InvalidInput, PreconditionFailed

# ASCII digits: \d also takes "２０２５", which no later step reads as a year.
PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)


def _day_as_text(value: Any) -> Any:
    # Pydantic would also read a number, or digits, as a Unix time: 0 would be 1970-01-01.
    if not isinstance(value, date) and not (isinstance(value, str) and _DAY.match(value)):
        raise ValueError("give the day as text, YYYY-MM-DD")
    return value


def _day_in_range(day: date) -> date:
    # The years a dispatch can show; a day past them also overflows date arithmetic
    # (a calendar's end of day, a light's due-soon window).
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"give a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def _month_in_range(period: str) -> str:
    if not FIRST_YEAR <= int(period[:4]) <= LAST_YEAR:
        raise ValueError(f"give a month from {FIRST_YEAR}-01 to {LAST_YEAR}-12")
    return period


Day = Annotated[date, BeforeValidator(_day_as_text), AfterValidator(_day_in_range)]
Month = Annotated[str, Field(pattern=PERIOD.pattern), AfterValidator(_month_in_range)]


def etag(kind: str, ident: int, version: int) -> str:
    return f'"{kind}-{ident}-v{version}"'


def check_if_match(wanted: str | None, current: str) -> None:
    """A write that names the version it read (If-Match) fails with 412 if it changed since."""
    if wanted is None or wanted.strip() == "*":
        return
    inner = current.strip('"')
    # A view's tag may extend the resource's own ("task-1-v3-…"): the resource part decides.
    tags = [t.strip().removeprefix("W/").strip('"') for t in wanted.split(",")]
    if not any(t == inner or t.startswith(inner + "-") for t in tags):
        raise PreconditionFailed("The resource changed since you read it: fetch it again, "
                                 "re-apply your change, and send it with the new ETag.",
                                 current_etag=current)


def today(request: Request) -> date:
    return datetime.now(request.app.state.settings.tz).date()


def as_of_or_today(request: Request, as_of: date | None) -> date:
    return as_of if as_of is not None else today(request)


AsOf = Annotated[Day | None, Query(description="the day overdue is judged on (YYYY-MM-DD); "
                                                "default today in Asia/Shanghai")]


def check_period(period: str) -> str:
    if not PERIOD.match(period) or not FIRST_YEAR <= int(period[:4]) <= LAST_YEAR:
        raise InvalidInput(f"Period {period!r} is not YYYY-MM (e.g. 2025-03) from "
                           f"{FIRST_YEAR}-01 to {LAST_YEAR}-12.")
    return period
