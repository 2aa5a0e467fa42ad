"""What must hold of the stored state after any fault, read straight from the database: each
check returns what it found wrong (an empty list when all is well), so that a failure names
every broken row at once."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select

from app.db import Database
from app.events.outbox import wants
from app.models import (
    Assignment,
    AuditEntry,
    CompletionRequest,
    Delivery,
    Event,
    IdempotencyRecord,
    Report,
    Task,
    Webhook,
)
from app.workflow.transitions import OPEN, TRANSITIONS

# What an obligation may become next, whatever the step (the lead's approval closes any open one).
_NEXT = {str(s): {str(to) for moves in TRANSITIONS.values() for frm, to in moves.items()
                  if frm == s} | ({"closed"} if s in OPEN else set())
         for s in {*OPEN, "closed", "removed"}}
# The comment on the part requests that an approval of the whole task settles with it.
SETTLED = "closed with the whole task"


@dataclass
class State:
    tasks: dict[int, Any]
    assignments: dict[int, Any]
    reports: list[Any]
    completions: dict[int, Any]
    audit: list[Any]
    events: list[Any]
    deliveries: list[Any]
    webhooks: list[Any]
    idempotency: list[Any]

    def entries(self, action: str) -> list[Any]:
        return [e for e in self.audit if e.action == action]


async def load(database: Database) -> State:
    """One consistent view of every table, even while the service still runs."""
    async with database.snapshot() as s:
        async def rows(model: Any) -> list[Any]:
            return list((await s.execute(select(*model.__table__.c).order_by("id"))).all())
        return State(
            tasks={r.id: r for r in await rows(Task)},
            assignments={r.id: r for r in await rows(Assignment)},
            reports=await rows(Report),
            completions={r.id: r for r in await rows(CompletionRequest)},
            audit=await rows(AuditEntry), events=await rows(Event), deliveries=await rows(Delivery),
            webhooks=await rows(Webhook), idempotency=await rows(IdempotencyRecord))


def reports_belong(state: State) -> list[str]:
    wrong = []
    seen = Counter((r.assignment_id, r.period) for r in state.reports)
    wrong += [f"{n} reports for assignment {a} in {p}" for (a, p), n in seen.items() if n > 1]
    for r in state.reports:
        held = state.assignments.get(r.assignment_id)
        if held is None or (held.task_id, held.unit_id) != (r.task_id, r.unit_id):
            wrong.append(f"report {r.id} does not belong to an obligation of its task and unit")
    return wrong


def report_histories(state: State) -> list[str]:
    """Every version of every report has exactly one audit entry, the last one the stored text."""
    history = defaultdict(list)
    for e in state.entries("report.created") + state.entries("report.corrected"):
        history[e.entity_id].append(e)
    wrong = []
    for r in state.reports:
        entries = sorted(history.pop(r.id, []), key=lambda e: e.after["report"]["version"])
        versions = [e.after["report"]["version"] for e in entries]
        if versions != list(range(1, r.version + 1)):
            wrong.append(f"report {r.id} at v{r.version} has audit versions {versions}")
        elif (entries[-1].after["report"]["summary"], entries[-1].after["report"]["progress"]) \
                != (r.summary, r.progress):
            wrong.append(f"report {r.id} differs from its last audited version")
    return wrong + [f"audit entries for a report {i} that is not stored" for i in history]


def obligation_histories(state: State) -> list[str]:
    """Each obligation's versions have one audit entry each, in a legal order of steps, and a
    serial replay of its audited reports gives its stored progress."""
    moves, report_of = defaultdict(list), {r.id: r.assignment_id for r in state.reports}
    for e in state.audit:
        if e.entity == "assignment" and e.after and "version" in e.after:
            moves[e.entity_id].append((e.after, e.before))
        elif e.action.startswith("report.") and e.after["assignment"] != e.before["assignment"]:
            moves[report_of.get(e.entity_id)].append((e.after["assignment"], e.before["assignment"],
                                                      e.after["report"]))
    wrong = []
    for held in state.assignments.values():
        steps = sorted(moves.get(held.id, []), key=lambda m: m[0]["version"])
        versions = [m[0]["version"] for m in steps]
        if versions and (versions != list(range(versions[0], held.version + 1)) or versions[0] > 2):
            wrong.append(f"obligation {held.id} at v{held.version} has audit versions {versions}")
            continue
        status, period, progress = None, None, None
        for after, before, *report in steps:
            if before and before["version"] != after["version"] - 1:
                wrong.append(f"obligation {held.id} v{after['version']} audited as moving from "
                             f"v{before['version']}")
            elif before and status not in (None, before["status"]):
                wrong.append(f"obligation {held.id} v{after['version']} audited as moving from "
                             f"{before['status']}, not {status}")
            elif before:
                status = before["status"]
            if status is not None and after["status"] not in _NEXT[status] | {status}:
                wrong.append(f"obligation {held.id} went {status} -> {after['status']}")
            status = after["status"]
            if report and (period is None or report[0]["period"] >= period):
                period, progress = report[0]["period"], report[0]["progress"]
        if steps and status != held.status:
            wrong.append(f"obligation {held.id} is {held.status}, its audit ends {status}")
        if period is not None and (held.last_period, held.progress) != (period, progress):
            wrong.append(f"obligation {held.id} has {held.last_period}/{held.progress}, a replay "
                         f"of its reports {period}/{progress}")
    return wrong


def closed_are_verified(state: State) -> list[str]:
    closed = {e.entity_id for e in state.entries("assignment.closed")}
    approved = {(c.task_id, c.scope if c.scope == "task" else c.assignment_id)
                for c in state.completions.values() if c.status == "approved"}
    wrong = []
    for a in state.assignments.values():
        if a.status == "closed" and (a.id not in closed or not (
                (a.task_id, "task") in approved or (a.task_id, a.id) in approved)):
            wrong.append(f"obligation {a.id} is closed without its verification and audit entry")
    tasks_closed = {e.entity_id for e in state.entries("task.closed")}
    for t in state.tasks.values():
        still_open = [a.id for a in state.assignments.values() if a.task_id == t.id and a.is_open]
        if t.status == "closed" and (t.id not in tasks_closed or still_open):
            wrong.append(f"task {t.id} is closed without its audit entry or with {still_open} open")
    return wrong


def idempotent_answers_applied(state: State) -> list[str]:
    """An answer stored for an Idempotency-Key stands for a change that is stored too."""
    reports = {(e.entity_id, e.after["report"]["version"], e.after["report"]["summary"])
               for e in state.audit if e.action.startswith("report.")}
    asked = {e.entity_id for e in state.entries("completion.requested")}
    decided = {(e.entity_id, e.action) for e in state.audit if e.action.startswith("verification.")}
    wrong = []
    for record in state.idempotency:
        body = orjson.loads(record.body)
        if {"period", "version", "summary"} <= body.keys():
            ok = (body["id"], body["version"], body["summary"]) in reports
        elif {"scope", "summary"} <= body.keys():
            ok = body["id"] in asked and body["id"] in state.completions
        elif "request" in body:
            ok = (body["request"]["id"], f"verification.{body['request']['status']}") in decided
        else:
            continue
        if not ok:
            wrong.append(f"idempotency record {record.id} answers for a change not stored: {body}")
    return wrong


def events_for_changes(state: State) -> list[str]:
    """One event per audited change, in its transaction; a delivery per event and subscriber."""
    def of(type: str, *path: str) -> Counter:
        found = Counter()
        for e in state.events:
            if e.type == type:
                value: Any = e.payload
                for p in path:
                    value = value[p]
                found[value] += 1
        return found
    wrong = []
    audited = Counter((e.entity_id, e.after["report"]["summary"]) for e in state.audit
                      if e.action.startswith("report."))
    sent = Counter((e.payload["report"]["id"], e.payload["report"]["summary"])
                   for e in state.events if e.type == "report.submitted")
    if audited != sent:
        wrong.append(f"report events differ from the audit: {(audited - sent) + (sent - audited)}")
    asked = Counter(e.entity_id for e in state.entries("completion.requested"))
    if asked != of("completion.requested", "completion", "id"):
        wrong.append("completion events differ from completion audit entries")
    returned = Counter(e.entity_id for e in state.entries("verification.returned"))
    if returned != of("task.returned", "completion", "id"):
        wrong.append("task.returned events differ from returns in the audit log")
    approved = {e.entity_id for e in state.entries("verification.approved")
                if e.after.get("comment") != SETTLED}
    if approved != set(of("task.closed", "completion", "id")):
        wrong.append("task.closed events differ from approvals in the audit log")
    made = Counter((d.event_id, d.webhook_id) for d in state.deliveries)
    for e in state.events:
        for hook in state.webhooks:
            if made[(e.id, hook.id)] != (1 if hook.active and wants(hook.events, e.type) else 0):
                wrong.append(f"event {e.id} has {made[(e.id, hook.id)]} deliveries to {hook.id}")
    return wrong


def everything(state: State) -> list[str]:
    return [*reports_belong(state), *report_histories(state), *obligation_histories(state),
            *closed_are_verified(state), *idempotent_answers_applied(state),
            *events_for_changes(state)]
