"""Who may see a task and act on it. A unit sees only tasks it holds an obligation on; for
anything else the answer is 404, the same as for a task that does not exist, so that ids
leak nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import Forbidden, InvalidInput, NotFound
from app.models import Assignment, AssignmentStatus, Task
from app.units import service as units


async def visible_task(session: AsyncSession, principal: Principal, task_id: int) -> Task:
    task = await session.get(Task, task_id)
    if task is None or not await can_see(session, principal, task_id):
        raise NotFound(f"No task {task_id}.")
    return task


async def can_see(session: AsyncSession, principal: Principal, task_id: int) -> bool:
    if principal.unit_id is None:
        return True
    # A unit sees a task it is on, and the parent of a clause it is on.
    child = select(Task.id).where(Task.parent_id == task_id)
    query = select(exists().where(
        Assignment.unit_id == principal.unit_id,
        Assignment.status != AssignmentStatus.group,
        (Assignment.task_id == task_id) | Assignment.task_id.in_(child)))
    return bool((await session.execute(query)).scalar())


async def acting_unit(session: AsyncSession, principal: Principal, unit: str | None,
                      jurisdiction: str | None = None) -> int:
    """The unit a write is made for: a unit token acts for its own unit only; the office
    names the unit it acts for."""
    if not principal.can_write:
        raise Forbidden("This token is read-only.")
    if principal.unit_id is not None:
        if unit is not None and (await units.resolve(session, unit, jurisdiction)).id != principal.unit_id:
            raise Forbidden("A unit token acts for its own unit only.")
        return principal.unit_id
    if unit is None:
        raise InvalidInput("The office acts for a unit here: give \"unit\".")
    return (await units.resolve(session, unit, jurisdiction)).id


async def own_rows(session: AsyncSession, principal: Principal, query: Select, unit_column: Any,
                   unit: str | None) -> Select:
    """Narrow a listing to one unit's rows when asked, and always to the caller's own unit
    for a unit token."""
    if unit is not None:
        unit_id = (await units.resolve(session, unit)).id
        if not principal.sees_unit(unit_id):
            raise Forbidden("A unit token reads its own unit's records only.")
        query = query.where(unit_column == unit_id)
    if principal.unit_id is not None:
        query = query.where(unit_column == principal.unit_id)
    return query


async def obligation(session: AsyncSession, task_id: int, unit_id: int) -> Assignment:
    found = (await session.execute(select(Assignment).where(
        Assignment.task_id == task_id, Assignment.unit_id == unit_id))).scalar_one_or_none()
    if found is None or found.status is AssignmentStatus.group:
        raise NotFound(f"Task {task_id} has no obligation for this unit.")
    return found
