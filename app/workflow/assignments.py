"""交办 and 签收: the office puts a unit on a task, changes or removes its obligation; the unit
accepts it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.dbutil import dialect_insert
from app.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from app.events import outbox
from app.models import Assignment, GroupMember, Role, Task, TaskStatus, utcnow
from app.tasks import access, obligations
from app.units import service as units
from app.workflow import transitions as tr
from app.workflow.schemas import (
    AssignmentCreate,
    AssignmentCreated,
    AssignmentOut,
    AssignmentUpdate,
)


async def assign(session: AsyncSession, principal: Principal, task_id: int,
                 body: AssignmentCreate) -> AssignmentCreated:
    """Obligations sit where work is reported: a task read as clauses is assigned clause by
    clause, and the task rolls them up. A group is kept as a placeholder and its current
    members each get an obligation."""
    task = (await session.execute(
        select(Task.id, Task.status, Task.deadline).where(Task.id == task_id))).first()
    if task is None:
        raise NotFound(f"No task {task_id}.")
    if task.status is not TaskStatus.open:
        raise InvalidTransition(f"Task {task_id} is {task.status.value}: only open tasks take "
                                "new obligations.", current=task.status.value)
    clauses = list((await session.execute(
        select(Task.id).where(Task.parent_id == task_id).order_by(Task.id))).scalars())
    if clauses:
        raise Conflict(f"Task {task_id} is read as clauses: assign the unit on the clause it "
                       f"works on (tasks {', '.join(map(str, clauses))}).", clauses=clauses)
    unit = await units.resolve(session, body.unit, body.jurisdiction)
    placed = await place(session, principal, task_id, unit.id, body.role, task_deadline=task.deadline,
                         own_deadline=body.deadline, group=unit.is_group)
    members: list[Row] = []
    if unit.is_group:
        ids = list((await session.execute(
            select(GroupMember.member_id).where(GroupMember.group_id == unit.id))).scalars())
        members = await insert_rows(session, [
            obligations.row(task_id, m, body.role, task_deadline=task.deadline,
                            own_deadline=body.deadline, via_group_id=unit.id, origin="group",
                            starts_on=utcnow().date())
            for m in ids])
        await audit.record(session, principal, "group.expanded", "assignment", placed.id,
                           task_id=task_id, unit_id=unit.id,
                           after={"members": {m.unit_id: m.id for m in members}})
        await outbox.emit_many(session, [_assigned(m) for m in members])
    return AssignmentCreated(**tr.public(placed).model_dump(), members=[tr.public(m) for m in members])


async def place(session: AsyncSession, principal: Principal, task_id: int, unit_id: int, role: Role,
                *, task_deadline: date | None, own_deadline: date | None,
                extended_to: date | None = None, group: bool = False) -> Row:
    """A new obligation made by the office. A unit taken off the task is put back on it; a
    unit that holds any other obligation on it is refused (change that one with PATCH)."""
    values = {"role": role, "own_deadline": own_deadline, "extended_to": extended_to,
              "origin": "office", "closed_at": None, "accepted_at": None}
    held = (await session.execute(select(*tr.COLUMNS).where(
        Assignment.task_id == task_id, Assignment.unit_id == unit_id))).first()
    if held is not None:
        if held.status is not tr.S.removed:
            raise Conflict(f"Unit {held.unit_name} already holds obligation {held.id} on task "
                           f"{task_id} ({held.status.value}): change it with PATCH "
                           f"/api/v1/tasks/{task_id}/assignments/{held.id}.", assignment_id=held.id)
        row = await tr.move(session, principal, held, "reinstate", values=values,
                            record="assignment.reinstated")
        await outbox.emit_many(session, [_assigned(row)])
        return row
    row = {**obligations.row(task_id, unit_id, role, task_deadline=task_deadline, group=group,
                             own_deadline=own_deadline, origin="office", starts_on=utcnow().date()),
           "extended_to": extended_to,
           "effective_deadline": obligations.effective(extended_to, own_deadline, task_deadline)}
    created = await insert_rows(session, [row])
    if not created:
        raise Conflict(f"Unit {unit_id} was put on task {task_id} by a concurrent request; "
                       "read the assignments again.")
    await audit.record(session, principal, "assignment.created", "assignment", created[0].id,
                       task_id=task_id, unit_id=unit_id,
                       after={**tr.snapshot(created[0]), "origin": "office"})
    if not group:
        await outbox.emit_many(session, [_assigned(created[0])])
    return created[0]


def _assigned(row: Row) -> outbox.Pending:
    return outbox.Pending("task.assigned", row.task_id, row.id, row.unit_id, {"assignment": {
        "role": row.role, "origin": row.origin, "via_group_id": row.via_group_id,
        "deadline": row.effective_deadline, "status": row.status}})


async def insert_rows(session: AsyncSession, rows: list[dict]) -> list[Row]:
    if not rows:
        return []
    # A unit already on the task keeps its obligation: ON CONFLICT DO NOTHING, one statement.
    stmt = (dialect_insert(session, Assignment).values(rows)
            .on_conflict_do_nothing(index_elements=["task_id", "unit_id"]).returning(*tr.COLUMNS))
    return sorted((await session.execute(stmt)).all(), key=lambda r: r.id)


async def update(session: AsyncSession, principal: Principal, task_id: int, assignment_id: int,
                 body: AssignmentUpdate, if_match: str | None) -> AssignmentOut:
    """The office's own deadline for a unit replaces an extension approved before it."""
    changes = body.model_dump(exclude_unset=True)
    values: dict = {}
    if "role" in changes:
        if changes["role"] is None:
            raise InvalidInput("role cannot be null: give lead, responsible or cooperating.")
        values["role"] = changes["role"]
    if "deadline" in changes:
        values.update(own_deadline=changes["deadline"], extended_to=None)
    if not values:
        raise InvalidInput("Nothing to change: give role and/or deadline.")
    current = await on_task(session, principal, task_id, assignment_id)
    row = await tr.move(session, principal, current, "update", if_match=if_match, values=values,
                        record="assignment.updated")
    return tr.public(row)


