"""The dispatch, one row per obligation active in the window: its report for the months
counted, whether one is missing, and its light with the facts that make it.

Filters (unit, light, missing) are SQL conditions (app/dispatch/facts.py), so a page is a
keyset range of assignment ids; each row's facts are then stated by app/dispatch/lights.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings
from app.dispatch import lights, window
from app.dispatch.facts import A, Facts
from app.dispatch.lights import RANK, Light
from app.dispatch.schemas import ObligationDispatch, ReportBrief, TaskBrief
from app.dispatch.summary import facts, units_in_play
from app.models import Report, Task, Unit
from app.pagination import Page
from app.tasks import obligations
from app.workflow.transitions import keyset


def statement(f: Facts, *where: Any):
    owed = [f.expected(m).label(f"owes_{i}") for i, (m, _) in enumerate(f.reports)]
    filed = [r.id.label(f"report_{i}") for i, (_, r) in enumerate(f.reports)]
    return (f.with_reports(
        select(A.id, A.task_id, A.unit_id, A.role, A.status, A.is_open, A.effective_deadline,
               A.extended_to, A.starts_on, A.created_at, A.closed_at, A.progress,
               Task.number, Task.title, Task.document_id, Unit.short_name, *owed, *filed)
        .select_from(A))
        .join(Task, Task.id == A.task_id).join(Unit, Unit.id == A.unit_id)
        .where(f.active(), *where))


async def listing(session: AsyncSession, principal: Principal, period: str, *, unit: str | None,
                  jurisdiction: str | None, light: Light | None, missing: bool | None,
                  as_of: date | None, limit: int, cursor: str | None, today: date,
                  settings: Settings) -> Page[ObligationDispatch]:
    scope = await window.resolve(session, period, as_of, today, settings)
    where = await units_in_play(session, principal, unit, jurisdiction)
    f = facts(session, scope)
    if light is not None:
        where.append(f.light() == RANK[light])
    if missing is not None:
        where.append(f.any_missing() if missing else not_(f.any_missing()))
    rows, after = await keyset(session, statement(f, *where), A.id, limit, cursor)
    latest = {row.id: _latest_report(row, len(f.reports)) for row in rows}
    wanted = [i for i in latest.values() if i is not None]
    reports = {r.id: r for r in (await session.execute(
        select(Report.id, Report.period, Report.progress, Report.summary, Report.created_at)
        .where(Report.id.in_(wanted)))).all()} if wanted else {}
    return Page(items=[_row(row, f, reports.get(latest[row.id])) for row in rows],
                next_cursor=after)


def _latest_report(row: Any, months: int) -> int | None:
    m = row._mapping
    return next((m[f"report_{i}"] for i in reversed(range(months))
                 if m[f"report_{i}"] is not None), None)


def _row(row: Any, f: Facts, report: Any) -> ObligationDispatch:
    s = f.scope
    deadline, is_open = row.effective_deadline, bool(row.is_open)
    starts = row.starts_on or row.created_at.astimezone(s.tz).date()
    m = row._mapping
    missing = [month.period for i, (month, _) in enumerate(f.reports)
               if m[f"owes_{i}"] and m[f"report_{i}"] is None]
    current = s.current
    lagging = is_open and lights.is_lagging(row.progress, s.as_of, starts, deadline, s.lag_margin)
    late = lights.report_late(current is not None and current.period in missing, s.as_of,
                              current.due_date if current else None)
    overdue = lights.is_overdue(is_open, deadline, s.as_of)
    return ObligationDispatch(
        assignment_id=row.id,
        task=TaskBrief(id=row.task_id, number=row.number, title=row.title,
                       document_id=row.document_id),
        unit=row.short_name, unit_id=row.unit_id, role=row.role, status=row.status,
        effective_deadline=deadline,
        report=ReportBrief(period=report.period, progress=report.progress, summary=report.summary,
                           created_at=report.created_at) if report else None,
        missing=bool(missing), missing_months=missing, overdue=overdue,
        days_overdue=obligations.days_overdue(deadline, s.as_of) if overdue else 0,
        due_soon=lights.is_due_within(is_open, deadline, s.as_of, s.due_soon_days),
        expected_progress=_round(lights.expected_progress(s.as_of, starts, deadline)) if is_open else None,
        progress=row.progress, lagging=lagging,
        light=lights.light(is_open=is_open, deadline=deadline, as_of=s.as_of,
                           yellow_days=s.yellow_days, late_report=late, lagging=lagging),
        closed_at=row.closed_at, closed_late=lights.closed_late(row.closed_at, deadline, s.tz),
        extended=row.extended_to is not None)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
