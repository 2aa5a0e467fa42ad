"""HTTP conventions shared by the routers: ETags and If-Match, the as-of date, periods."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from fastapi import Query, Request

from app.errors import InvalidInput, PreconditionFailed

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


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


AsOf = Annotated[date | None, Query(description="the day overdue is judged on (YYYY-MM-DD); "
                                                "default today in Asia/Shanghai")]


def check_period(period: str) -> str:
    if not PERIOD.match(period):
        raise InvalidInput(f"Period {period!r} is not YYYY-MM (e.g. 2025-03).")
    return period
