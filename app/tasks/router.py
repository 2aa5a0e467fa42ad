"""Routes of the tasks domain: the task list, one task, the office's edit, and the overdue
questions. Each handler makes one service call."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request, Response

from app.auth.principal import Admin, CurrentPrincipal
from app.db import SessionDep
from app.http import AsOf, Day, as_of_or_today
from app.models import Role
from app.pagination import Cursor, Limit, Page
from app.problems import responses
from app.routing import api_router
from app.tasks import overdue, queries, service, view
from app.tasks.schemas import OverdueCountPage, OverduePage, TaskDetail, TaskSummary, TaskUpdate

router = api_router(tags=["tasks"])

UnitRef = Annotated[str | None, Query(
    max_length=128, description="unit id, or name/alias as written; a unit token lists as its own "
    "unit, and naming another is 403")]
JurisdictionRef = Annotated[str | None, Query(
    max_length=64, description="jurisdiction name or id, within which a unit name is resolved")]


@router.get("/tasks", response_model=Page[TaskSummary], responses=responses(404))
async def list_tasks(
    request: Request, session: SessionDep, principal: CurrentPrincipal,
    unit: UnitRef = None,
    jurisdiction: Annotated[str | None, Query(
        max_length=64, description="jurisdiction name or id: resolves `unit`; without a unit, "
        "keeps the tasks of that jurisdiction's documents")] = None,
    role: Annotated[Role | None, Query(description="that unit's role (needs a unit)")] = None,
    status: Annotated[str | None, Query(
        max_length=24, description="with a unit: its obligation's status (assigned, accepted, "
        "in_progress, completion_requested, returned, closed, removed); else the task's "
        "(open, closed, withdrawn)")] = None,
    document: int | None = None,
    kind: Literal["task", "project"] | None = None,
    parent: Annotated[int | None, Query(description="list the clauses of this task")] = None,
    deadline_from: Annotated[Day | None, Query(
        description="with a unit: its effective deadline; else the task's")] = None,
    deadline_to: Day | None = None,
    overdue: Annotated[bool | None, Query(
        description="with a unit: its own obligation; else any open obligation on the task or "
        "its clauses")] = None,
    as_of: AsOf = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the title or body")] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[TaskSummary]:
    """Tasks in reading order, filtered; with a unit in play each carries its obligation."""
    items, after = await queries.list_tasks(
        session, principal, queries.TaskFilter(
            unit=unit, jurisdiction=jurisdiction, role=role, status=status, document=document,
            kind=kind, parent=parent, deadline_from=deadline_from, deadline_to=deadline_to,
            overdue=overdue, q=q),
        as_of=as_of_or_today(request, as_of), limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=after)


@router.get("/tasks/{task_id}", response_model=TaskDetail,
            responses={**responses(404), 304: {"description": "not modified (If-None-Match)"}})
async def get_task(task_id: int, request: Request, session: SessionDep,
                   principal: CurrentPrincipal, as_of: AsOf = None) -> TaskDetail | Response:
    """One task in full; a unit sees its own obligation, the lead unit all and the roll-up."""
    body, tag = await view.read(session, principal, task_id, as_of=as_of_or_today(request, as_of),
                                if_none_match=request.headers.get("if-none-match"))
    headers = {"ETag": tag, "Vary": "Authorization"}
    if body is None:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.patch("/tasks/{task_id}", response_model=TaskDetail, responses=responses(404, 409, 412))
async def update_task(task_id: int, body: TaskUpdate, request: Request,
                      session: SessionDep, principal: Admin, as_of: AsOf = None) -> Response:
    """The office edits a task's title or deadline (If-Match honoured); obligations follow."""
    content, tag = await service.update_task(session, principal, request, task_id, body,
                                             as_of=as_of_or_today(request, as_of))
    return Response(content, media_type="application/json", headers={"ETag": tag})


@router.get("/units/{unit}/overdue", response_model=OverduePage, tags=["overdue"],
            responses=responses(404))
async def unit_overdue(unit: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
                       as_of: AsOf = None, jurisdiction: JurisdictionRef = None,
                       role: Role | None = None, limit: Limit = 50,
                       cursor: Cursor = None) -> Response:
    """A unit's overdue obligations, oldest first; a unit token may ask for its own only."""
    day = as_of_or_today(request, as_of)
    body = await overdue.of_unit(session, principal, unit, jurisdiction=jurisdiction, as_of=day,
                                 role=role, limit=limit, cursor=cursor)
    return Response(body, media_type="application/json")


@router.get("/overdue", response_model=OverdueCountPage, tags=["overdue"], responses=responses(404))
async def overdue_counts(request: Request, session: SessionDep, principal: CurrentPrincipal,
                         as_of: AsOf = None,
                         jurisdiction: Annotated[str | None, Query(
                             max_length=64, description="keep the units of this jurisdiction "
                             "(name or id)")] = None,
                         limit: Limit = 50, cursor: Cursor = None) -> OverdueCountPage:
    """Overdue obligations counted per unit, most first. A unit token sees its own row only."""
    day = as_of_or_today(request, as_of)
    items, after = await overdue.per_unit(session, principal, jurisdiction=jurisdiction, as_of=day,
                                          limit=limit, cursor=cursor)
    return OverdueCountPage(items=items, next_cursor=after, as_of=day)
