"""The workflow on a task: 交办 (assignments), 签收 (acceptance), 月调度 (reports and periods),
延期 (extensions), 销号 (completion and verification), 责任调整 (responsibility changes), and the
audit log. Every answer about one obligation carries its ETag; If-Match is honoured on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request, Response

from app.auth.principal import Admin, CurrentPrincipal, Writer
from app.db import SessionDep
from app.http import today
from app.models import CompletionRequest, ExtensionRequest, RequestStatus, ResponsibilityChange
from app.pagination import Cursor, Limit, Page
from app.problems import responses
from app.routing import api_router
from app.workflow import assignments, audit_log, completion, reports, requests
from app.workflow.schemas import (
    Acting,
    AssignmentCreate,
    AssignmentCreated,
    AssignmentOut,
    AssignmentUpdate,
    AuditOut,
    ChangeCreate,
    ChangeDecided,
    ChangeOut,
    CompletionCreate,
    CompletionOut,
    Decision,
    ExtensionCreate,
    ExtensionDecided,
    ExtensionOut,
    PeriodOut,
    ReportCreate,
    ReportOut,
    Verification,
    VerificationOut,
)

router = api_router(tags=["workflow"])

IfMatch = Annotated[str | None, Header(alias="If-Match", description="the ETag you read; 412 if "
                                                                        "the obligation changed since")]
Status = Annotated[RequestStatus | None, Query(description="pending, approved, rejected or returned")]
TaskFilter = Annotated[int | None, Query(description="task id")]
UnitFilter = Annotated[str | None, Query(description="unit id, or name/alias as the documents write it")]


def _tagged(response: Response, out: AssignmentOut) -> AssignmentOut:
    response.headers["ETag"] = out.etag
    return out


@router.post("/tasks/{task_id}/assignments", status_code=201, response_model=AssignmentCreated,
             responses=responses(404, 409))
async def create_assignment(task_id: int, body: AssignmentCreate, session: SessionDep,
                            principal: Admin, response: Response) -> AssignmentCreated:
    """交办: put a unit (or a group and its members) on a task."""
    out = await assignments.assign(session, principal, task_id, body)
    response.headers["Location"] = f"/api/v1/tasks/{task_id}/assignments/{out.id}"
    return _tagged(response, out)


@router.get("/tasks/{task_id}/assignments", response_model=Page[AssignmentOut],
            responses=responses(404))
async def list_assignments(task_id: int, session: SessionDep, principal: CurrentPrincipal,
                           limit: Limit = 100, cursor: Cursor = None) -> Page[AssignmentOut]:
    """The obligations on a task; a unit token sees its own only."""
    items, next_cursor = await assignments.listing(session, principal, task_id, limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/tasks/{task_id}/assignments/{assignment_id}", response_model=AssignmentOut,
            responses=responses(404))
async def get_assignment(task_id: int, assignment_id: int, session: SessionDep,
                         principal: CurrentPrincipal, response: Response) -> AssignmentOut:
    """One obligation, with its ETag."""
    out = await assignments.one(session, principal, task_id, assignment_id)
    return _tagged(response, out)


@router.patch("/tasks/{task_id}/assignments/{assignment_id}", response_model=AssignmentOut,
              responses=responses(404, 409, 412))
async def update_assignment(task_id: int, assignment_id: int, body: AssignmentUpdate,
                            session: SessionDep, principal: Admin, response: Response,
                            if_match: IfMatch = None) -> AssignmentOut:
    """Change a unit's role or its own deadline (null clears it)."""
    out = await assignments.update(session, principal, task_id, assignment_id, body, if_match)
    return _tagged(response, out)


@router.delete("/tasks/{task_id}/assignments/{assignment_id}", status_code=204,
               responses=responses(404, 409, 412))
async def remove_assignment(task_id: int, assignment_id: int, session: SessionDep,
                            principal: Admin, if_match: IfMatch = None) -> Response:
    """Take a unit off a task; its reports and history stay."""
    await assignments.remove(session, principal, task_id, assignment_id, if_match)
    return Response(status_code=204)


