"""销号: a unit asks to close, the office verifies and closes or sends it back.

A lead unit asks for the whole task (scope "task"); any other unit for its own part (scope
"part"). A task closes when the office approves its lead's request, or when its last open
obligation closes; a parent task closes when its last open clause does.
"""

from __future__ import annotations

from sqlalchemy import Row, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.errors import Conflict, InvalidTransition, NotFound
from app.events import outbox
from app.models import (
    Assignment,
    CompletionRequest,
    RequestStatus,
    Role,
    Task,
    TaskStatus,
    Unit,
    utcnow,
)
from app.tasks import access
from app.units import service as units
from app.workflow import transitions as tr
from app.workflow.schemas import CompletionCreate, CompletionOut, Verification, VerificationOut

_C = CompletionRequest.__table__


async def ask(session: AsyncSession, principal: Principal, task_id: int, body: CompletionCreate,
              if_match: str | None) -> CompletionOut:
    unit_id = await access.acting_unit(session, principal, body.unit, body.jurisdiction)
    # One pending request per scope: requests on one task are made one at a time.
    await tr.lock(session, Task, Task.id == task_id)
    current = await tr.held(session, principal, task_id, unit_id)
    if current.task_status is not TaskStatus.open:
        raise InvalidTransition(f"Task {task_id} is {current.task_status.value}.",
                                current=current.task_status.value)
    scope = "task" if current.role is Role.lead else "part"
    same = _C.c.scope == "task" if scope == "task" else _C.c.assignment_id == current.id
    pending = (await session.execute(select(_C.c.id).where(
        _C.c.task_id == task_id, _C.c.status == RequestStatus.pending, same))).scalar()
    if pending is not None:
        raise Conflict(f"Completion request {pending} for this {scope} is still pending: wait "
                       "for the office's verification.", pending_id=pending)
    await tr.move(session, principal, current, "request_completion", if_match=if_match,
                  record="assignment.completion_requested")
    row = (await session.execute(_C.insert().values(
        task_id=task_id, unit_id=unit_id, assignment_id=current.id, scope=scope,
        summary=body.summary).returning(*_C.c))).first()
    out = CompletionOut.model_validate(row, from_attributes=True)
    await audit.record(session, principal, "completion.requested", "completion", out.id,
                       task_id=task_id, unit_id=unit_id, after=out.model_dump())
    await outbox.emit(session, "completion.requested", task_id=task_id, assignment_id=current.id,
                      unit_id=unit_id, payload={"completion": {
                          "id": out.id, "scope": out.scope, "summary": out.summary}})
    return out


async def verify(session: AsyncSession, principal: Principal, task_id: int,
                 body: Verification) -> VerificationOut:
    """Decide the lead's pending request for the task, or with `unit` that unit's request."""
    await tr.lock(session, Task, Task.id == task_id)
    task = (await session.execute(select(Task.id, Task.status, Task.parent_id, Task.closed_at)
                                  .where(Task.id == task_id))).first()
    if task is None:
        raise NotFound(f"No task {task_id}.")
    which = _C.c.scope == "task"
    if body.unit is not None:
        which = _C.c.unit_id == (await units.resolve(session, body.unit, body.jurisdiction)).id
    request = (await session.execute(select(*_C.c).where(
        _C.c.task_id == task_id, _C.c.status == RequestStatus.pending, which))).first()
    if request is None:
        raise await _nothing_pending(session, task, body.unit is not None)
    status = RequestStatus.approved if body.approved else RequestStatus.returned
    now = utcnow()
    decided = (await session.execute(
        update(CompletionRequest).where(CompletionRequest.id == request.id,
                                        CompletionRequest.status == RequestStatus.pending)
        .values(status=status, comment=body.comment, verified_at=now).returning(*_C.c))).first()
    if decided is None:
        raise Conflict("The request was decided by a concurrent verification; read it again.")
    closed: list[int] = []
    task_closed_at, parent = task.closed_at, None
    if not body.approved:
        current = await tr.by_id(session, request.assignment_id)
        await tr.move(session, principal, current, "return", record="assignment.returned")
        await outbox.emit(session, "task.returned", task_id=task_id,
                          assignment_id=request.assignment_id, unit_id=request.unit_id,
                          payload={"completion": {"id": request.id, "scope": request.scope},
                                   "comment": body.comment})
    else:
        if request.scope == "task":
            closed = await _close_open(session, principal, task_id, now)
            await _settle_parts(session, principal, task_id, now)
        else:
            current = await tr.by_id(session, request.assignment_id)
            row = await tr.move(session, principal, current, "verify", values={"closed_at": now},
                                record="assignment.closed")
            closed = [row.id]
            await outbox.emit(session, "task.closed", task_id=task_id, assignment_id=row.id,
                              unit_id=request.unit_id, payload={
                                  "scope": "part", "completion": {"id": request.id},
                                  "comment": body.comment, "closed_assignments": closed})
        await tr.settle(session, principal, closed, "the obligation closed (销号)")
        if not await _any_open(session, Assignment.task_id == task_id):
            task_closed_at = await _close_task(session, principal, task_id, now)
            parent = await _close_parent(session, principal, task.parent_id, now)
            for closed_id in filter(None, (task_id if task_closed_at else None, parent)):
                await outbox.emit(session, "task.closed", task_id=closed_id, payload={
                    "scope": "task", "completion": {"id": request.id, "scope": request.scope},
                    "comment": body.comment, "closed_at": now})
    await audit.record(session, principal, f"verification.{status.value}", "completion", request.id,
                       task_id=task_id, unit_id=request.unit_id, before={"status": "pending"},
                       after={"status": status.value, "comment": body.comment, "closed": closed})
    return VerificationOut(
        request=CompletionOut.model_validate(decided, from_attributes=True),
        task_status=TaskStatus.closed.value if task_closed_at else task.status.value,
        task_closed_at=task_closed_at, closed_assignments=closed, closed_parent_id=parent)


