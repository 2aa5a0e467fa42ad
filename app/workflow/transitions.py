"""An obligation's life: which step may follow which, and the one way a step is written.

Every step is a compare-and-set UPDATE on the version the caller read. It keeps `is_open` and
`effective_deadline` true in the same statement, and records before/after in the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, Row, Select, bindparam, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.batch import Batch
from app.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from app.http import check_if_match, etag
from app.models import (
    Assignment,
    AssignmentStatus,
    CompletionRequest,
    ExtensionRequest,
    RequestStatus,
    ResponsibilityChange,
    Role,
    Task,
    TaskStatus,
    Unit,
    utcnow,
)
from app.pagination import decode, next_cursor
from app.query import Query, run_one
from app.tasks import obligations
from app.workflow.schemas import AssignmentOut, UnitBrief

S = AssignmentStatus
OPEN = obligations.OPEN

# action -> {status it may start from: status it leads to}
TRANSITIONS: dict[str, dict[S, S]] = {
    "accept": {S.assigned: S.accepted},
    "report": {S.accepted: S.in_progress, S.in_progress: S.in_progress, S.returned: S.returned,
               S.completion_requested: S.completion_requested},
    "request_completion": {S.accepted: S.completion_requested, S.in_progress: S.completion_requested,
                           S.returned: S.completion_requested},
    "verify": {S.completion_requested: S.closed},
    "return": {S.completion_requested: S.returned},
    "update": {s: s for s in OPEN},
    "remove": dict.fromkeys(OPEN, S.removed),
    "reinstate": {S.removed: S.assigned},
}

_WHY = {
    S.assigned: "it has not been accepted yet: accept it first (POST /api/v1/tasks/{task}/acceptance)",
    S.accepted: "it is accepted and has no report yet",
    S.completion_requested: "its completion request waits for the office's verification",
    S.closed: "it is closed (销号)",
    S.removed: "it was taken off the task",
    S.group: "it is a group placeholder, a label: act on its members' obligations",
}

_T = Assignment.__table__
# Spelled out: SQLite writes RETURNING columns unqualified, which would make `unit_id` ambiguous.
_OWNER = literal_column("assignment.unit_id")
_UNIT_NAME = select(Unit.name).where(Unit.id == _OWNER).scalar_subquery()
_UNIT_SHORT = select(Unit.short_name).where(Unit.id == _OWNER).scalar_subquery()
COLUMNS = (*_T.c, _UNIT_NAME.label("unit_name"), _UNIT_SHORT.label("unit_short_name"))
# The obligation a unit holds on a task, with the task's status; extended by callers that read
# more in the same round trip.
HELD = (select(*COLUMNS, Task.status.label("task_status")).join(Task, Task.id == _T.c.task_id)
        .where(_T.c.task_id == bindparam("task_id"), _T.c.unit_id == bindparam("unit_id")))
_ATTEMPTS = 3


def tag(row: Any) -> str:
    return etag("assignment", row.id, row.version)


def public(row: Row) -> AssignmentOut:
    return AssignmentOut(
        id=row.id, task_id=row.task_id,
        unit=UnitBrief(id=row.unit_id, name=row.unit_name, short_name=row.unit_short_name),
        role=row.role, status=row.status, via_group_id=row.via_group_id, origin=row.origin,
        own_deadline=row.own_deadline, extended_to=row.extended_to, task_deadline=row.task_deadline,
        effective_deadline=row.effective_deadline, is_open=row.is_open, progress=row.progress,
        last_period=row.last_period, accepted_at=row.accepted_at, closed_at=row.closed_at,
        version=row.version, etag=tag(row), created_at=row.created_at, updated_at=row.updated_at)


def snapshot(row: Any) -> dict[str, Any]:
    return {"status": row.status, "role": row.role, "own_deadline": row.own_deadline,
            "extended_to": row.extended_to, "effective_deadline": row.effective_deadline,
            "is_open": row.is_open, "progress": row.progress, "last_period": row.last_period,
            "via_group_id": row.via_group_id, "version": row.version}


def target(action: str, row: Any) -> S:
    allowed = TRANSITIONS[action]
    if row.status not in allowed:
        why = _WHY.get(row.status, f"it is {row.status.value}").format(task=row.task_id)
        raise InvalidTransition(f"Obligation {row.id} cannot do this now: {why}.",
                                current=row.status.value, assignment_id=row.id)
    return allowed[row.status]


async def by_id(session: AsyncSession, assignment_id: int) -> Row | None:
    return (await session.execute(select(*COLUMNS).where(_T.c.id == assignment_id))).first()


def as_row(found: Mapping[str, Any]) -> Any:
    """A row of a prebuilt statement (app/query.py) as this module's statements give one: by
    attribute, statuses as enums (the driver gives strings)."""
    row = SimpleNamespace(**found)
    row.status, row.role = S(row.status), Role(row.role)
    if "task_status" in found:
        row.task_status = TaskStatus(row.task_status)
    return row


async def held(session: AsyncSession, principal: Principal, task_id: int, unit_id: int) -> Row:
    """The obligation `unit_id` holds on the task, with the task's status."""
    row = (await session.execute(HELD, {"task_id": task_id, "unit_id": unit_id})).first()
    return await holding(session, principal, task_id, unit_id, row)


