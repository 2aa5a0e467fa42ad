"""The outbox. `emit` writes an event, and one pending delivery per subscribed webhook, in the
caller's transaction: a change that rolls back leaves no event, and a committed change always
has its events. Delivery is the worker's job (app/events/worker.py), never the request's.

What a subscriber receives (the body the worker signs):
    {"id": <event id>, "type": "report.submitted", "created_at": "…Z",
     "data": {"task": {id, number, title, document_id}, "unit": {id, name, short_name},
              "assignment_id": …, <the change, e.g. "report": {period, progress, …}>}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    Integer,
    bindparam,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app import sqljson
from app.batch import Batch, Ref
from app.dbutil import dialect_insert
from app.models import Delivery, Event, Task, Unit, Webhook, utcnow
from app.query import Query, run

TYPES = ("task.assigned", "report.submitted", "extension.requested", "completion.requested",
         "task.closed", "task.returned", "assignment.overdue", "reminder.created")
ALL = "*"
TEST = "webhook.test"  # sent by POST /webhooks/{id}/test to one subscriber only
_CHUNK = 1000  # rows per INSERT: well under the bind-parameter limits of SQLite and asyncpg

# One event about a task and a unit, the common case, in two statements built once: what the
# task and unit are called with every active subscriber (one row when there is none), then
# the event.
_ABOUT = Query(
    select(Task.id.label("task_id"), Task.number, Task.title, Task.document_id,
           Unit.id.label("unit_id"), Unit.name, Unit.short_name,
           Webhook.id.label("webhook_id"), Webhook.events)
    .select_from(Task).join(Unit, Unit.id == bindparam("unit_id"))
    .outerjoin(Webhook, Webhook.active.is_(True))
    .where(Task.id == bindparam("task_id")).order_by(Webhook.id))
# The active subscribers as one column, for a caller that reads what its event needs in its
# own statement (see emit_known).
SUBSCRIBERS = sqljson.rows(select(Webhook).where(Webhook.active.is_(True)), Webhook,
                           id=Webhook.id, events=sqljson.json_value(Webhook.events))
_EVENT = Query(insert(Event).values({n: bindparam(f"v_{n}") for n in (
    "type", "task_id", "assignment_id", "unit_id", "payload", "created_at")}).returning(Event.id))
# A task's events are numbered in the order they commit: on PostgreSQL the transaction takes its
# tasks' advisory locks, held until it ends, just before its events get their ids. Without them
# two writers on one task could commit their events in the other order than numbered, and the
# worker, which sends a task's events in id order, sent the later first when it came in between.
# Taken last (nothing is waited for after them but the commit) and in descending task order
# (a clause before its parent, as a verification closes them), they close no cycle of waits.
# SQLite has one writer at a time: its commits come in id order already.
_ORDER = 0x6576  # the namespace of these advisory locks
_ORDER_ONE = Query(select(func.pg_advisory_xact_lock(_ORDER, bindparam("task_id", type_=Integer))))
_COLUMNS = ("type", "task_id", "assignment_id", "unit_id", "payload", "created_at")
# One event with its task's lock, in one round trip: the lock is taken as the row it is inserted
# from is made, before the row's id is drawn.
_HELD = select(func.pg_advisory_xact_lock(_ORDER, bindparam("v_task_id", type_=Integer))
               .label("held")).cte("held")
_EVENT_IN_ORDER = Query(insert(Event).from_select(list(_COLUMNS), select(
    *(bindparam(f"v_{n}", type_=Event.__table__.c[n].type) for n in _COLUMNS))
    .select_from(_HELD)).returning(Event.id))
_ORDER_MANY = text("SELECT count(*) FROM (SELECT pg_advisory_xact_lock(:ns, t) FROM (SELECT "
                   "DISTINCT unnest(CAST(:ids AS INTEGER[])) AS t ORDER BY t DESC) AS o) AS l")


@dataclass(slots=True)
class Pending:
    type: str
    task_id: int | None = None
    assignment_id: int | None = None
    unit_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None


async def emit(session: AsyncSession, type: str, *, task_id: int | None = None,
               assignment_id: int | None = None, unit_id: int | None = None,
               payload: dict[str, Any], dedupe_key: str | None = None) -> int | None:
    """The new event's id; None when `dedupe_key` was already emitted (then nothing is written)."""
    if dedupe_key is None and task_id is not None and unit_id is not None:
        about = await run(session, _ABOUT, task_id=task_id, unit_id=unit_id)
        if about:
            first = about[0]
            return await emit_known(
                session, type, assignment_id=assignment_id, payload=payload,
                task={"id": first["task_id"], "number": first["number"], "title": first["title"],
                      "document_id": first["document_id"]},
                unit={"id": first["unit_id"], "name": first["name"], "short_name": first["short_name"]},
                subscribers=[{"id": r["webhook_id"], "events": r["events"]} for r in about
                             if r["webhook_id"] is not None])
    ids = await emit_many(session, [Pending(type, task_id, assignment_id, unit_id, payload,
                                            dedupe_key)])
    return ids[0] if ids else None


