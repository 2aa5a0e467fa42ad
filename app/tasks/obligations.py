"""Obligations (assignments): creating them, expanding groups into them, and keeping their
stored effective deadline and open flag true in the same transaction as the change.

"Overdue" is never stored: it is `overdue_clause(as_of)` over the stored effective deadline
and open flag, and `is_overdue` is the same rule in Python.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import and_, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from app.dbutil import insert_ignore
from app.models import Assignment, AssignmentStatus, GroupMember, Role, Task, TaskStatus, utcnow

OPEN = AssignmentStatus.open_statuses()
ROLE_RANK = {Role.lead: 0, Role.responsible: 1, Role.cooperating: 2}


def effective(extended_to: date | None, own_deadline: date | None, task_deadline: date | None) -> date | None:
    return extended_to or own_deadline or task_deadline


# Bare, as ix_assignment_open_by_unit is written: neither SQLite nor PostgreSQL sees that
# `is_open IS 1` / `is_open IS true` implies it, so only this form can use the partial index.
OPEN_ROW = literal_column("assignment.is_open")

# A group is a label and a removed obligation is owed by nobody: neither is ever counted as
# owed. Spelled as two inequalities: a prebuilt statement (app/query.py) takes no expanding IN.
NOT_OWED = (AssignmentStatus.group, AssignmentStatus.removed)
OWED = and_(*(Assignment.status != status for status in NOT_OWED))


def overdue_clause(as_of: date | ColumnElement[date]) -> ColumnElement[bool]:
    return and_(OPEN_ROW, Assignment.effective_deadline < as_of)


def on_task(task_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Obligations on the task or on its clauses (a task read as clauses is worked clause by
    clause). Spelled as one IN over the task table: `task_id = x OR task_id IN (clauses)` makes
    PostgreSQL filter every obligation there is instead of reading two index ranges."""
    family = aliased(Task)
    return Assignment.task_id.in_(
        select(family.id).where(or_(family.id == task_id, family.parent_id == task_id)))


def is_overdue(status: AssignmentStatus, effective_deadline: date | None, as_of: date) -> bool:
    return status in OPEN and effective_deadline is not None and effective_deadline < as_of


def days_overdue(effective_deadline: date | None, as_of: date) -> int:
    return max((as_of - effective_deadline).days, 0) if effective_deadline else 0


def row(task_id: int, unit_id: int, role: Role, *, task_deadline: date | None, group: bool = False,
        own_deadline: date | None = None, via_group_id: int | None = None,
        origin: str = "document", starts_on: date | None = None) -> dict:
    status = AssignmentStatus.group if group else AssignmentStatus.assigned
    return {"task_id": task_id, "unit_id": unit_id, "role": role, "via_group_id": via_group_id,
            "origin": origin, "own_deadline": own_deadline, "task_deadline": task_deadline,
            "effective_deadline": effective(None, own_deadline, task_deadline),
            "status": status, "is_open": not group, "starts_on": starts_on}


async def create(session: AsyncSession, rows: list[dict]) -> None:
    """Insert obligations; a unit already on a task keeps its existing obligation."""
    await insert_ignore(session, Assignment, rows, ["task_id", "unit_id"])


async def expand_group(session: AsyncSession, group_id: int,
                       joined: Collection[int] | None = None) -> tuple[int, int]:
    """One obligation per member on every open task that names the group; members that left
    lose their open obligations from it. Obligations of `joined` members (default: all) that
    were removed when they left come back; any other removal stands. Returns (added, removed)."""
    members = set((await session.execute(
        select(GroupMember.member_id).where(GroupMember.group_id == group_id))).scalars())
    open_tasks = select(Task.id).where(Task.status == TaskStatus.open)
    placements = (await session.execute(
        select(Assignment.task_id, Assignment.role, Assignment.task_deadline, Assignment.own_deadline,
               Assignment.starts_on)
        .where(Assignment.unit_id == group_id, Assignment.status == AssignmentStatus.group,
               Assignment.task_id.in_(open_tasks)))).all()
    before = await _count_from_group(session, group_id)
    await create(session, [
        row(p.task_id, member, Role(p.role), task_deadline=p.task_deadline,
            own_deadline=p.own_deadline, via_group_id=group_id, origin="group",
            starts_on=p.starts_on)
        for p in placements for member in members])
    returning = members if joined is None else members & set(joined)
    if returning:
        await session.execute(
            update(Assignment)
            .where(Assignment.via_group_id == group_id, Assignment.unit_id.in_(returning),
                   Assignment.status == AssignmentStatus.removed, Assignment.closed_at.is_(None),
                   Assignment.task_id.in_(open_tasks))
            .values(status=AssignmentStatus.assigned, is_open=True, version=Assignment.version + 1,
                    updated_at=utcnow()))
    added = await _count_from_group(session, group_id) - before
    gone = await session.execute(
        update(Assignment)
        .where(Assignment.via_group_id == group_id, Assignment.unit_id.not_in(members),
               Assignment.status.in_(OPEN))
        .values(status=AssignmentStatus.removed, is_open=False, version=Assignment.version + 1,
                updated_at=utcnow()))
    return added, gone.rowcount or 0


async def _count_from_group(session: AsyncSession, group_id: int) -> int:
    return (await session.execute(select(func.count()).where(
        Assignment.via_group_id == group_id, Assignment.is_open.is_(True)))).scalar_one()


async def start_clocks(session: AsyncSession, document_id: int, starts_on: date) -> None:
    """Obligations a document just created start when the document does (序时进度 counts from it)."""
    tasks = select(Task.id).where(Task.document_id == document_id)
    await session.execute(update(Assignment).where(Assignment.starts_on.is_(None),
                                                   Assignment.task_id.in_(tasks))
                           .values(starts_on=starts_on))


async def set_task_deadline(session: AsyncSession, task_id: int, deadline: date | None) -> None:
    """A task's new deadline reaches every obligation that has none of its own."""
    await session.execute(
        update(Assignment).where(Assignment.task_id == task_id)
        .values(task_deadline=deadline,
                effective_deadline=func.coalesce(Assignment.extended_to, Assignment.own_deadline, deadline),
                version=Assignment.version + 1, updated_at=utcnow()))
