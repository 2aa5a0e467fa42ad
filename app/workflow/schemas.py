"""What the workflow routes take and answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.http import Day, Month
from app.models import AssignmentStatus, RequestStatus, Role

UnitRef = Field(None, description="unit id, or name/alias as the documents write it; a unit token "
                                  "acts for its own unit and may omit it")
Jurisdiction = Field(None, description="resolves a unit name within a jurisdiction")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignmentCreate(_Body):
    unit: str = Field(description="unit id, or name/alias as the documents write it")
    role: Role
    deadline: Day | None = Field(None, description="this unit's own deadline (else the task's)")
    jurisdiction: str | None = Jurisdiction


class AssignmentUpdate(_Body):
    role: Role | None = None
    deadline: Day | None = Field(None, description="this unit's own deadline; null clears it. "
                                                    "It replaces an earlier approved extension.")


class UnitBrief(BaseModel):
    id: int
    name: str
    short_name: str


class AssignmentOut(BaseModel):
    id: int
    task_id: int
    unit: UnitBrief
    role: Role
    status: AssignmentStatus
    via_group_id: int | None
    origin: str
    own_deadline: date | None
    extended_to: date | None
    task_deadline: date | None
    effective_deadline: date | None
    is_open: bool
    progress: int | None
    last_period: str | None
    accepted_at: datetime | None
    closed_at: datetime | None
    version: int
    etag: str
    created_at: datetime
    updated_at: datetime


class AssignmentCreated(AssignmentOut):
    members: list[AssignmentOut] = Field(
        default_factory=list, description="for a group: the obligations created for its members")


class Acting(_Body):
    unit: str | None = UnitRef
    jurisdiction: str | None = Jurisdiction


def _storable(values: dict[int, Any] | None) -> dict[int, Any] | None:
    # The JSON column is written by orjson, which refuses what Python's parser lets through:
    # a lone surrogate ("\ud800") and an integer past 64 bits.
    try:
        orjson.dumps(values, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as e:
        raise ValueError(f"a value cannot be stored ({e}); send text or a number") from None
    return values


class ReportCreate(Acting):
    period: Month = Field(description="YYYY-MM")
    # Strict: "50" or true is a client's mistake, not a percentage.
    progress: int = Field(ge=0, le=100, strict=True)
    summary: str = Field(min_length=1, max_length=20_000)
    milestone_values: Annotated[dict[int, Any] | None, AfterValidator(_storable)] = Field(
        None, description="{milestone id: value reached}, milestones of this task only")


class ReportOut(BaseModel):
    id: int
    assignment_id: int
    task_id: int
    unit_id: int
    period: str
    progress: int
    summary: str
    milestone_values: dict[str, Any] | None
    version: int
    created_at: datetime
    updated_at: datetime


class PeriodOut(BaseModel):
    period: str
    state: Literal["open", "closed"]
    due_day: int
    closed_at: datetime | None


class ExtensionCreate(Acting):
    deadline: Day = Field(description="the new deadline asked for")
    reason: str = Field(min_length=1, max_length=5_000)


class ExtensionOut(BaseModel):
    id: int
    assignment_id: int
    task_id: int
    unit_id: int
    requested_deadline: date
    previous_deadline: date | None
    reason: str
    status: RequestStatus
    comment: str | None
    decided_at: datetime | None
    created_at: datetime


class Decision(_Body):
    approved: bool = Field(strict=True)
    comment: str | None = Field(None, max_length=5_000)


class ExtensionDecided(ExtensionOut):
    assignment: AssignmentOut | None = Field(None, description="the obligation after an approval")


class CompletionCreate(Acting):
    summary: str = Field(min_length=1, max_length=20_000)


class CompletionOut(BaseModel):
    id: int
    task_id: int
    unit_id: int
    assignment_id: int | None
    scope: Literal["task", "part"]
    summary: str
    status: RequestStatus
    comment: str | None
    verified_at: datetime | None
    created_at: datetime


class Verification(_Body):
    approved: bool = Field(strict=True)
    comment: str | None = Field(None, max_length=5_000)
    unit: str | None = Field(None, description="decide this unit's part request instead of the "
                                               "lead's request for the whole task")
    jurisdiction: str | None = Jurisdiction


class VerificationOut(BaseModel):
    request: CompletionOut
    task_status: str
    task_closed_at: datetime | None
    closed_assignments: list[int] = Field(description="obligations this decision closed")
    closed_parent_id: int | None = Field(None, description="the parent task, when its last clause closed")


class ChangeCreate(Acting):
    kind: Literal["remove", "replace"]
    replacement: str | None = Field(None, description="for replace: the unit that takes the obligation over")
    reason: str = Field(min_length=1, max_length=5_000)


class ChangeOut(BaseModel):
    id: int
    assignment_id: int
    task_id: int
    unit_id: int
    kind: Literal["remove", "replace"]
    replacement_unit_id: int | None
    reason: str
    status: RequestStatus
    comment: str | None
    decided_at: datetime | None
    created_at: datetime


class ChangeDecided(ChangeOut):
    assignment: AssignmentOut | None = Field(None, description="the obligation after an approval")
    replacement_assignment: AssignmentOut | None = None


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_unit_id: int | None
    action: str
    entity: str
    entity_id: int | None
    task_id: int | None
    unit_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