async def holding(session: AsyncSession, principal: Principal, task_id: int, unit_id: int,
                  row: Any) -> Any:
    """`row`, as HELD read it, if it is an obligation; else the 404 that says why not."""
    if row is not None and row.status is not S.group:
        return row
    if principal.unit_id is not None:
        raise NotFound(f"No task {task_id} with an obligation of your unit.")
    if not await task_exists(session, task_id):
        raise NotFound(f"No task {task_id}.")
    raise NotFound(f"Task {task_id} has no obligation for unit {unit_id}.")


async def task_exists(session: AsyncSession, task_id: int) -> bool:
    return (await session.execute(select(Task.id).where(Task.id == task_id))).first() is not None


async def lock(session: AsyncSession, table: Any, *where: Any) -> None:
    """Hold the rows until commit, so that a check followed by an insert cannot race: every
    read after this sees what concurrent requests committed."""
    if session.bind.dialect.name == "postgresql":
        # FOR NO KEY UPDATE, the lock an UPDATE takes: lockers still wait for each other, but a
        # report inserted meanwhile (its foreign key takes KEY SHARE on the task) does not. With
        # FOR UPDATE, a report holding its obligation and a verification holding the task and
        # wanting that obligation deadlocked (500).
        await session.execute(select(table.id).where(*where).with_for_update(key_share=True))
    else:
        # SQLite locks the whole database at a transaction's first write: a no-op write takes it.
        await session.execute(update(table).where(*where).values(version=table.version))


async def move(session: AsyncSession, principal: Principal, current: Row, action: str, *,
               if_match: str | None = None, values: dict[str, Any] | None = None,
               record: str | None = None) -> Row:
    """Apply `action` to one obligation. Lost races are retried on the fresh row, unless the
    caller sent If-Match: then the version it read must still be the stored one (else 412).
    `record` names the audit action; None leaves the audit entry to the caller."""
    values = values or {}

    async def write(current: Any, to: S) -> Any:
        fields = {"extended_to": current.extended_to, "own_deadline": current.own_deadline,
                  "task_deadline": current.task_deadline, **values}
        deadline = obligations.effective(fields["extended_to"], fields["own_deadline"],
                                         fields["task_deadline"])
        return (await session.execute(
            update(Assignment)
            .where(Assignment.id == current.id, Assignment.version == current.version,
                   Assignment.status.in_(list(TRANSITIONS[action])))
            .values(status=to, is_open=to in OPEN, effective_deadline=deadline,
                    version=current.version + 1, updated_at=utcnow(), **values)
            .returning(*COLUMNS))).first()

    before, row = await _compare_and_set(session, current, action, if_match, write)
    if record:
        await audit.record(session, principal, record, "assignment", row.id,
                           task_id=row.task_id, unit_id=row.unit_id,
                           before=snapshot(before), after=snapshot(row))
    return row


def step(action: str, **values: Any) -> Query:
    """`move`'s UPDATE for one frequent action, built once. `values` are the action's own
    columns as expressions of named parameters; they leave the deadlines as they are."""
    version = bindparam("cur_version", type_=Integer)
    return Query(
        update(Assignment)
        .where(Assignment.id == bindparam("cur_id"), Assignment.version == version,
               # Spelled as equalities: a prebuilt statement takes no expanding IN list.
               or_(*(Assignment.status == s for s in TRANSITIONS[action])))
        .values(status=bindparam("to", type_=_T.c.status.type), is_open=bindparam("is_open"),
                effective_deadline=bindparam("deadline", type_=_T.c.effective_deadline.type),
                version=version + 1,
                updated_at=bindparam("now", type_=_T.c.updated_at.type), **values)
        .returning(*COLUMNS))


