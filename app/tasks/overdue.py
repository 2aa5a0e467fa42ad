"""What is overdue, as of a day: one unit's overdue obligations, and the count per unit.

Both read the partial index ix_assignment_open_by_unit (unit_id, effective_deadline, task_id)
WHERE is_open, through the one overdue rule (obligations.overdue_clause).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import InvalidInput, NotFound
from app.models import Assignment, Document, Jurisdiction, Role, Task, Unit
from app.pagination import decode, next_cursor
from app.tasks import obligations
from app.tasks.schemas import (
    DocumentRef,
    OverdueItem,
    OverdueTask,
    UnitOverdue,
    UnitWithJurisdiction,
)
from app.units import service as units

_BAD_CURSOR = "The cursor is not valid: pass next_cursor from the previous page unchanged."


def unit_statement(unit_id: int, as_of: date, *, limit: int, role: Role | None = None,
                   after: tuple[date, int] | None = None) -> Select[Any]:
    """One page of a unit's overdue obligations: the index range first, then the page's tasks
    and documents by primary key, in one statement."""
    page = (select(Assignment.id, Assignment.task_id, Assignment.role, Assignment.status,
                   Assignment.effective_deadline)
            .where(Assignment.unit_id == unit_id, obligations.overdue_clause(as_of))
            .order_by(Assignment.effective_deadline, Assignment.task_id)
            .limit(limit + 1))
    if role is not None:
        page = page.where(Assignment.role == role)
    if after is not None:
        page = page.where(tuple_(Assignment.effective_deadline, Assignment.task_id) > tuple_(*after))
    page = page.subquery("page")
    return (select(page, Task.number, Task.title, Task.document_id,
                   Document.title.label("document_title"))
            .join(Task, Task.id == page.c.task_id)
            .join(Document, Document.id == Task.document_id)
            .order_by(page.c.effective_deadline, page.c.task_id))


async def of_unit(session: AsyncSession, principal: Principal, unit: str, *, jurisdiction: str | None,
                  as_of: date, role: Role | None, limit: int,
                  cursor: str | None) -> tuple[list[OverdueItem], str | None]:
    unit_id = (await units.resolve(session, unit, jurisdiction)).id
    if not principal.sees_unit(unit_id):
        raise NotFound("A unit token reads its own unit's overdue list only.")
    after = _unit_cursor(cursor)
    rows = (await session.execute(unit_statement(unit_id, as_of, limit=limit, role=role,
                                                 after=after))).all()
    items = [OverdueItem(
        task=OverdueTask(id=r.task_id, number=r.number, title=r.title,
                         document=DocumentRef(id=r.document_id, title=r.document_title)),
        role=r.role, deadline=r.effective_deadline,
        days_overdue=obligations.days_overdue(r.effective_deadline, as_of), status=r.status,
        assignment_id=r.id) for r in rows[:limit]]
    return items, next_cursor(rows, limit, lambda r: [r.effective_deadline.isoformat(), r.task_id])


def _unit_cursor(cursor: str | None) -> tuple[date, int] | None:
    values = decode(cursor, 2)
    if values is None:
        return None
    try:
        deadline, task_id = date.fromisoformat(values[0]), values[1]
    except (TypeError, ValueError):
        raise InvalidInput(_BAD_CURSOR) from None
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        raise InvalidInput(_BAD_CURSOR)
    return deadline, task_id


async def per_unit(session: AsyncSession, principal: Principal, *, jurisdiction: str | None,
                   as_of: date, limit: int, cursor: str | None) -> tuple[list[UnitOverdue], str | None]:
    """Units with at least one overdue obligation, most overdue first. A unit token sees its
    own row only."""
    after = _count_cursor(cursor)
    count = func.count(Assignment.id)
    counts = (select(Assignment.unit_id, count.label("overdue"),
                     func.min(Assignment.effective_deadline).label("oldest"))
              .where(obligations.overdue_clause(as_of))
              .group_by(Assignment.unit_id)
              .order_by(count.desc(), Assignment.unit_id)
              .limit(limit + 1))
    if principal.unit_id is not None:
        counts = counts.where(Assignment.unit_id == principal.unit_id)
    if jurisdiction is not None:
        scope = await units.jurisdiction_id(session, jurisdiction)
        counts = counts.where(Assignment.unit_id.in_(select(Unit.id).where(Unit.jurisdiction_id == scope)))
    if after is not None:
        counts = counts.having(or_(count < after[0], and_(count == after[0],
                                                          Assignment.unit_id > after[1])))
    page = counts.subquery("counts")
    rows = (await session.execute(
        select(page, Unit.name, Unit.short_name, Jurisdiction.name.label("jurisdiction"))
        .join(Unit, Unit.id == page.c.unit_id)
        .outerjoin(Jurisdiction, Jurisdiction.id == Unit.jurisdiction_id)
        .order_by(page.c.overdue.desc(), page.c.unit_id))).all()
    items = [UnitOverdue(
        unit=UnitWithJurisdiction(id=r.unit_id, name=r.name, short_name=r.short_name,
                                  jurisdiction=r.jurisdiction),
        overdue=r.overdue, oldest_deadline=r.oldest,
        max_days_overdue=obligations.days_overdue(r.oldest, as_of)) for r in rows[:limit]]
    return items, next_cursor(rows, limit, lambda r: [r.overdue, r.unit_id])


def _count_cursor(cursor: str | None) -> tuple[int, int] | None:
    values = decode(cursor, 2)
    if values is None:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InvalidInput(_BAD_CURSOR)
    return values[0], values[1]
