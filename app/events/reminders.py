"""催办: the office urges units, one, a list, or every unit missing a month's report, about a
period or a task. Each reminder is recorded, written to the audit log and emitted as
reminder.created, in the one transaction; the office's scripts then read them back per unit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.config import Settings
from app.dispatch import window
from app.dispatch.facts import Facts
from app.errors import InvalidInput, NotFound
from app.events import outbox
from app.events.schemas import ReminderCreate, ReminderOut, RemindersCreated, UnitBrief
from app.http import check_period
from app.models import Assignment as A
from app.models import Reminder, Task, Unit
from app.pagination import Page
from app.tasks import access, obligations
from app.units import service as units
from app.workflow import transitions as tr

_R = Reminder.__table__


async def create(session: AsyncSession, principal: Principal, body: ReminderCreate, today: date,
                 settings: Settings) -> RemindersCreated:
    task = await _task(session, body.task)
    period = body.missing_for or body.period
    if period is not None and period > f"{today:%Y-%m}":
        raise InvalidInput(f"Period {period} has not begun: remind about {today:%Y-%m} or earlier.")
    if body.missing_for is not None:
        scope = await units.jurisdiction_id(session, body.jurisdiction)
        targets = await missing(session, body.missing_for, today, settings, task_id=body.task,
                                jurisdiction_id=scope)
    else:
        targets = await _named(session, body, task)
    if not targets:
        return RemindersCreated(reminders=[], count=0)
    rows = [{"unit_id": u.id, "task_id": body.task, "period": period,
             "message": body.message or _message(period, task, count)} for u, count in targets]
    created = (await session.execute(insert(Reminder).values(rows).returning(*_R.c))).all()
    by_id = {u.id: u for u, _ in targets}
    out = [_public(r, by_id[r.unit_id]) for r in sorted(created, key=lambda r: r.id)]
    await audit.record_many(session, principal, "reminder.created", "reminder", [
        {"entity_id": r.id, "task_id": r.task_id, "unit_id": r.unit.id,
         "after": r.model_dump(mode="json")} for r in out])
    await outbox.emit_many(session, [outbox.Pending(
        "reminder.created", r.task_id, None, r.unit.id,
        {"reminder": {"id": r.id, "period": r.period, "message": r.message,
                      "created_at": r.created_at}}) for r in out])
    return RemindersCreated(reminders=out, count=len(out))


async def _task(session: AsyncSession, task_id: int | None):
    if task_id is None:
        return None
    task = (await session.execute(select(Task.id, Task.number, Task.title)
                                  .where(Task.id == task_id))).first()
    if task is None:
        raise NotFound(f"No task {task_id}.")
    return task


async def _named(session: AsyncSession, body: ReminderCreate, task) -> list[tuple[units.UnitRef, None]]:
    # `is not None`: an empty name is the one target given, refused as unknown, not a missing list.
    found = await units.resolve_many(session, [body.unit] if body.unit is not None else body.units,
                                     body.jurisdiction)
    targets = list({u.id: u for u in found}.values())
    groups = [u.name for u in targets if u.is_group]
    if groups:
        raise InvalidInput(f"{'、'.join(groups)} is a group, not a unit: remind its members, or "
                           "use missing_for. Nothing was created.", groups=groups)
    if task is not None:
        on_task = set((await session.execute(
            select(A.unit_id).where(A.unit_id.in_([u.id for u in targets]),
                                    obligations.OWED, _on_task(task.id)))).scalars())
        strangers = [u.name for u in targets if u.id not in on_task]
        if strangers:
            raise InvalidInput(f"{'、'.join(strangers)} holds no obligation on task {task.id}: "
                               "remind the units on the task. Nothing was created.",
                               units=strangers)
    return [(u, None) for u in targets]


def _on_task(task_id: int):
    """The task's own obligations and its clauses' (a task read as clauses is worked clause by
    clause)."""
    return obligations.on_task(task_id)


async def missing(session: AsyncSession, period: str, today: date, settings: Settings, *,
                  task_id: int | None = None,
                  jurisdiction_id: int | None = None) -> list[tuple[units.UnitRef, int]]:
    """Units with obligations missing their report for `period`, with how many — by the
    dispatch's own rule (app/dispatch/facts.py), so a reminder goes to exactly the units the
    dispatch shows as missing."""
    scope = await window.resolve(session, check_period(period), None, today, settings)
    facts = Facts(scope, session.bind.dialect.name)
    month, report = facts.reports[-1]
    counts = facts.with_reports(select(A.unit_id, func.count().label("missing"))
                                .where(facts.active(), facts.missing(month, report))).group_by(A.unit_id)
    if task_id is not None:
        counts = counts.where(_on_task(task_id))
    if jurisdiction_id is not None:
        counts = counts.where(A.unit_id.in_(select(Unit.id).where(Unit.jurisdiction_id == jurisdiction_id)))
    counts = counts.subquery()
    rows = (await session.execute(
        select(Unit.id, Unit.name, Unit.short_name, Unit.jurisdiction_id, Unit.is_group,
               counts.c.missing)
        .join(counts, counts.c.unit_id == Unit.id).order_by(Unit.id))).all()
    return [(units.UnitRef(r.id, r.name, r.short_name, r.jurisdiction_id, r.is_group), r.missing)
            for r in rows]


def _message(period: str | None, task, missing_count: int | None) -> str:
    month = f"{period[:4]}年{int(period[5:])}月" if period else None
    title = None
    if task is not None:
        short = task.title if len(task.title) <= 40 else task.title[:40] + "…"
        title = f"任务“{task.number} {short}”"
    if missing_count is not None:
        what = title or f"{missing_count}项任务"
        return f"贵单位{what}尚未报送{month}的工作进展，请尽快报送。特此提醒。"
    if month:
        return f"请贵单位按时报送{title or ''}{month}的工作进展。特此提醒。"
    if title:
        return f"请贵单位加快推进{title}，并按时报送工作进展。特此提醒。"
    return "请贵单位加快推进承担的督办任务，并按时报送工作进展。特此提醒。"


async def listing(session: AsyncSession, principal: Principal, *, unit: str | None,
                  period: str | None, task: int | None, limit: int,
                  cursor: str | None) -> Page[ReminderOut]:
    """Reminders oldest first; a unit token reads its own unit's only."""
    query = (select(*_R.c, Unit.name.label("unit_name"), Unit.short_name.label("unit_short_name"))
             .join(Unit, Unit.id == Reminder.unit_id))
    query = await access.own_rows(session, principal, query, Reminder.unit_id, unit)
    if period is not None:
        query = query.where(Reminder.period == check_period(period))
    if task is not None:
        query = query.where(Reminder.task_id == task)
    rows, after = await tr.keyset(session, query, Reminder.id, limit, cursor)
    return Page(items=[ReminderOut(
        id=r.id, unit=UnitBrief(id=r.unit_id, name=r.unit_name, short_name=r.unit_short_name),
        task_id=r.task_id, period=r.period, message=r.message, created_at=r.created_at)
        for r in rows], next_cursor=after)


def _public(row, unit: units.UnitRef) -> ReminderOut:
    return ReminderOut(id=row.id, unit=UnitBrief(id=unit.id, name=unit.name,
                                                 short_name=unit.short_name),
                       task_id=row.task_id, period=row.period, message=row.message,
                       created_at=row.created_at)
