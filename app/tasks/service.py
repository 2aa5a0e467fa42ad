"""One task in full (GET /tasks/{id}) and the office's edit of it (PATCH /tasks/{id}).

A unit sees a task it is on, or the parent of a clause it is on (access.can_see); it sees its
own obligation only, unless it leads the task, and then it sees every obligation and the
roll-up. The ETag is the task's version; a PATCH is a compare-and-set on that version.
"""

from __future__ import annotations

import hashlib
from datetime import date
from statistics import fmean
from typing import Any

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import audit
from app.auth.principal import Principal
from app.errors import InvalidInput, InvalidTransition, NotFound, PreconditionFailed
from app.http import check_if_match, etag
from app.models import (
    Assignment,
    AssignmentStatus,
    Document,
    Milestone,
    Role,
    Task,
    TaskStatus,
    Unit,
    utcnow,
)
from app.tasks import access, obligations
from app.tasks.schemas import (
    AssignmentView,
    DocumentBrief,
    GroupLabel,
    MilestoneView,
    Rollup,
    SubtaskBrief,
    TaskDetail,
    TaskDetailNotes,
    TaskRef,
    TaskUpdate,
    UnitBrief,
)

_Parent = aliased(Task)
_Group = aliased(Unit)
_EDITABLE = ("title", "deadline", "deadline_text", "deadline_source", "ongoing")


async def detail(session: AsyncSession, principal: Principal, task_id: int, *, as_of: date,
                 if_none_match: str | None = None) -> tuple[TaskDetail | None, str]:
    """(the view, its ETag); the view is None when If-None-Match names the current ETag."""
    if principal.unit_id is not None and not await access.can_see(session, principal, task_id):
        raise NotFound(f"No task {task_id}.")
    task = await _task(session, task_id)
    view = await _view(session, principal, task, as_of)
    # The view also shows obligations, reports and overdue flags that change without the task's
    # own version moving; its tag names both, and If-Match on writes checks the task part.
    digest = hashlib.sha1(view.model_dump_json().encode()).hexdigest()[:12]
    tag = "W/" + etag("task", task_id, task.version)[:-1] + f'-{digest}"'
    return (None if _matches(if_none_match, tag.removeprefix("W/")) else view), tag


async def _task(session: AsyncSession, task_id: int) -> Any:
    task = (await session.execute(
        select(Task.id, Task.document_id, Task.parent_id, Task.number, Task.kind, Task.title,
               Task.text, Task.section_path, Task.deadline, Task.deadline_text, Task.deadline_source,
               Task.ongoing, Task.status, Task.closed_at, Task.version, Task.source, Task.detail,
               Document.title.label("doc_title"), Document.doc_number, Document.issuer,
               _Parent.number.label("parent_number"), _Parent.title.label("parent_title"))
        .join(Document, Document.id == Task.document_id)
        .outerjoin(_Parent, _Parent.id == Task.parent_id)
        .where(Task.id == task_id))).first()
    if task is None:
        raise NotFound(f"No task {task_id}.")
    return task


async def _view(session: AsyncSession, principal: Principal, task: Any, as_of: date) -> TaskDetail:
    subtasks = (await session.execute(
        select(Task.id, Task.number, Task.title, Task.status, Task.deadline)
        .where(Task.parent_id == task.id).order_by(Task.ordinal))).all()
    rows = await _obligations(session, [task.id, *(s.id for s in subtasks)])
    milestones = (await session.execute(
        select(Milestone.id, Milestone.text, Milestone.due, Milestone.due_text, Milestone.metric,
               Milestone.target, Milestone.target_stretch, Milestone.optional, Milestone.source)
        .where(Milestone.task_id == task.id).order_by(Milestone.ordinal, Milestone.id))).all()
    own = [r for r in rows if r.task_id == task.id]
    in_force = [r for r in rows if r.status not in (AssignmentStatus.group, AssignmentStatus.removed)]
    leads = principal.unit_id is None or any(
        r.unit_id == principal.unit_id and r.role == Role.lead for r in in_force)
    shown = [r for r in own if r.status != AssignmentStatus.group
             and (leads or r.unit_id == principal.unit_id)]
    return TaskDetail(
        **{k: getattr(task, k) for k in (
            "id", "document_id", "parent_id", "number", "kind", "title", "text", "section_path",
            "deadline", "deadline_text", "deadline_source", "ongoing", "status", "closed_at",
            "version", "source")},
        document=DocumentBrief(id=task.document_id, title=task.doc_title,
                               doc_number=task.doc_number, issuer=task.issuer),
        parent=TaskRef(id=task.parent_id, number=task.parent_number, title=task.parent_title)
        if task.parent_id is not None else None,
        subtasks=[SubtaskBrief.model_validate(s, from_attributes=True) for s in subtasks],
        milestones=[MilestoneView.model_validate(m, from_attributes=True) for m in milestones],
        detail=TaskDetailNotes.model_validate(task.detail or {}),
        assignments=[_assignment(r, as_of) for r in shown],
        groups=[GroupLabel(id=r.unit_id, name=r.unit_name, short_name=r.short_name, role=r.role)
                for r in own if r.status == AssignmentStatus.group],
        rollup=_rollup(in_force, as_of) if leads else None,
        as_of=as_of,
    )


