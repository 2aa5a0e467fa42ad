"""What a unit asks the office about its own obligation: an extension (延期) or a change of
responsibility (责任调整). One pending request of each kind per obligation; the office decides."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from app.events import outbox
from app.http import check_if_match
from app.models import (
    Assignment,
    ExtensionRequest,
    RequestStatus,
    ResponsibilityChange,
    utcnow,
)
from app.tasks import access
from app.units import service as units
from app.workflow import assignments
from app.workflow import transitions as tr
from app.workflow.schemas import (
    ChangeCreate,
    ChangeDecided,
    ChangeOut,
    Decision,
    ExtensionCreate,
    ExtensionDecided,
    ExtensionOut,
)


async def own_obligation(session: AsyncSession, principal: Principal, task_id: int,
                         unit: str | None, jurisdiction: str | None, if_match: str | None) -> Row:
    """The acting unit's open obligation, held until commit so that its pending requests can
    be counted without a race."""
    unit_id = await access.acting_unit(session, principal, unit, jurisdiction)
    await tr.lock(session, Assignment, Assignment.task_id == task_id, Assignment.unit_id == unit_id)
    current = await tr.held(session, principal, task_id, unit_id)
    check_if_match(if_match, tr.tag(current))
    tr.target("update", current)
    return current


async def _pending(session: AsyncSession, model: Any, assignment_id: int, what: str) -> None:
    found = (await session.execute(select(model.id).where(
        model.assignment_id == assignment_id, model.status == RequestStatus.pending))).scalar()
    if found is not None:
        raise Conflict(f"{what} {found} for this obligation is still pending: wait for the "
                       "office's decision.", pending_id=found)


async def ask_extension(session: AsyncSession, principal: Principal, task_id: int,
                        body: ExtensionCreate, if_match: str | None) -> ExtensionOut:
    current = await own_obligation(session, principal, task_id, body.unit, body.jurisdiction, if_match)
    deadline = current.effective_deadline
    if deadline is not None and body.deadline <= deadline:
        raise InvalidInput(f"The new deadline must be after the current one, {deadline}.",
                           current_deadline=deadline)
    await _pending(session, ExtensionRequest, current.id, "Extension request")
    row = (await session.execute(
        ExtensionRequest.__table__.insert().values(
            assignment_id=current.id, task_id=task_id, unit_id=current.unit_id,
            requested_deadline=body.deadline, previous_deadline=deadline, reason=body.reason)
        .returning(*ExtensionRequest.__table__.c))).first()
    out = ExtensionOut.model_validate(row, from_attributes=True)
    await audit.record(session, principal, "extension.requested", "extension", out.id,
                       task_id=task_id, unit_id=current.unit_id, after=out.model_dump())
    await outbox.emit(session, "extension.requested", task_id=task_id, assignment_id=current.id,
                      unit_id=current.unit_id, payload={"extension": {
                          "id": out.id, "requested_deadline": out.requested_deadline,
                          "previous_deadline": out.previous_deadline, "reason": out.reason}})
    return out


async def decide_extension(session: AsyncSession, principal: Principal, extension_id: int,
                           body: Decision) -> ExtensionDecided:
    """An approval moves the obligation's effective deadline to the date asked for."""
    decided = await _decide(session, ExtensionRequest, extension_id, body, "Extension request")
    out = ExtensionDecided.model_validate(decided, from_attributes=True)
    if body.approved:
        current = await tr.by_id(session, decided.assignment_id)
        row = await tr.move(session, principal, current, "update",
                            values={"extended_to": decided.requested_deadline},
                            record="assignment.extended")
        out.assignment = tr.public(row)
    await audit.record(session, principal, f"extension.{decided.status.value}", "extension",
                       extension_id, task_id=decided.task_id, unit_id=decided.unit_id,
                       before={"status": "pending"},
                       after={"status": decided.status.value, "comment": decided.comment})
    return out


async def _decide(session: AsyncSession, model: Any, request_id: int, body: Decision,
                  what: str) -> Row:
    """Compare-and-set on the pending state: a request is decided once."""
    status = RequestStatus.approved if body.approved else RequestStatus.rejected
    t = model.__table__
    row = (await session.execute(
        update(model).where(model.id == request_id, model.status == RequestStatus.pending)
        .values(status=status, comment=body.comment, decided_at=utcnow()).returning(*t.c))).first()
    if row is not None:
        return row
    found = (await session.execute(select(model.status).where(model.id == request_id))).scalar()
    if found is None:
        raise NotFound(f"No {what.lower()} {request_id}.")
    raise InvalidTransition(f"{what} {request_id} was already decided ({found.value}).",
                            current=found.value)


