"""月调度: a unit's monthly report on its obligation, and the reporting periods the office
closes. One report per obligation and period; filing again corrects it while the period is open."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Integer, Row, bindparam, case, exists, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit, sqljson, uow
from app.auth.principal import Principal
from app.batch import Batch, Stale
from app.dbutil import insert_ignore, next_id
from app.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PeriodClosed,
)
from app.events import outbox
from app.http import check_if_match, check_period
from app.models import (
    Assignment,
    AuditEntry,
    Milestone,
    Report,
    ReportingPeriod,
    Task,
    utcnow,
)
from app.query import Query, fetch_one, run_one
from app.tasks import access
from app.workflow import transitions as tr
from app.workflow.schemas import PeriodOut, ReportCreate, ReportOut

_R = Report.__table__
_P = ReportingPeriod.__table__
_ATTEMPTS = 3

_PERIOD = select(_P.c.closed_at).where(_P.c.period == bindparam("period"))
# One round trip reads all a filing is decided from and all its writes need: the obligation, its
# period, the period's report if one was filed (else the id a new one will take), the task's
# milestones, what the event says of the task, and the webhooks to tell. It locks nothing: the
# writes are guarded instead (_stage), and applied whole or not at all.
_STATE = Query(
    tr.HELD.outerjoin(Report, (Report.assignment_id == Assignment.id)
                      & (Report.period == bindparam("period")))
    .add_columns(
        exists(_PERIOD).label("period_known"), _PERIOD.scalar_subquery().label("period_closed_at"),
        Task.number.label("task_number"), Task.title.label("task_title"), Task.document_id,
        outbox.SUBSCRIBERS.label("subscribers"),
        sqljson.rows(select(Milestone).where(Milestone.task_id == Task.id), Task,
                     id=Milestone.id).label("milestones"),
        Report.id.label("report_id"), Report.version.label("report_version"),
        Report.created_at.label("report_created_at"), Report.progress.label("report_progress"),
        Report.summary.label("report_summary"),
        Report.milestone_values.label("report_milestone_values"),
        # Drawn only where a new report may follow (an obligation that takes reports, a period
        # not closed): a filing refused for either spends no id.
        case((Report.id.is_(None) & or_(*(Assignment.status == s for s in tr.TRANSITIONS["report"]))
              & ~exists(_PERIOD.where(_P.c.closed_at.is_not(None))), next_id(_R)),
             else_=null()).label("new_report_id")))
# Guards of the staged writes: the period still open (held so until the filing commits: a close
# waits for it, and a filing that waited for a close finds it closed).
_OPEN = select(_P.c.period).where(_P.c.period == bindparam("period"), _P.c.closed_at.is_(None)) \
    .with_for_update(read=True)
_PERIOD_NOW = Query(_PERIOD)
_ADVANCE = tr.step("report", progress=bindparam("progress"), last_period=bindparam("last_period"))
_FIELDS = ("progress", "summary", "milestone_values")
_VERSION = bindparam("r_version", type_=Integer)
_CORRECT = (update(Report).where(Report.id == bindparam("r_id"), Report.version == _VERSION)
            .values({**{c: bindparam(f"r_{c}") for c in _FIELDS}, "version": _VERSION + 1,
                     "updated_at": bindparam("r_updated_at")})
            .returning(Report.id))


def public(row: Row) -> ReportOut:
    return ReportOut.model_validate(row, from_attributes=True)


def _content(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"period": row["period"], "progress": row["progress"], "summary": row["summary"],
            "milestone_values": row["milestone_values"], "version": row["version"]}


def _json(row: Mapping[str, Any]) -> bytes:
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
    for _ in range(_ATTEMPTS):
        state = await fetch_one(session, _STATE, task_id=task_id, unit_id=unit_id, period=body.period)
        current = await tr.holding(session, principal, task_id, unit_id,
                                   tr.as_row(state) if state is not None else None)
        values = _milestone_values(task_id, body.milestone_values, state["milestones"])
        await _check_open(session, state, body.period, due_day)
        batch = Batch()
        report, before = _stage(batch, principal, current, state, body, values, if_match)
        try:
            await uow.settle(session, batch)
        except Stale:
            continue  # inside a transaction begun earlier: read again there
        return _json(report), report["id"], before is None
    raise Conflict("The report kept changing while this request ran; send it again.")


def _stage(batch: Batch, principal: Principal, current: Any, state: Mapping[str, Any],
           body: ReportCreate, values: dict[str, Any] | None,
           if_match: str | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The filing's writes, as decided from `state`: (the report as it will be, as it was)."""
    now = utcnow()
    batch.require("period", _OPEN, period=body.period)
    # last_period only grows, so a month older than the one read stays older; a correction of
    # an older month leaves the obligation as it is, but still depends on it.
    if current.last_period is not None and body.period < current.last_period \
            and tr.target("report", current) is current.status:
        check_if_match(if_match, tr.tag(current))
        batch.require("obligation", tr.UNCHANGED, cur_id=current.id, cur_version=current.version)
        obligation = current
    else:
        obligation = tr.stage_move(batch, current, "report", _ADVANCE, if_match=if_match, now=now,
                                   progress=body.progress, last_period=body.period)
    fields = {"progress": body.progress, "summary": body.summary, "milestone_values": values}
    before = None
    if state["report_id"] is None:
        report = {"id": state["new_report_id"], "assignment_id": current.id,
                  "task_id": current.task_id, "unit_id": current.unit_id, "period": body.period,
                  **fields, "version": 1, "created_at": now, "updated_at": now}
        batch.insert("report", _R, report, skip_conflicts_on=("assignment_id", "period"), must=True)
    else:
        before = {"period": body.period, "progress": state["report_progress"],
                  "summary": state["report_summary"],
                  "milestone_values": state["report_milestone_values"],
                  "version": state["report_version"]}
        report = {"id": state["report_id"], "assignment_id": current.id,
                  "task_id": current.task_id, "unit_id": current.unit_id, "period": body.period,
                  **fields, "version": before["version"] + 1,
                  "created_at": state["report_created_at"], "updated_at": now}
        batch.update("report", _CORRECT, r_id=report["id"], r_version=before["version"],
                     r_updated_at=now, **{f"r_{k}": v for k, v in fields.items()})
    batch.insert("audit", AuditEntry.__table__, audit.entry(
        principal, "report.corrected" if before else "report.created", "report", report["id"],
        task_id=current.task_id, unit_id=current.unit_id,
        before={"report": before, "assignment": tr.snapshot(current)},
        after={"report": _content(report), "assignment": tr.snapshot(obligation)}))
    outbox.stage_known(
        batch, "report.submitted", assignment_id=current.id,
        task={"id": current.task_id, "number": state["task_number"], "title": state["task_title"],
              "document_id": state["document_id"]},
        unit={"id": current.unit_id, "name": state["unit_name"], "short_name": state["unit_short_name"]},
        subscribers=state["subscribers"], payload={"report": {
            "id": report["id"], "period": body.period, "progress": body.progress,
            "summary": body.summary, "corrected": before is not None}})
    return report, before


def _milestone_values(task_id: int, given: dict[int, Any] | None,
                      milestones: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not given:
        return None
    known = {m["id"] for m in milestones}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidInput(f"Milestones {unknown} are not milestones of task {task_id}; its "
                           f"milestones are {sorted(known) or 'none'}.", milestones=sorted(known))
    return {str(k): v for k, v in given.items()}


async def _check_open(session: AsyncSession, state: Mapping[str, Any], period: str,
                      due_day: int) -> None:
    """Refuse a closed period; make a period no one has used yet (the filing then writes in the
    transaction this begins, and its guard finds the period made)."""
    closed_at = state["period_closed_at"]
    if not state["period_known"]:
        await insert_ignore(session, ReportingPeriod, [{"period": period, "due_day": due_day}],
                            ["period"])
        closed_at = (await run_one(session, _PERIOD_NOW, period=period))["closed_at"]
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
