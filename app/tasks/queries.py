"""GET /tasks: the filtered, keyset-paginated list of tasks.

With a unit in play (unit= or a unit token) the list is read from that unit's obligations,
joined to their tasks, so the (unit_id, task_id) index gives both the filter and the order;
each item then carries the unit's own obligation. Without one it is read from the tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, exists, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.auth.principal import Principal
from app.errors import Forbidden, InvalidInput
from app.models import Assignment, AssignmentStatus, Document, Role, Task, TaskStatus
from app.pagination import decode, next_cursor
from app.tasks import obligations
from app.tasks.schemas import AssignmentBrief, TaskSummary
from app.units import service as units

_TASK_COLUMNS = (Task.id, Task.document_id, Task.parent_id, Task.number, Task.kind, Task.title,
                 Task.deadline, Task.deadline_text, Task.deadline_source, Task.status,
                 Task.section_path)
_ASSIGNMENT_COLUMNS = (Assignment.id.label("a_id"), Assignment.role.label("a_role"),
                       Assignment.status.label("a_status"),
                       Assignment.effective_deadline.label("a_deadline"),
                       Assignment.progress.label("a_progress"))
_UNIT_STATUSES = [s.value for s in AssignmentStatus if s is not AssignmentStatus.group]
_TASK_STATUSES = [s.value for s in TaskStatus]


@dataclass(frozen=True, slots=True)
class TaskFilter:
    unit: str | None = None
    jurisdiction: str | None = None
    role: Role | None = None
    status: str | None = None
    document: int | None = None
    kind: str | None = None
    parent: int | None = None
    deadline_from: date | None = None
    deadline_to: date | None = None
    overdue: bool | None = None
    q: str | None = None


async def list_tasks(session: AsyncSession, principal: Principal, f: TaskFilter, *, as_of: date,
                     limit: int, cursor: str | None) -> tuple[list[TaskSummary], str | None]:
    after = _cursor(cursor)
    unit_id = await _unit_in_play(session, principal, f)
    if f.deadline_from and f.deadline_to and f.deadline_from > f.deadline_to:
        raise InvalidInput("deadline_from is after deadline_to: swap them.")
    if unit_id is None:
        query = _by_task(f, as_of, after)
        if f.jurisdiction is not None:
            scope = await units.jurisdiction_id(session, f.jurisdiction)
            query = query.where(Task.document_id.in_(
                select(Document.id).where(Document.jurisdiction_id == scope)))
    else:
        query = _by_unit(unit_id, f, as_of, after)
    rows = (await session.execute(query.limit(limit + 1))).all()
    items = [_summary(r, as_of, unit_id is not None) for r in rows[:limit]]
    return items, next_cursor(rows, limit, lambda r: [r.id])


async def _unit_in_play(session: AsyncSession, principal: Principal, f: TaskFilter) -> int | None:
    """A unit token always lists as its own unit; the office and readers name one, or none."""
    named = (await units.resolve(session, f.unit, f.jurisdiction)).id if f.unit else None
    if principal.unit_id is not None:
        if named is not None and named != principal.unit_id:
            raise Forbidden("A unit token lists its own unit's tasks only: leave unit= out.")
        return principal.unit_id
    if named is None and f.role is not None:
        raise InvalidInput("role= filters a unit's obligations: give unit= as well.")
    return named


def _by_unit(unit_id: int, f: TaskFilter, as_of: date, after: int | None) -> Select[Any]:
    query = (select(*_TASK_COLUMNS, *_ASSIGNMENT_COLUMNS)
             .select_from(Assignment).join(Task, Task.id == Assignment.task_id)
             .where(Assignment.unit_id == unit_id, Assignment.status != AssignmentStatus.group)
             .order_by(Assignment.task_id))
    if after is not None:
        query = query.where(Assignment.task_id > after)
    if f.role is not None:
        query = query.where(Assignment.role == f.role)
    if f.status is not None:
        query = query.where(Assignment.status == _one_of(f.status, _UNIT_STATUSES, "an obligation"))
    if f.overdue is not None:
        late = obligations.overdue_clause(as_of)
        # An open obligation with no deadline makes the clause NULL: it is "not overdue".
        query = query.where(late if f.overdue else not_(func.coalesce(late, false())))
    if f.deadline_from is not None:
        query = query.where(Assignment.effective_deadline >= f.deadline_from)
    if f.deadline_to is not None:
        query = query.where(Assignment.effective_deadline <= f.deadline_to)
    return _common(query, f)


def _by_task(f: TaskFilter, as_of: date, after: int | None) -> Select[Any]:
    query = select(*_TASK_COLUMNS).order_by(Task.id)
    if after is not None:
        query = query.where(Task.id > after)
    if f.status is not None:
        query = query.where(Task.status == _one_of(f.status, _TASK_STATUSES, "a task"))
    if f.overdue is not None:
        late = _any_overdue(as_of)
        query = query.where(late if f.overdue else not_(late))
    if f.deadline_from is not None:
        query = query.where(Task.deadline >= f.deadline_from)
    if f.deadline_to is not None:
        query = query.where(Task.deadline <= f.deadline_to)
    return _common(query, f)


def _any_overdue(as_of: date):
    """A task is overdue when any open obligation on it, or on one of its clauses, is."""
    clause = aliased(Task)
    own = exists().where(Assignment.task_id == Task.id, obligations.overdue_clause(as_of))
    of_clause = exists().where(clause.parent_id == Task.id, Assignment.task_id == clause.id,
                               obligations.overdue_clause(as_of))
    return or_(own, of_clause)


def _common(query: Select[Any], f: TaskFilter) -> Select[Any]:
    if f.document is not None:
        query = query.where(Task.document_id == f.document)
    if f.kind is not None:
        query = query.where(Task.kind == f.kind)
    if f.parent is not None:
        query = query.where(Task.parent_id == f.parent)
    if f.q:
        query = query.where(or_(Task.title.contains(f.q, autoescape=True),
                                Task.text.contains(f.q, autoescape=True)))
    return query


def _one_of(value: str, allowed: list[str], what: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"status {value!r} is not a status of {what} here; use one of: "
                           + ", ".join(allowed) + ".")
    return value


def _cursor(cursor: str | None) -> int | None:
    values = decode(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], int) or isinstance(values[0], bool):
        raise InvalidInput("The cursor is not valid: pass next_cursor from the previous page unchanged.")
    return values[0]


def _summary(row: Any, as_of: date, with_assignment: bool) -> TaskSummary:
    assignment = None
    if with_assignment:
        status = AssignmentStatus(row.a_status)
        late = obligations.is_overdue(status, row.a_deadline, as_of)
        assignment = AssignmentBrief(
            id=row.a_id, role=row.a_role, status=status, effective_deadline=row.a_deadline,
            overdue=late, days_overdue=obligations.days_overdue(row.a_deadline, as_of) if late else 0,
            progress=row.a_progress)
    return TaskSummary(
        id=row.id, document_id=row.document_id, parent_id=row.parent_id, number=row.number,
        kind=row.kind, title=row.title, deadline=row.deadline, deadline_text=row.deadline_text,
        deadline_source=row.deadline_source, status=row.status, section_path=row.section_path,
        assignment=assignment)

