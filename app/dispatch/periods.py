"""Reporting periods as the office sets them: a month's report due day, and the list of the
periods known. Closing one stays with the reports (app/workflow/reports.py), on the same table."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.dbutil import insert_ignore
from app.errors import InvalidInput, PeriodClosed
from app.http import PERIOD, check_period
from app.models import ReportingPeriod
from app.pagination import Page, decode, next_cursor
from app.workflow.schemas import PeriodOut

_P = ReportingPeriod.__table__


def _out(row) -> PeriodOut:
    return PeriodOut(period=row.period, state="closed" if row.closed_at else "open",
                     due_day=row.due_day, closed_at=row.closed_at)


async def set_due_day(session: AsyncSession, principal: Principal, period: str,
                      due_day: int) -> PeriodOut:
    """A closed period keeps the due day its reports were judged by."""
    check_period(period)
    before = (await session.execute(select(*_P.c).where(_P.c.period == period))).first()
    await insert_ignore(session, ReportingPeriod, [{"period": period, "due_day": due_day}],
                        ["period"])
    # Decided in the statement: a close that commits first makes this one find nothing.
    row = (await session.execute(
        update(ReportingPeriod)
        .where(ReportingPeriod.period == period, ReportingPeriod.closed_at.is_(None))
        .values(due_day=due_day).returning(*_P.c))).first()
    if row is None:
        raise PeriodClosed(f"Period {period} is closed: its due day can no longer change.",
                           period=period)
    if before is None or before.due_day != due_day:
        await audit.record(session, principal, "period.due_day_set", "period", None,
                           before={"period": period, "due_day": before.due_day} if before else None,
                           after={"period": period, "due_day": due_day})
    return _out(row)


async def listing(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[PeriodOut]:
    """The periods the office set or closed, or that reports were filed for; newest first."""
    after = decode(cursor, 1)
    query = select(*_P.c).order_by(_P.c.period.desc()).limit(limit + 1)
    if after is not None:
        if not isinstance(after[0], str) or not PERIOD.match(after[0]):
            raise InvalidInput("The cursor is not valid: pass next_cursor from the previous page unchanged.")
        query = query.where(_P.c.period < after[0])
    rows = (await session.execute(query)).all()
    return Page(items=[_out(r) for r in rows[:limit]],
                next_cursor=next_cursor(rows, limit, lambda r: [r.period]))
