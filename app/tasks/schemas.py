"""What the tasks and overdue routes answer with, and what PATCH /tasks/{id} takes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.http import Day
from app.models import AssignmentStatus, Role, TaskStatus
from app.pagination import Page


class Source(BaseModel):
    line: int
    end_line: int
    start: int
    end: int
    text: str = Field(description="the verbatim span of the document")


class AssignmentBrief(BaseModel):
    """The obligation of the unit in play (unit= or the unit token's own)."""

    id: int
    role: Role
    status: AssignmentStatus
    effective_deadline: date | None
    overdue: bool
    days_overdue: int
    progress: int | None


class TaskSummary(BaseModel):
    id: int
    document_id: int
    parent_id: int | None
    number: str
    kind: str
    title: str
    deadline: date | None
    deadline_text: str | None
    deadline_source: str
    status: TaskStatus
    section_path: list[str] | None
    assignment: AssignmentBrief | None = None


class DocumentBrief(BaseModel):
    id: int
    title: str | None
    doc_number: str | None
    issuer: str | None


class TaskRef(BaseModel):
    id: int
    number: str
    title: str


class SubtaskBrief(TaskRef):
    status: TaskStatus
    deadline: date | None


class MilestoneView(BaseModel):
    id: int
    text: str
    due: date | None
    due_text: str | None
    metric: str
    target: str
    target_stretch: str | None
    optional: bool
    source: Source | None


class TaskDetailNotes(BaseModel):
    model_config = ConfigDict(extra="allow")

    units_text: str | None = None
    leaders: list[dict[str, Any]] = []


class UnitBrief(BaseModel):
    id: int
    name: str
    short_name: str


class AssignmentView(BaseModel):
    id: int
    unit: UnitBrief
    role: Role
    status: AssignmentStatus
    via_group: str | None = Field(description="the group this obligation came from, if any")
    origin: str
    own_deadline: date | None
    extended_to: date | None
    effective_deadline: date | None
    overdue: bool
    days_overdue: int
    progress: int | None
    last_period: str | None
    etag: str


class GroupLabel(BaseModel):
    id: int
    name: str
    short_name: str
    role: Role


class Rollup(BaseModel):
    obligations: int = Field(description="obligations in force (removed ones not counted)")
    open: int
    closed: int
    overdue: int
    progress: float | None = Field(description="mean of the latest reported progress; null when none")


class TaskDetail(BaseModel):
    id: int
    document_id: int
    parent_id: int | None
    number: str
    kind: str
    title: str
    text: str
    section_path: list[str] | None
    deadline: date | None
    deadline_text: str | None
    deadline_source: str
    ongoing: bool
    status: TaskStatus
    closed_at: datetime | None
    version: int
    source: Source | None
    document: DocumentBrief
    parent: TaskRef | None
    subtasks: list[SubtaskBrief]
    milestones: list[MilestoneView]
    detail: TaskDetailNotes
    assignments: list[AssignmentView]
    groups: list[GroupLabel]
    rollup: Rollup | None = Field(
        description="over the task and its clauses; null for a unit that does not lead the task")
    as_of: date = Field(description="the day the overdue flags are judged on")


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(None, min_length=1, max_length=2000)
    deadline: Day | None = Field(None, description="null clears it: the task then has no deadline")
    deadline_text: str | None = Field(None, max_length=64)


class DocumentRef(BaseModel):
    id: int
    title: str | None


class OverdueTask(TaskRef):
    document: DocumentRef


class OverdueItem(BaseModel):
    task: OverdueTask
    role: Role
    deadline: date = Field(description="the obligation's effective deadline")
    days_overdue: int
    status: AssignmentStatus
    assignment_id: int


class OverduePage(Page[OverdueItem]):
    as_of: date


class UnitWithJurisdiction(UnitBrief):
    jurisdiction: str | None


class UnitOverdue(BaseModel):
    unit: UnitWithJurisdiction
    overdue: int
    oldest_deadline: date
    max_days_overdue: int


class OverdueCountPage(Page[UnitOverdue]):
    as_of: date
