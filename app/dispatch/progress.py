"""A task's progress, rolled up: the mean of its obligations' latest reported progress (a
closed obligation counts 100, one never reported 0), and for a task with clauses (subtasks)
the mean of its clauses'. One statement reads the task and its clauses together.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.dispatch import window
from app.dispatch.facts import CLOSED, COUNTS, A
from app.dispatch.schemas import ClauseProgress, TaskProgress
from app.models import Report, Task
from app.tasks import access

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def task_progress(session: AsyncSession, task_id: int, *, upto: window.Window | None = None,
                        tz: ZoneInfo = SHANGHAI) -> tuple[float | None, list[ClauseProgress]]:
    """(the task's progress, its clauses'). With `upto`, as it stood at the window's end (in
    `tz`): the latest report for a month up to its last, closed only if closed by then."""
    latest = A.progress
    closed = CLOSED
    counted = COUNTS
    if upto is not None:
        end = window.start_of(upto.end + timedelta(days=1), tz)
        latest = (select(Report.progress)
                  .where(Report.assignment_id == A.id, Report.period <= upto.months[-1])
                  .order_by(Report.period.desc()).limit(1).scalar_subquery())
        closed = and_(CLOSED, A.closed_at < end)
        counted = and_(COUNTS, A.created_at < end)
    value = case((A.id.is_(None), None), (closed, 100), else_=func.coalesce(latest, 0))
    rows = (await session.execute(
        select(Task.id, Task.number, Task.parent_id, func.avg(value).label("progress"))
        .select_from(Task)
        .outerjoin(A, and_(A.task_id == Task.id, counted))
        .where(or_(Task.id == task_id, Task.parent_id == task_id))
        .group_by(Task.id, Task.number, Task.parent_id, Task.ordinal)
        .order_by(Task.ordinal))).all()
    clauses = [ClauseProgress(task_id=r.id, number=r.number, progress=_round(r.progress))
               for r in rows if r.id != task_id]
    if clauses:
        known = [c.progress for c in clauses if c.progress is not None]
        return (round(sum(known) / len(known), 1) if known else None), clauses
    own = next((r.progress for r in rows if r.id == task_id), None)
    return _round(own), clauses


async def of_task(session: AsyncSession, principal: Principal, period: str, task_id: int,
                  tz: ZoneInfo) -> TaskProgress:
    span = window.parse(period)
    await access.visible_task(session, principal, task_id)
    progress, clauses = await task_progress(session, task_id, upto=span, tz=tz)
    return TaskProgress(task_id=task_id, period=period, progress=progress, clauses=clauses)


def _round(value: object) -> float | None:
    return None if value is None else round(float(value), 1)
