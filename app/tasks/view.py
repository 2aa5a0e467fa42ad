"""One task in full (GET /tasks/{id}), as JSON, in one round trip.

A unit sees a task it is on, or the parent of a clause it is on; it sees its own obligation
only, unless it leads the task, and then it sees every obligation and the roll-up. The task
comes with its clauses, obligations and milestones as JSON arrays built by the database, and
the answer is built as plain data and serialized once: this is the most read resource there is.
The shape is TaskDetail (app/tasks/schemas.py), which the OpenAPI publishes and the tests check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from statistics import fmean
from typing import Any

import orjson
from sqlalchemy import Integer, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import sqljson
from app.auth.principal import TOKEN_LIVE, Principal
from app.errors import NotFound
from app.http import etag
from app.models import Assignment, AssignmentStatus, Document, Milestone, Role, Task, Unit
from app.query import Query, fetch_one
from app.tasks import obligations

_Parent, _Sub, _Group = aliased(Task), aliased(Task), aliased(Unit)
_VIEWER = bindparam("viewer", type_=Integer)
# The id as a bind, not Task.id: a correlated IN would hide the index from PostgreSQL.
_TASK = bindparam("task_id", type_=Integer)

STATEMENT = (
    select(Task.id, Task.document_id, Task.parent_id, Task.number, Task.kind, Task.title,
           Task.text, Task.section_path, Task.deadline, Task.deadline_text, Task.deadline_source,
           Task.ongoing, Task.status, Task.closed_at, Task.version, Task.source, Task.detail,
           Document.title.label("doc_title"), Document.doc_number, Document.issuer,
           TOKEN_LIVE.label("token_live"),
           _Parent.number.label("parent_number"), _Parent.title.label("parent_title"),
           # A unit sees a task it is on, and the parent of a clause it is on; the office all.
           or_(_VIEWER.is_(None), exists().where(
               Assignment.unit_id == _VIEWER, Assignment.status != AssignmentStatus.group,
               obligations.on_task(_TASK))).label("visible"),
           sqljson.rows(select(_Sub).where(_Sub.parent_id == Task.id), Task,
                        id=_Sub.id, number=_Sub.number, title=_Sub.title, status=_Sub.status,
                        deadline=_Sub.deadline, ordinal=_Sub.ordinal).label("subtasks"),
           sqljson.rows(
               select(Assignment).join(Unit, Unit.id == Assignment.unit_id)
               .outerjoin(_Group, _Group.id == Assignment.via_group_id)
               .where(obligations.on_task(_TASK)), Task,
               id=Assignment.id, task_id=Assignment.task_id, unit_id=Assignment.unit_id,
               role=Assignment.role, status=Assignment.status, origin=Assignment.origin,
               own_deadline=Assignment.own_deadline, extended_to=Assignment.extended_to,
               effective_deadline=Assignment.effective_deadline, progress=Assignment.progress,
               last_period=Assignment.last_period, version=Assignment.version,
               unit_name=Unit.name, short_name=Unit.short_name,
               group_name=_Group.name).label("obligations"),
           sqljson.rows(select(Milestone).where(Milestone.task_id == Task.id), Task,
                        id=Milestone.id, ordinal=Milestone.ordinal, text=Milestone.text,
                        due=Milestone.due, due_text=Milestone.due_text, metric=Milestone.metric,
                        target=Milestone.target, target_stretch=Milestone.target_stretch,
                        optional=Milestone.optional,
                        source=sqljson.json_value(Milestone.source)).label("milestones"))
    .join(Document, Document.id == Task.document_id)
    .outerjoin(_Parent, _Parent.id == Task.parent_id)
    .where(Task.id == _TASK))
_VIEW = Query(STATEMENT)


async def read(session: AsyncSession, principal: Principal, task_id: int, *, as_of: date,
               if_none_match: str | None = None) -> tuple[bytes | None, str]:
    """(the view as JSON, its ETag); the body is None when If-None-Match names the current ETag."""
    row = await fetch_one(session, _VIEW, task_id=task_id, viewer=principal.unit_id,
                          **principal.live_binds())
    if row is None:
        raise NotFound(f"No task {task_id}.")
    principal.settle(row["token_live"])
    if not row["visible"]:
        raise NotFound(f"No task {task_id}.")
    body, tag = render(principal, row, as_of)
    return (None if _matches(if_none_match, tag.removeprefix("W/")) else body), tag


async def read_in(session: AsyncSession, principal: Principal, task_id: int,
                  as_of: date) -> tuple[bytes, str]:
    """The view inside the request's own transaction, as a write just left it, with the task's
    own ETag: the one a next If-Match names."""
    row = (await session.execute(STATEMENT, {"task_id": task_id, "viewer": principal.unit_id,
                                             **principal.live_binds()})).mappings().first()
    if row is None:
        raise NotFound(f"No task {task_id}.")
    return render(principal, row, as_of)[0], etag("task", task_id, row["version"])


def render(principal: Principal, task: Mapping[str, Any], as_of: date) -> tuple[bytes, str]:
    # Statuses and roles arrive as strings, which compare and hash as the StrEnums they are.
    rank = obligations.ROLE_RANK
    rows = sorted(task["obligations"], key=lambda r: (rank[r["role"]], r["unit_id"]))
    for r in rows:
        # Dates inside built JSON arrive as ISO strings.
        r["effective_deadline"] = _day(r["effective_deadline"])
    own = [r for r in rows if r["task_id"] == task["id"]]
    in_force = [r for r in rows if r["status"] not in obligations.NOT_OWED]
    leads = principal.unit_id is None or any(
        r["unit_id"] == principal.unit_id and r["role"] == Role.lead for r in in_force)
    view = {
        **{k: task[k] for k in (
            "id", "document_id", "parent_id", "number", "kind", "title", "text", "section_path",
            "deadline", "deadline_text", "deadline_source", "ongoing", "status", "closed_at",
            "version")},
        "source": _source(task["source"]),
        "document": {"id": task["document_id"], "title": task["doc_title"],
                     "doc_number": task["doc_number"], "issuer": task["issuer"]},
        "parent": {"id": task["parent_id"], "number": task["parent_number"],
                   "title": task["parent_title"]} if task["parent_id"] is not None else None,
        "subtasks": [{"id": s["id"], "number": s["number"], "title": s["title"],
                      "status": s["status"], "deadline": s["deadline"]}
                     for s in sorted(task["subtasks"], key=lambda s: s["ordinal"])],
        "milestones": [_milestone(m) for m in sorted(task["milestones"],
                                                     key=lambda m: (m["ordinal"], m["id"]))],
        "detail": {"units_text": None, "leaders": [], **(task["detail"] or {})},
        "assignments": [_assignment(r, as_of) for r in own if r["status"] != AssignmentStatus.group
                        and (leads or r["unit_id"] == principal.unit_id)],
        "groups": [{"id": r["unit_id"], "name": r["unit_name"], "short_name": r["short_name"],
                    "role": r["role"]} for r in own if r["status"] == AssignmentStatus.group],
        "rollup": _rollup(in_force, as_of) if leads else None,
        "as_of": as_of,
    }
    body = orjson.dumps(view, option=orjson.OPT_UTC_Z)
    # The view also shows obligations, reports and overdue flags that change without the task's
    # own version moving; its tag names both, and If-Match on writes checks the task part.
    tag = etag("task", task["id"], task["version"])[:-1] + f'-{hashlib.sha1(body).hexdigest()[:12]}"'
    return body, "W/" + tag


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _source(span: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {k: span[k] for k in ("line", "end_line", "start", "end", "text")}


def _milestone(m: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": m["id"], "text": m["text"], "due": m["due"], "due_text": m["due_text"],
            "metric": m["metric"], "target": m["target"], "target_stretch": m["target_stretch"],
            # SQLite's JSON has no booleans: 0 and 1 come back.
            "optional": bool(m["optional"]), "source": _source(m["source"])}


def _assignment(r: Mapping[str, Any], as_of: date) -> dict[str, Any]:
    late = obligations.is_overdue(r["status"], r["effective_deadline"], as_of)
    return {
        "id": r["id"],
        "unit": {"id": r["unit_id"], "name": r["unit_name"], "short_name": r["short_name"]},
        "role": r["role"], "status": r["status"], "via_group": r["group_name"],
        "origin": r["origin"], "own_deadline": r["own_deadline"], "extended_to": r["extended_to"],
        "effective_deadline": r["effective_deadline"], "overdue": late,
        "days_overdue": obligations.days_overdue(r["effective_deadline"], as_of) if late else 0,
        "progress": r["progress"], "last_period": r["last_period"],
        "etag": etag("assignment", r["id"], r["version"])}


def _rollup(rows: list[Mapping[str, Any]], as_of: date) -> dict[str, Any]:
    reported = [r["progress"] for r in rows if r["progress"] is not None]
    return {
        "obligations": len(rows),
        "open": sum(1 for r in rows if r["status"] in obligations.OPEN),
        "closed": sum(1 for r in rows if r["status"] == AssignmentStatus.closed),
        "overdue": sum(1 for r in rows if obligations.is_overdue(
            r["status"], r["effective_deadline"], as_of)),
        "progress": round(fmean(reported), 1) if reported else None}


def _matches(if_none_match: str | None, tag: str) -> bool:
    # If-None-Match compares weakly: W/"x" matches "x".
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or tag in tags
