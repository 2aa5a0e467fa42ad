"""月调度: a unit's monthly report on its obligation, and the reporting periods the office
closes. One report per obligation and period; filing again corrects it while the period is open."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from sqlalchemy import Integer, Row, bindparam, case, exists, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.dbutil import insert_ignore
from app.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PeriodClosed,
)
from app.events import outbox
from app.http import check_if_match, check_period
from app.models import Assignment, Milestone, Report, ReportingPeriod, Task, utcnow
from app.query import Query, run, run_one
from app.tasks import access
from app.workflow import transitions as tr
from app.workflow.schemas import PeriodOut, ReportCreate, ReportOut

_R = Report.__table__
_P = ReportingPeriod.__table__
_ATTEMPTS = 3

_LOCKED_PERIOD = select(_P.c.closed_at).where(_P.c.period == bindparam("period")) \
    .with_for_update(read=True)
_HELD_PERIOD = _LOCKED_PERIOD.cte("held_period")
# One round trip: the obligation; its period, held open until this report commits (closing it
# waits for us, and a report that waited for a close sees it closed); what the event needs.
# Nothing is locked when there is no obligation: no row to compute the period's columns for.
_STATE = Query(tr.HELD.add_columns(
    exists(select(_HELD_PERIOD.c.closed_at)).label("period_known"),
    select(_HELD_PERIOD.c.closed_at).scalar_subquery().label("period_closed_at"),
    Task.number.label("task_number"), Task.title.label("task_title"), Task.document_id,
    outbox.SUBSCRIBERS.label("subscribers")))
_PERIOD = Query(_LOCKED_PERIOD)
_MILESTONES = Query(select(Milestone.id).where(Milestone.task_id == bindparam("task_id")))
# Decided in the statement, not from what was read: a concurrent later month wins.
_LATEST = or_(Assignment.last_period.is_(None), Assignment.last_period <= bindparam("period"))
_ADVANCE = tr.step("report", progress=case((_LATEST, bindparam("progress")), else_=Assignment.progress),
                   last_period=case((_LATEST, bindparam("period")), else_=Assignment.last_period))
_FIELDS = ("progress", "summary", "milestone_values")
# PostgreSQL's INSERT construct: SQLite reads its ON CONFLICT DO NOTHING the same.
_INSERT = Query(
    postgresql.insert(Report)
    .values({c: bindparam(f"r_{c}") for c in (
        "assignment_id", "task_id", "unit_id", "period", *_FIELDS, "version", "created_at",
        "updated_at")})
    .on_conflict_do_nothing(index_elements=["assignment_id", "period"]).returning(*_R.c))
_CURRENT = Query(select(*_R.c).where(Report.assignment_id == bindparam("assignment_id"),
                                     Report.period == bindparam("period")))
_VERSION = bindparam("r_version", type_=Integer)
_CORRECT = Query(
    update(Report).where(Report.id == bindparam("r_id"), Report.version == _VERSION)
    .values({**{c: bindparam(f"r_{c}") for c in _FIELDS}, "version": _VERSION + 1,
             "updated_at": bindparam("r_updated_at")})
    .returning(*_R.c))


def public(row: Row) -> ReportOut:
    return ReportOut.model_validate(row, from_attributes=True)


def _content(row: Any) -> dict[str, Any]:
    return {"period": row["period"], "progress": row["progress"], "summary": row["summary"],
            "milestone_values": row["milestone_values"], "version": row["version"]}


def _json(row: Any) -> bytes:
    # ReportOut's fields, in its order: what FastAPI would write, without validating it again.
    return orjson.dumps({name: row[name] for name in ReportOut.model_fields}, option=orjson.OPT_UTC_Z)


async def file(session: AsyncSession, principal: Principal, task_id: int, body: ReportCreate,
               if_match: str | None, today: date, due_day: int) -> tuple[bytes, int, bool]:
    """(the report as JSON, its id, whether it was created rather than corrected). The
    obligation's progress follows the latest period reported; a first report starts the work
    (accepted -> in_progress)."""
    if body.period > f"{today:%Y-%m}":
        raise InvalidInput(f"Period {body.period} has not begun: report for {today:%Y-%m} or earlier.")
    unit_id = await access.acting_unit(session, principal, body.unit, body.jurisdiction)
    state = await run_one(session, _STATE, task_id=task_id, unit_id=unit_id, period=body.period)
    current = await tr.holding(session, principal, task_id, unit_id,
                               tr.as_row(state) if state is not None else None)
    values = await _milestone_values(session, task_id, body.milestone_values)
    await _check_open(session, state, body.period, due_day)
    held, obligation = await _advance(session, current, body, if_match)
    fields = {"r_progress": body.progress, "r_summary": body.summary, "r_milestone_values": values}
    for _ in range(_ATTEMPTS):
        now = utcnow()
        created = await run_one(session, _INSERT, r_assignment_id=current.id, r_task_id=task_id,
                                r_unit_id=unit_id, r_period=body.period, r_version=1,
                                r_created_at=now, r_updated_at=now, **fields)
        before = None
        if created is None:
            before = await run_one(session, _CURRENT, assignment_id=current.id, period=body.period)
            created = await run_one(session, _CORRECT, r_id=before["id"],
                                    r_version=before["version"], r_updated_at=utcnow(), **fields)
        if created is not None:
            break
    else:
        raise Conflict("The report kept changing while this request ran; send it again.")
    await audit.record(
        session, principal, "report.corrected" if before else "report.created", "report",
        created["id"], task_id=task_id, unit_id=unit_id,
        before={"report": _content(before) if before else None, "assignment": tr.snapshot(held)},
        after={"report": _content(created), "assignment": tr.snapshot(obligation)})
    await outbox.emit_known(
        session, "report.submitted", assignment_id=current.id,
        task={"id": task_id, "number": state["task_number"], "title": state["task_title"],
              "document_id": state["document_id"]},
        unit={"id": unit_id, "name": state["unit_name"], "short_name": state["unit_short_name"]},
        subscribers=state["subscribers"], payload={"report": {
            "id": created["id"], "period": created["period"], "progress": created["progress"],
            "summary": created["summary"], "corrected": before is not None}})
    return _json(created), created["id"], before is None


async def _advance(session: AsyncSession, current: Any, body: ReportCreate,
                   if_match: str | None) -> tuple[Any, Any]:
    """(the obligation as the step found it, as it left it)."""
    # last_period only grows, so a month older than the one read stays older.
    if current.last_period is not None and body.period < current.last_period \
            and tr.target("report", current) is current.status:
        check_if_match(if_match, tr.tag(current))
        return current, current  # a correction of an older month changes nothing on it
    return await tr.move_by(session, current, "report", _ADVANCE, if_match=if_match,
                            period=body.period, progress=body.progress)


async def _milestone_values(session: AsyncSession, task_id: int,
                            given: dict[int, Any] | None) -> dict[str, Any] | None:
    if not given:
        return None
    known = {r["id"] for r in await run(session, _MILESTONES, task_id=task_id)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidInput(f"Milestones {unknown} are not milestones of task {task_id}; its "
                           f"milestones are {sorted(known) or 'none'}.", milestones=sorted(known))
    return {str(k): v for k, v in given.items()}


async def _check_open(session: AsyncSession, state: Any, period: str, due_day: int) -> None:
    """Refuse a closed period. _STATE holds a known period open; a new one is made here."""
    closed_at = state["period_closed_at"]
    if not state["period_known"]:
        # A racing close may be making it: the insert waits for that and skips, and the locked
        # read sees what it committed. (SQLite's write lock, taken at BEGIN, serialises all this.)
        await insert_ignore(session, ReportingPeriod, [{"period": period, "due_day": due_day}],
                            ["period"])
        closed_at = (await run_one(session, _PERIOD, period=period))["closed_at"]
    if closed_at is not None:
        raise PeriodClosed(f"Period {period} was closed on {closed_at:%Y-%m-%d}: its reports "
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
