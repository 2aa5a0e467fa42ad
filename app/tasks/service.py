"""The office's edit of a task (PATCH /tasks/{id}): a compare-and-set on the task's version
(If-Match), and a new deadline carried to every obligation that has none of its own."""

from __future__ import annotations

from datetime import date

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.errors import InvalidInput, InvalidTransition, NotFound, PreconditionFailed
from app.http import check_if_match, etag
from app.models import Task, TaskStatus, utcnow
from app.tasks import obligations, view
from app.tasks.schemas import TaskUpdate

_EDITABLE = ("title", "deadline", "deadline_text", "deadline_source", "ongoing")


async def update_task(session: AsyncSession, principal: Principal, request: Request, task_id: int,
                      body: TaskUpdate, *, as_of: date) -> tuple[bytes, str]:
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
    return await view.read_in(session, principal, task_id, as_of)