async def ask_change(session: AsyncSession, principal: Principal, task_id: int,
                     body: ChangeCreate, if_match: str | None) -> ChangeOut:
    current = await own_obligation(session, principal, task_id, body.unit, body.jurisdiction, if_match)
    replacement = None
    if body.kind == "replace":
        if not body.replacement:
            raise InvalidInput("A replace names the unit that takes over: give \"replacement\".")
        replacement = await units.resolve(session, body.replacement, body.jurisdiction)
        if replacement.id == current.unit_id or replacement.is_group:
            raise InvalidInput("The replacement must be another unit, not a group.")
        taken = (await session.execute(select(Assignment.id).where(
            Assignment.task_id == task_id, Assignment.unit_id == replacement.id,
            Assignment.status != tr.S.removed))).scalar()
        if taken is not None:
            raise Conflict("The replacement unit already holds an obligation on this task: ask "
                           "for kind remove instead, or name another unit.")
    elif body.replacement:
        raise InvalidInput("A remove names no replacement: drop \"replacement\" or use kind replace.")
    await _pending(session, ResponsibilityChange, current.id, "Responsibility change")
    row = (await session.execute(
        ResponsibilityChange.__table__.insert().values(
            assignment_id=current.id, task_id=task_id, unit_id=current.unit_id, kind=body.kind,
            replacement_unit_id=replacement.id if replacement else None, reason=body.reason)
        .returning(*ResponsibilityChange.__table__.c))).first()
    out = ChangeOut.model_validate(row, from_attributes=True)
    await audit.record(session, principal, "responsibility_change.requested", "responsibility_change",
                       out.id, task_id=task_id, unit_id=current.unit_id, after=out.model_dump())
    return out


async def decide_change(session: AsyncSession, principal: Principal, change_id: int,
                        body: Decision) -> ChangeDecided:
    """Approved: the unit leaves the task; for a replace, the replacement takes its role and
    deadlines. Rejected: nothing else changes."""
    decided = await _decide(session, ResponsibilityChange, change_id, body, "Responsibility change")
    out = ChangeDecided.model_validate(decided, from_attributes=True)
    if body.approved:
        current = await tr.by_id(session, decided.assignment_id)
        removed = await tr.move(session, principal, current, "remove", record="assignment.removed")
        await tr.settle(session, principal, [current.id], "the unit was taken off the task")
        out.assignment = tr.public(removed)
        if decided.kind == "replace":
            placed = await assignments.place(
                session, principal, decided.task_id, decided.replacement_unit_id, removed.role,
                task_deadline=removed.task_deadline, own_deadline=removed.own_deadline,
                extended_to=removed.extended_to)
            out.replacement_assignment = tr.public(placed)
    await audit.record(session, principal, f"responsibility_change.{decided.status.value}",
                       "responsibility_change", change_id, task_id=decided.task_id,
                       unit_id=decided.unit_id, before={"status": "pending"},
                       after={"status": decided.status.value, "comment": decided.comment})
    return out


async def listing(session: AsyncSession, principal: Principal, model: Any, *,
                  status: RequestStatus | None, task: int | None, unit: str | None, limit: int,
                  cursor: str | None) -> tuple[list[Row], str | None]:
    """Requests of one kind, filtered; a unit token sees its own unit's only."""
    query = select(*model.__table__.c)
    if status is not None:
        query = query.where(model.status == status)
    if task is not None:
        query = query.where(model.task_id == task)
    query = await access.own_rows(session, principal, query, model.unit_id, unit)
    return await tr.keyset(session, query, model.id, limit, cursor)


async def one(session: AsyncSession, principal: Principal, model: Any, request_id: int,
              what: str) -> Row:
    row = (await session.execute(select(*model.__table__.c).where(model.id == request_id))).first()
    if row is None or not principal.sees_unit(row.unit_id):
        raise NotFound(f"No {what} {request_id}.")
    return row