async def remove(session: AsyncSession, principal: Principal, task_id: int, assignment_id: int,
                 if_match: str | None) -> None:
    """Reports and history stay; the obligation is no longer open."""
    current = await on_task(session, principal, task_id, assignment_id)
    await tr.move(session, principal, current, "remove", if_match=if_match,
                  record="assignment.removed")
    await tr.settle(session, principal, [current.id], "the unit was taken off the task")


async def accept(session: AsyncSession, principal: Principal, task_id: int, unit: str | None,
                 jurisdiction: str | None, if_match: str | None) -> AssignmentOut:
    unit_id = await access.acting_unit(session, principal, unit, jurisdiction)
    current = await tr.held(session, principal, task_id, unit_id)
    row = await tr.move(session, principal, current, "accept", if_match=if_match,
                        values={"accepted_at": utcnow()}, record="assignment.accepted")
    return tr.public(row)


async def on_task(session: AsyncSession, principal: Principal, task_id: int,
                  assignment_id: int) -> Row:
    """One assignment of the task as the caller may see it: a unit sees only its own."""
    row = await tr.by_id(session, assignment_id)
    if row is None or row.task_id != task_id or not _sees(principal, row):
        raise NotFound(f"Task {task_id} has no assignment {assignment_id}.")
    return row


async def listing(session: AsyncSession, principal: Principal, task_id: int, limit: int,
                  cursor: str | None) -> tuple[list[AssignmentOut], str | None]:
    query = select(*tr.COLUMNS).where(Assignment.task_id == task_id)
    if principal.unit_id is not None:
        query = query.where(Assignment.unit_id == principal.unit_id,
                            Assignment.status != tr.S.group)
    rows, next_page = await tr.keyset(session, query, Assignment.id, limit, cursor)
    if not rows and cursor is None and (principal.unit_id is not None
                                        or not await tr.task_exists(session, task_id)):
        raise NotFound(f"No task {task_id}." if principal.unit_id is None
                       else f"No task {task_id} with an obligation of your unit.")
    return [tr.public(r) for r in rows], next_page


def _sees(principal: Principal, row: Row) -> bool:
    return principal.unit_id is None or (row.unit_id == principal.unit_id
                                         and row.status is not tr.S.group)


async def one(session: AsyncSession, principal: Principal, task_id: int,
              assignment_id: int) -> AssignmentOut:
    return tr.public(await on_task(session, principal, task_id, assignment_id))