async def move_by(session: AsyncSession, current: Any, action: str, prebuilt: Query, *,
                  if_match: str | None = None, **params: Any) -> tuple[Any, Any]:
    """`move` by the statement `step(action, …)` built; `params` fill its values. Returns the
    obligation as the write found it (for the audit's before) and as it left it."""

    async def write(current: Any, to: S) -> Any:
        deadline = obligations.effective(current.extended_to, current.own_deadline,
                                         current.task_deadline)
        found = await run_one(session, prebuilt, cur_id=current.id, cur_version=current.version,
                              to=to, is_open=to in OPEN, deadline=deadline, now=utcnow(), **params)
        return None if found is None else as_row(found)

    return await _compare_and_set(session, current, action, if_match, write)


def stage_move(batch: Batch, current: Any, action: str, prebuilt: Query, *, if_match: str | None,
               now: Any, **columns: Any) -> Any:
    """`move_by` staged in a batch (app/batch.py): the same compare-and-set on the version read,
    applied with the batch's other writes or not at all. Returns the obligation as it will be;
    `columns` are the action's own values, bound by their column names."""
    to = target(action, current)
    check_if_match(if_match, tag(current))
    deadline = obligations.effective(current.extended_to, current.own_deadline, current.task_deadline)
    batch.update("obligation", prebuilt.statement, cur_id=current.id, cur_version=current.version,
                 to=to, is_open=to in OPEN, deadline=deadline, now=now, **columns)
    return SimpleNamespace(**{**vars(current), **columns, "status": to, "is_open": to in OPEN,
                              "effective_deadline": deadline, "version": current.version + 1,
                              "updated_at": now})


# Held unchanged until the batch commits: a step that leaves the obligation as it is still
# depends on it (a report on an older month of an obligation a verification is closing).
UNCHANGED = (select(_T.c.id).where(_T.c.id == bindparam("cur_id"), _T.c.version == bindparam("cur_version"))
             .with_for_update(key_share=True))


async def _compare_and_set(session: AsyncSession, current: Any, action: str, if_match: str | None,
                           write: Callable[[Any, S], Awaitable[Any]]) -> tuple[Any, Any]:
    """(the row the write applied to, the row it made). After a lost race that is the row read
    again, not the caller's: an audit entry must not say the change began from a stale state."""
    for _ in range(_ATTEMPTS):
        check_if_match(if_match, tag(current))
        row = await write(current, target(action, current))
        if row is not None:
            return current, row
        current = await by_id(session, current.id)
    raise Conflict("The obligation kept changing while this request ran; send it again.")


async def settle(session: AsyncSession, principal: Principal, assignment_ids: list[int],
                 why: str) -> None:
    """An obligation that closes or leaves its task ends its pending requests, so that none
    waits for a decision that can no longer apply, nor blocks a new request."""
    now = utcnow()
    for model, entity, status, stamp in (
            (ExtensionRequest, "extension", RequestStatus.rejected, "decided_at"),
            (ResponsibilityChange, "responsibility_change", RequestStatus.rejected, "decided_at"),
            (CompletionRequest, "completion", RequestStatus.returned, "verified_at")):
        ended = (await session.execute(
            update(model).where(model.assignment_id.in_(assignment_ids),
                                model.status == RequestStatus.pending)
            .values(status=status, comment=why, **{stamp: now})
            .returning(model.id, model.task_id, model.unit_id))).all()
        for r in ended:
            await audit.record(session, principal, f"{entity}.{status.value}", entity, r.id,
                               task_id=r.task_id, unit_id=r.unit_id, before={"status": "pending"},
                               after={"status": status.value, "comment": why})


async def keyset(session: AsyncSession, query: Select, id_column: Any, limit: int,
                 cursor: str | None) -> tuple[list[Row], str | None]:
    """One page of `query` in id order, and the cursor of the next page."""
    after = decode(cursor, 1)
    if after is not None:
        if not isinstance(after[0], int):
            raise InvalidInput("The cursor is not valid: pass next_cursor from the previous page unchanged.")
        query = query.where(id_column > int(after[0]))
    rows = (await session.execute(query.order_by(id_column).limit(limit + 1))).all()
    return rows[:limit], next_cursor(rows, limit, lambda r: [r.id])
