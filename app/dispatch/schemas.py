"""What the dispatch and period routes take and answer."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.dispatch.lights import Light
from app.models import AssignmentStatus, Role


class WindowOut(BaseModel):
    start: date
    end: date


class MonthOut(BaseModel):
    period: str
    due_date: date
    closed: bool


class UnitStats(BaseModel):
    """For ranking (通报)."""

    completion_rate: float | None = Field(description="closed / assignments; null when none")
    on_time_report_rate: float | None = Field(
        description="reports filed by their month's due date / expected reports; null when none")
    overdue: int
    reminders: int = Field(description="reminders (催办) the unit received within the window")


class LightCounts(BaseModel):
    red: int
    yellow: int
    green: int


class UnitDispatch(BaseModel):
    unit: str = Field(description="the unit's name as the documents write it")
    unit_id: int
    unit_name: str = Field(description="canonical, jurisdiction-qualified")
    jurisdiction: str | None
    assignments: int = Field(description="obligations active in the window")
    expected_reports: int = Field(description="Σ over the months counted of obligations active "
                                              "and open at the month's end (or as_of)")
    reported: int = Field(description="reports filed for the months counted")
    missing: int = Field(description="expected reports not filed")
    on_time_reports: int
    overdue: int
    due_soon: int
    closed: int = Field(description="obligations closed (销号) within the window")
    closed_late: int
    closed_extended: int
    lagging: int = Field(description="open obligations whose progress trails 序时进度")
    lights: LightCounts
    light: Light
    progress: float | None = Field(description="mean latest progress (closed counts 100)")
    stats: UnitStats


class DispatchSummary(BaseModel):
    period: str
    kind: str = Field(description="month, quarter or year")
    window: WindowOut
    as_of: date
    due_date: date | None = Field(description="the month's report due date (months only)")
    closed: bool | None = Field(description="whether the month is closed (months only)")
    months: list[MonthOut]
    units: list[UnitDispatch] = Field(description="the page of units (the contract names it units)")
    next_cursor: str | None = None


class TaskBrief(BaseModel):
    id: int
    number: str
    title: str
    document_id: int


class ReportBrief(BaseModel):
    period: str
    progress: int
    summary: str
    created_at: datetime


class ObligationDispatch(BaseModel):
    assignment_id: int
    task: TaskBrief
    unit: str
    unit_id: int
    role: Role
    status: AssignmentStatus
    effective_deadline: date | None
    report: ReportBrief | None = Field(description="the latest report for the months counted")
    missing: bool = Field(description="a report owed for a month counted is not filed")
    missing_months: list[str]
    overdue: bool
    days_overdue: int
    due_soon: bool
    expected_progress: float | None = Field(description="序时进度: share of its time elapsed")
    progress: int | None = Field(description="the latest reported progress")
    lagging: bool
    light: Light
    closed_at: datetime | None
    closed_late: bool
    extended: bool


class RankedUnit(BaseModel):
    rank: int
    unit: str
    unit_id: int
    unit_name: str
    jurisdiction: str | None
    assignments: int
    closed: int
    expected_reports: int
    on_time_reports: int
    light: Light
    stats: UnitStats


class ClauseProgress(BaseModel):
    task_id: int
    number: str
    progress: float | None


class TaskProgress(BaseModel):
    task_id: int
    period: str
    progress: float | None = Field(description="mean of its obligations' latest progress as of "
                                               "the period's end, or of its clauses'")
    clauses: list[ClauseProgress]


class DueDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_day: int = Field(ge=1, le=28, strict=True, description="the day of the month reports are due")
