"""月调度: a unit's monthly report on its obligation, and the reporting periods the office
closes. One report per obligation and period; filing again corrects it while the period is open."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Row, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.dbutil import dialect_insert, insert_ignore
from app.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PeriodClosed,
)
from app.events import outbox
from app.http import check_if_match, check_period
from app.models import Assignment, Milestone, Report, ReportingPeriod, utcnow
from app.tasks import access
from app.workflow import transitions as tr
from app.workflow.schemas import PeriodOut, ReportCreate, ReportOut

_R = Report.__table__
_P = ReportingPeriod.__table__
_ATTEMPTS = 3


def public(row: Row) -> ReportOut:
    return ReportOut.model_validate(row, from_attributes=True)


def _content(row: Any) -> dict[str, Any]:
    return {"period": row.period, "progress": row.progress, "summary": row.summary,
            "milestone_values": row.milestone_values, "version": row.version}


async def file(session: AsyncSession, principal: Principal, task_id: int, body: ReportCreate,
               if_match: str | None, today: date, due_day: int) -> tuple[ReportOut, bool]:
    """(the report, whether it was created rather than corrected). The obligation's progress
    follows the latest period reported; a first report starts the work (accepted -> in_progress)."""
    if body.period > f"{today:%Y-%m}":
        raise InvalidInput(f"Period {body.period} has not begun: report for {today:%Y-%m} or earlier.")
    unit_id = await access.acting_unit(session, principal, body.unit, body.jurisdiction)
    current = await tr.held(session, principal, task_id, unit_id)
    values = await _milestone_values(session, task_id, body.milestone_values)
    await _lock_open_period(session, body.period, due_day)
    obligation = await _advance(session, principal, current, body, if_match)
    fields = {"progress": body.progress, "summary": body.summary, "milestone_values": values}
    for _ in range(_ATTEMPTS):
        created = (await session.execute(
            dialect_insert(session, Report)
            .values(assignment_id=current.id, task_id=task_id, unit_id=unit_id,
                    period=body.period, **fields)
            .on_conflict_do_nothing(index_elements=["assignment_id", "period"])
            .returning(*_R.c))).first()
        before = None
        if created is None:
            before = (await session.execute(select(*_R.c).where(
                Report.assignment_id == current.id, Report.period == body.period))).first()
            created = (await session.execute(
                update(Report).where(Report.id == before.id, Report.version == before.version)
                .values(**fields, version=before.version + 1, updated_at=utcnow())
                .returning(*_R.c))).first()
        if created is not None:
            break
    else:
        raise Conflict("The report kept changing while this request ran; send it again.")
    await audit.record(
        session, principal, "report.corrected" if before else "report.created", "report",
        created.id, task_id=task_id, unit_id=unit_id,
        before={"report": _content(before) if before else None, "assignment": tr.snapshot(current)},
        after={"report": _content(created), "assignment": tr.snapshot(obligation)})
    await outbox.emit(session, "report.submitted", task_id=task_id, assignment_id=current.id,
                      unit_id=unit_id, payload={"report": {
                          "id": created.id, "period": created.period, "progress": created.progress,
                          "summary": created.summary, "corrected": before is not None}})
    return public(created), before is None


async def _advance(session: AsyncSession, principal: Principal, current: Row, body: ReportCreate,
                   if_match: str | None) -> Row:
    # last_period only grows, so a month older than the one read stays older.
    if current.last_period is not None and body.period < current.last_period \
            and tr.target("report", current) is current.status:
        check_if_match(if_match, tr.tag(current))
        return current  # a correction of an older month changes nothing on the obligation
    # Decided in the statement, not from what was read: a concurrent later month wins.
    latest = or_(Assignment.last_period.is_(None), Assignment.last_period <= body.period)
    values = {"progress": case((latest, body.progress), else_=Assignment.progress),
              "last_period": case((latest, body.period), else_=Assignment.last_period)}
    return await tr.move(session, principal, current, "report", if_match=if_match, values=values)


async def _milestone_values(session: AsyncSession, task_id: int,
                            given: dict[int, Any] | None) -> dict[str, Any] | None:
    if not given:
        return None
    known = set((await session.execute(
        select(Milestone.id).where(Milestone.task_id == task_id))).scalars())
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidInput(f"Milestones {unknown} are not milestones of task {task_id}; its "
                           f"milestones are {sorted(known) or 'none'}.", milestones=sorted(known))
    return {str(k): v for k, v in given.items()}


async def _lock_open_period(session: AsyncSession, period: str, due_day: int) -> None:
    """Hold the period open until this report commits: closing it waits for us, and a report
    that waited for a close sees it closed."""
    locked = select(_P.c.closed_at).where(_P.c.period == period).with_for_update(read=True)
    found = None
    if session.bind.dialect.name == "postgresql":
        found = (await session.execute(locked)).first()
    if found is None:
        # On SQLite this write is what serialises reports with the close: it takes the lock.
        await insert_ignore(session, ReportingPeriod, [{"period": period, "due_day": due_day}],
                            ["period"])
        found = (await session.execute(locked)).first()
    if found.closed_at is not None:
        raise PeriodClosed(f"Period {period} was closed on {found.closed_at:%Y-%m-%d}: its reports "
                           "can no longer be filed or corrected.", period=period)


async def listing(session: AsyncSession, principal: Principal, task_id: int, unit: str | None,
                  period: str | None, limit: int, cursor: str | None) -> tuple[list[ReportOut], str | None]:
    query = await access.own_rows(session, principal, select(*_R.c).where(Report.task_id == task_id),
                                  Report.unit_id, unit)
    if period is not None:
        query = query.where(Report.period == check_period(period))
    rows, next_page = await tr.keyset(session, query, Report.id, limit, cursor)
    if not rows and cursor is None:
        await _visible(session, principal, task_id)
    return [public(r) for r in rows], next_page


async def _visible(session: AsyncSession, principal: Principal, task_id: int) -> None:
    if principal.unit_id is None:
        if not await tr.task_exists(session, task_id):
            raise NotFound(f"No task {task_id}.")
        return
    own = select(Assignment.id).where(Assignment.task_id == task_id,
                                      Assignment.unit_id == principal.unit_id,
                                      Assignment.status != tr.S.group)
    if (await session.execute(own)).first() is None:
        raise NotFound(f"No task {task_id} with an obligation of your unit.")


async def one(session: AsyncSession, principal: Principal, report_id: int) -> ReportOut:
    row = (await session.execute(select(*_R.c).where(Report.id == report_id))).first()
    if row is None or not principal.sees_unit(row.unit_id):
        raise NotFound(f"No report {report_id}.")
    return public(row)


async def close_period(session: AsyncSession, principal: Principal, period: str, today: date,
                       due_day: int) -> PeriodOut:
    check_period(period)
    if period > f"{today:%Y-%m}":
        raise InvalidInput(f"Period {period} has not begun; it cannot be closed yet.")
    await insert_ignore(session, ReportingPeriod, [{"period": period, "due_day": due_day}], ["period"])
    row = (await session.execute(
        update(ReportingPeriod).where(ReportingPeriod.period == period,
                                      ReportingPeriod.closed_at.is_(None))
        .values(closed_at=utcnow()).returning(*_P.c))).first()
    if row is None:
        raise InvalidTransition(f"Period {period} is already closed.", current="closed")
    await audit.record(session, principal, "period.closed", "period", None,
                       before={"period": period, "state": "open"},
                       after={"period": period, "state": "closed", "closed_at": row.closed_at})
    return _period(row)


async def period_state(session: AsyncSession, period: str, due_day: int) -> PeriodOut:
    check_period(period)
    row = (await session.execute(select(*_P.c).where(ReportingPeriod.period == period))).first()
    return _period(row) if row else PeriodOut(period=period, state="open", due_day=due_day,
                                              closed_at=None)


def _period(row: Row) -> PeriodOut:
    return PeriodOut(period=row.period, state="closed" if row.closed_at else "open",
                     due_day=row.due_day, closed_at=row.closed_at)