async def _nothing_pending(session: AsyncSession, task: Row, named: bool) -> InvalidTransition:
    parts = list((await session.execute(
        select(Unit.name).join(CompletionRequest, CompletionRequest.unit_id == Unit.id)
        .where(CompletionRequest.task_id == task.id, CompletionRequest.status == RequestStatus.pending)
        .order_by(CompletionRequest.id))).scalars())
    hint = (f"; pending requests from {'、'.join(parts)}: give \"unit\" to decide one"
            if parts and not named else "")
    who = "from that unit" if named else "from a lead unit for the whole task"
    return InvalidTransition(f"No completion request {who} is pending on task {task.id} "
                             f"(it is {task.status.value}){hint}.", current=task.status.value,
                             pending_units=parts)


async def _close_open(session: AsyncSession, principal: Principal, task_id: int, now) -> list[int]:
    """The lead's request approved: every open obligation of the task closes with it."""
    # Locked as they are read (FOR NO KEY UPDATE, as the UPDATE below): a report that moved
    # one meanwhile is waited for, so the audit's before is the state the update changes.
    before = {r.id: r for r in (await session.execute(select(*tr.COLUMNS).where(
        Assignment.task_id == task_id, Assignment.is_open.is_(True))
        .with_for_update(key_share=True))).all()}
    if not before:
        return []
    rows = (await session.execute(
        update(Assignment).where(Assignment.id.in_(before), Assignment.is_open.is_(True))
        .values(status=tr.S.closed, is_open=False, closed_at=now, version=Assignment.version + 1,
                updated_at=now).returning(*tr.COLUMNS))).all()
    for row in rows:
        await audit.record(session, principal, "assignment.closed", "assignment", row.id,
                           task_id=task_id, unit_id=row.unit_id,
                           before=tr.snapshot(before[row.id]), after=tr.snapshot(row))
    return sorted(r.id for r in rows)


async def _settle_parts(session: AsyncSession, principal: Principal, task_id: int, now) -> None:
    """Part requests still waiting are approved with the whole task."""
    settled = (await session.execute(
        update(CompletionRequest).where(CompletionRequest.task_id == task_id,
                                        CompletionRequest.status == RequestStatus.pending)
        .values(status=RequestStatus.approved, verified_at=now, comment="closed with the whole task")
        .returning(CompletionRequest.id, CompletionRequest.unit_id))).all()
    for r in settled:
        await audit.record(session, principal, "verification.approved", "completion", r.id,
                           task_id=task_id, unit_id=r.unit_id, before={"status": "pending"},
                           after={"status": "approved", "comment": "closed with the whole task"})


async def _any_open(session: AsyncSession, *where) -> bool:
    return bool((await session.execute(select(exists().where(Assignment.is_open.is_(True),
                                                             *where)))).scalar())


async def _close_task(session: AsyncSession, principal: Principal, task_id: int, now):
    done = (await session.execute(
        update(Task).where(Task.id == task_id, Task.status == TaskStatus.open)
        .values(status=TaskStatus.closed, closed_at=now, version=Task.version + 1, updated_at=now)
        .returning(Task.closed_at))).scalar()
    if done is not None:
        await audit.record(session, principal, "task.closed", "task", task_id, task_id=task_id,
                           before={"status": "open"}, after={"status": "closed", "closed_at": done})
    return done


async def _close_parent(session: AsyncSession, principal: Principal, parent_id: int | None,
                        now) -> int | None:
    """A withdrawn clause does not hold its parent open."""
    if parent_id is None:
        return None
    still_open = (await session.execute(select(exists().where(
        Task.parent_id == parent_id, Task.status == TaskStatus.open)))).scalar()
    if still_open or await _any_open(session, Assignment.task_id == parent_id):
        return None
    return parent_id if await _close_task(session, principal, parent_id, now) else None