@router.post("/tasks/{task_id}/acceptance", response_model=AssignmentOut,
             responses=responses(404, 409, 412))
async def accept(task_id: int, body: Acting, session: SessionDep, principal: Writer,
                 response: Response, if_match: IfMatch = None) -> AssignmentOut:
    """签收: the unit accepts its obligation."""
    out = await assignments.accept(session, principal, task_id, body.unit, body.jurisdiction, if_match)
    return _tagged(response, out)


@router.post("/tasks/{task_id}/reports", status_code=201, response_model=ReportOut,
             responses={200: {"model": ReportOut, "description": "the period's report, corrected"},
                        **responses(404, 409, 412)})
async def file_report(task_id: int, body: ReportCreate, request: Request, session: SessionDep,
                      principal: Writer, if_match: IfMatch = None) -> Response:
    """月调度: file the unit's report for a period (201), or correct it while the period is open (200)."""
    content, report_id, created = await reports.file(session, principal, task_id, body, if_match,
                                                     today(request),
                                                     request.app.state.settings.report_due_day)
    return Response(content, status_code=201 if created else 200, media_type="application/json",
                    headers={"Location": f"/api/v1/reports/{report_id}"})


@router.get("/tasks/{task_id}/reports", response_model=Page[ReportOut], responses=responses(404))
async def list_reports(task_id: int, session: SessionDep, principal: CurrentPrincipal,
                       unit: UnitFilter = None, period: str | None = None,
                       limit: Limit = 100, cursor: Cursor = None) -> Page[ReportOut]:
    """The reports on a task; a unit token sees its own only."""
    items, next_cursor = await reports.listing(session, principal, task_id, unit, period, limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/reports/{report_id}", response_model=ReportOut, responses=responses(404))
async def get_report(report_id: int, session: SessionDep, principal: CurrentPrincipal) -> ReportOut:
    """One report."""
    return await reports.one(session, principal, report_id)


@router.post("/periods/{period}/close", response_model=PeriodOut, responses=responses(409))
async def close_period(period: str, request: Request, session: SessionDep,
                       principal: Admin) -> PeriodOut:
    """Close a reporting period: its reports can no longer be filed or corrected."""
    return await reports.close_period(session, principal, period, today(request),
                                      request.app.state.settings.report_due_day)


@router.get("/periods/{period}", response_model=PeriodOut)
async def get_period(period: str, request: Request, session: SessionDep,
                     principal: CurrentPrincipal) -> PeriodOut:
    """Whether a reporting period (YYYY-MM) is open, and its due day."""
    return await reports.period_state(session, period, request.app.state.settings.report_due_day)


@router.post("/tasks/{task_id}/extensions", status_code=201, response_model=ExtensionOut,
             responses=responses(404, 409, 412))
async def ask_extension(task_id: int, body: ExtensionCreate, session: SessionDep,
                        principal: Writer, if_match: IfMatch = None) -> ExtensionOut:
    """延期: ask the office for a later deadline on the unit's obligation."""
    return await requests.ask_extension(session, principal, task_id, body, if_match)


@router.get("/extensions", response_model=Page[ExtensionOut])
async def list_extensions(session: SessionDep, principal: CurrentPrincipal, status: Status = None,
                          task: TaskFilter = None, unit: UnitFilter = None, limit: Limit = 100,
                          cursor: Cursor = None) -> Page[ExtensionOut]:
    """Extension requests; a unit token sees its own only."""
    rows, next_cursor = await requests.listing(session, principal, ExtensionRequest, status=status,
                                               task=task, unit=unit, limit=limit, cursor=cursor)
    return Page(items=[ExtensionOut.model_validate(r, from_attributes=True) for r in rows],
                next_cursor=next_cursor)


@router.get("/extensions/{extension_id}", response_model=ExtensionOut, responses=responses(404))
async def get_extension(extension_id: int, session: SessionDep,
                        principal: CurrentPrincipal) -> ExtensionOut:
    """One extension request."""
    row = await requests.one(session, principal, ExtensionRequest, extension_id, "extension request")
    return ExtensionOut.model_validate(row, from_attributes=True)


@router.post("/extensions/{extension_id}/decision", response_model=ExtensionDecided,
             responses=responses(404, 409))
async def decide_extension(extension_id: int, body: Decision, session: SessionDep,
                           principal: Admin) -> ExtensionDecided:
    """Approve (the deadline moves) or reject an extension request."""
    return await requests.decide_extension(session, principal, extension_id, body)


@router.post("/tasks/{task_id}/completion", status_code=201, response_model=CompletionOut,
             responses=responses(404, 409, 412))
async def ask_completion(task_id: int, body: CompletionCreate, session: SessionDep,
                         principal: Writer, if_match: IfMatch = None) -> CompletionOut:
    """Ask to close: a lead unit for the whole task, any other unit for its own part."""
    return await completion.ask(session, principal, task_id, body, if_match)


@router.get("/completion-requests", response_model=Page[CompletionOut])
async def list_completions(session: SessionDep, principal: CurrentPrincipal, status: Status = None,
                           task: TaskFilter = None, unit: UnitFilter = None, limit: Limit = 100,
                           cursor: Cursor = None) -> Page[CompletionOut]:
    """Completion requests; a unit token sees its own only."""
    rows, next_cursor = await requests.listing(session, principal, CompletionRequest, status=status,
                                               task=task, unit=unit, limit=limit, cursor=cursor)
    return Page(items=[CompletionOut.model_validate(r, from_attributes=True) for r in rows],
                next_cursor=next_cursor)


@router.post("/tasks/{task_id}/verification", response_model=VerificationOut,
             responses=responses(404, 409))
async def verify(task_id: int, body: Verification, session: SessionDep,
                 principal: Admin) -> VerificationOut:
    """销号 or return: decide the pending completion request of a task (or, with unit, of one part)."""
    return await completion.verify(session, principal, task_id, body)


@router.post("/tasks/{task_id}/responsibility-changes", status_code=201, response_model=ChangeOut,
             responses=responses(404, 409, 412))
async def ask_change(task_id: int, body: ChangeCreate, session: SessionDep, principal: Writer,
                     if_match: IfMatch = None) -> ChangeOut:
    """责任调整: ask to be taken off a task, or to hand the obligation to another unit."""
    return await requests.ask_change(session, principal, task_id, body, if_match)


@router.get("/responsibility-changes", response_model=Page[ChangeOut])
async def list_changes(session: SessionDep, principal: CurrentPrincipal, status: Status = None,
                       task: TaskFilter = None, unit: UnitFilter = None, limit: Limit = 100,
                       cursor: Cursor = None) -> Page[ChangeOut]:
    """Responsibility changes; a unit token sees its own only."""
    rows, next_cursor = await requests.listing(session, principal, ResponsibilityChange,
                                               status=status, task=task, unit=unit, limit=limit,
                                               cursor=cursor)
    return Page(items=[ChangeOut.model_validate(r, from_attributes=True) for r in rows],
                next_cursor=next_cursor)


@router.get("/responsibility-changes/{change_id}", response_model=ChangeOut, responses=responses(404))
async def get_change(change_id: int, session: SessionDep, principal: CurrentPrincipal) -> ChangeOut:
    """One responsibility change."""
    row = await requests.one(session, principal, ResponsibilityChange, change_id,
                             "responsibility change")
    return ChangeOut.model_validate(row, from_attributes=True)


@router.post("/responsibility-changes/{change_id}/decision", response_model=ChangeDecided,
             responses=responses(404, 409))
async def decide_change(change_id: int, body: Decision, session: SessionDep,
                        principal: Admin) -> ChangeDecided:
    """Approve or reject a responsibility change."""
    return await requests.decide_change(session, principal, change_id, body)


@router.get("/audit", response_model=Page[AuditOut])
async def read_audit(session: SessionDep, principal: Admin, task: TaskFilter = None,
                     unit: UnitFilter = None, action: str | None = None, entity: str | None = None,
                     limit: Limit = 100, cursor: Cursor = None) -> Page[AuditOut]:
    """The audit log, oldest first: who changed what, when, with before and after."""
    items, next_cursor = await audit_log.entries(session, task=task, unit=unit, action=action,
                                                 entity=entity, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)