async def _obligations(session: AsyncSession, task_ids: list[int]) -> list[Any]:
    rows = (await session.execute(
        select(Assignment.id, Assignment.task_id, Assignment.unit_id, Assignment.role,
               Assignment.status, Assignment.origin, Assignment.own_deadline,
               Assignment.extended_to, Assignment.effective_deadline, Assignment.progress,
               Assignment.last_period, Assignment.version, Unit.name.label("unit_name"),
               Unit.short_name, _Group.name.label("group_name"))
        .join(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(_Group, _Group.id == Assignment.via_group_id)
        .where(Assignment.task_id.in_(task_ids)))).all()
    return sorted(rows, key=lambda r: (obligations.ROLE_RANK[Role(r.role)], r.unit_id))


def _assignment(r: Any, as_of: date) -> AssignmentView:
    late = obligations.is_overdue(AssignmentStatus(r.status), r.effective_deadline, as_of)
    return AssignmentView(
        id=r.id, unit=UnitBrief(id=r.unit_id, name=r.unit_name, short_name=r.short_name),
        role=r.role, status=r.status, via_group=r.group_name, origin=r.origin,
        own_deadline=r.own_deadline, extended_to=r.extended_to,
        effective_deadline=r.effective_deadline, overdue=late,
        days_overdue=obligations.days_overdue(r.effective_deadline, as_of) if late else 0,
        progress=r.progress, last_period=r.last_period,
        etag=etag("assignment", r.id, r.version))


def _rollup(rows: list[Any], as_of: date) -> Rollup:
    reported = [r.progress for r in rows if r.progress is not None]
    return Rollup(
        obligations=len(rows),
        open=sum(1 for r in rows if AssignmentStatus(r.status) in obligations.OPEN),
        closed=sum(1 for r in rows if r.status == AssignmentStatus.closed),
        overdue=sum(1 for r in rows if obligations.is_overdue(
            AssignmentStatus(r.status), r.effective_deadline, as_of)),
        progress=round(fmean(reported), 1) if reported else None)


def _matches(if_none_match: str | None, tag: str) -> bool:
    # If-None-Match compares weakly: W/"x" matches "x".
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or tag in tags


async def update_task(session: AsyncSession, principal: Principal, request: Request, task_id: int,
                      body: TaskUpdate, *, as_of: date) -> tuple[TaskDetail, str]:
    """The office edits a task's title or deadline. A deadline change reaches every obligation
    that has no deadline of its own."""
    current = (await session.execute(
        select(Task.version, Task.status, *(getattr(Task, k) for k in _EDITABLE))
        .where(Task.id == task_id))).first()
    if current is None:
        raise NotFound(f"No task {task_id}.")
    check_if_match(request.headers.get("if-match"), etag("task", task_id, current.version))
    if current.status == TaskStatus.withdrawn:
        raise InvalidTransition("The task was withdrawn by a revision of its document; it cannot "
                                "be edited.", current=TaskStatus.withdrawn.value)
    asked = body.model_dump(exclude_unset=True)
    if "title" in asked and asked["title"] is None:
        raise InvalidInput("title cannot be null: leave it out to keep the current title.")
    values = {k: v for k, v in asked.items() if getattr(current, k) != v}
    if "deadline" in values:
        values["deadline_source"] = "office" if values["deadline"] is not None else "none"
        if values["deadline"] is not None:
            values["ongoing"] = False
    if values:
        done = await session.execute(
            update(Task).where(Task.id == task_id, Task.version == current.version)
            .values(**values, version=current.version + 1, updated_at=utcnow()))
        if done.rowcount == 0:
            now = (await session.execute(select(Task.version).where(Task.id == task_id))).scalar_one()
            raise PreconditionFailed("The task changed while this edit was applied: fetch it again "
                                     "and resend.", current_etag=etag("task", task_id, now))
        if "deadline" in values:
            await obligations.set_task_deadline(session, task_id, values["deadline"])
        await audit.record(session, principal, "task.updated", "task", task_id, task_id=task_id,
                           before={k: getattr(current, k) for k in values}, after=values)
    task = await _task(session, task_id)
    return await _view(session, principal, task, as_of), etag("task", task_id, task.version)