async def emit_many(session: AsyncSession, events: list[Pending], *,
                    only_webhook: int | None = None) -> list[int]:
    """A handful of statements whatever the number of events. An event whose dedupe_key
    exists is skipped (INSERT … ON CONFLICT DO NOTHING), so a racing twin cannot emit it twice."""
    if not events:
        return []
    await _in_commit_order(session, [e.task_id for e in events])
    tasks, units = await _names(session, events)
    now = utcnow()
    rows = [{"type": e.type, "task_id": e.task_id, "assignment_id": e.assignment_id,
             "unit_id": e.unit_id, "dedupe_key": e.dedupe_key, "created_at": now,
             "payload": _plain({"task": tasks.get(e.task_id), "unit": units.get(e.unit_id),
                                "assignment_id": e.assignment_id, **e.payload})}
            for e in events]
    created = []
    for start in range(0, len(rows), _CHUNK):
        created += (await session.execute(
            dialect_insert(session, Event).values(rows[start:start + _CHUNK])
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Event.id, Event.type, Event.task_id))).all()
    if not created:
        return []
    subscribers = select(Webhook.id, Webhook.events).where(Webhook.active.is_(True))
    if only_webhook is not None:
        subscribers = subscribers.where(Webhook.id == only_webhook)
    hooks = (await session.execute(subscribers)).all()
    deliveries = [{"event_id": e.id, "webhook_id": h.id, "task_id": e.task_id, "status": "pending",
                   "attempts": 0, "next_attempt_at": now, "created_at": now}
                  for e in sorted(created, key=lambda r: r.id) for h in hooks
                  if only_webhook is not None or wants(h.events, e.type)]
    if deliveries:
        await session.execute(insert(Delivery), deliveries)
    return sorted(e.id for e in created)


async def emit_known(session: AsyncSession, type: str, *, task: dict[str, Any],
                     unit: dict[str, Any], assignment_id: int | None, payload: dict[str, Any],
                     subscribers: list[dict[str, Any]]) -> int:
    """`emit` for a caller that read, in the request's transaction, what the task and unit are
    called ({id, number, title, document_id} and {id, name, short_name}) and SUBSCRIBERS."""
    now = utcnow()
    data = _plain({"task": task, "unit": unit, "assignment_id": assignment_id, **payload})
    ordered = _EVENT_IN_ORDER if session.bind.dialect.name == "postgresql" else _EVENT
    event_id = (await run(session, ordered, v_type=type, v_task_id=task["id"],
                          v_assignment_id=assignment_id, v_unit_id=unit["id"], v_payload=data,
                          v_created_at=now))[0]["id"]
    deliveries = [{"event_id": event_id, "webhook_id": h["id"], "task_id": task["id"],
                   "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
                  for h in sorted(subscribers, key=lambda h: h["id"]) if wants(h["events"], type)]
    if deliveries:
        await session.execute(insert(Delivery), deliveries)
    return event_id


_LOCK = select(func.pg_advisory_xact_lock(_ORDER, bindparam("task_id", type_=Integer)))


def stage_known(batch: Batch, type: str, *, task: dict[str, Any], unit: dict[str, Any],
                assignment_id: int | None, payload: dict[str, Any],
                subscribers: list[dict[str, Any]]) -> None:
    """`emit_known` as steps of a batch: the task's lock (after the batch's other writes), the
    event, and a delivery per subscriber, each naming the event by the id it gets."""
    now = utcnow()
    batch.require("event_order", _LOCK, postgresql_only=True, task_id=task["id"])
    batch.insert("event", Event.__table__, {
        "type": type, "task_id": task["id"], "assignment_id": assignment_id, "unit_id": unit["id"],
        "payload": _plain({"task": task, "unit": unit, "assignment_id": assignment_id, **payload}),
        "created_at": now})
    for n, hook in enumerate(sorted(subscribers, key=lambda h: h["id"])):
        if wants(hook["events"], type):
            batch.insert(f"delivery_{n}", Delivery.__table__, {
                "event_id": Ref("event", "id"), "webhook_id": hook["id"], "task_id": task["id"],
                "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now})


async def _in_commit_order(session: AsyncSession, task_ids: list[int | None]) -> None:
    ids = sorted({t for t in task_ids if t is not None}, reverse=True)
    if not ids or session.bind.dialect.name != "postgresql":
        return
    if len(ids) == 1:
        await run(session, _ORDER_ONE, task_id=ids[0])
    else:
        await session.execute(_ORDER_MANY, {"ns": _ORDER, "ids": ids})


def wants(subscribed: list[str], type: str) -> bool:
    return ALL in subscribed or type in subscribed


async def _names(session: AsyncSession, events: list[Pending]) -> tuple[dict, dict]:
    """What the task and unit were called when it happened, in one statement: the event keeps
    them, so a retried delivery says the same thing as the first attempt."""
    task_ids = {e.task_id for e in events if e.task_id is not None}
    unit_ids = {e.unit_id for e in events if e.unit_id is not None}
    parts = []
    if task_ids:
        parts.append(select(literal_column("'task'").label("kind"), Task.id, Task.number.label("a"),
                            Task.title.label("b"), Task.document_id.label("c"))
                     .where(Task.id.in_(task_ids)))
    if unit_ids:
        parts.append(select(literal_column("'unit'").label("kind"), Unit.id, Unit.name.label("a"),
                            Unit.short_name.label("b"), null().cast(Integer).label("c"))
                     .where(Unit.id.in_(unit_ids)))
    names: dict[str, dict[int, dict]] = {"task": {}, "unit": {}}
    if parts:
        for r in (await session.execute(union_all(*parts) if len(parts) > 1 else parts[0])).all():
            names[r.kind][r.id] = ({"id": r.id, "number": r.a, "title": r.b, "document_id": r.c}
                                   if r.kind == "task" else {"id": r.id, "name": r.a, "short_name": r.b})
    return names["task"], names["unit"]


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    # Dates, instants and enums as JSON writes them: the column holds what the body will carry.
    return orjson.loads(orjson.dumps(data, option=orjson.OPT_UTC_Z))


def body(event_id: int, type: str, created_at: Any, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"id": event_id, "type": type, "created_at": created_at, "data": data},
                        option=orjson.OPT_UTC_Z)
