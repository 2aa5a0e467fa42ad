"""What the documents routes answer. A preview answers the engine's own Extraction model."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.extraction.models import Rule, Source
from app.extraction.models import Warning as ExtractionWarning


class ChangeSummary(BaseModel):
    tasks_added: int = 0
    tasks_updated: int = 0
    tasks_withdrawn: int = 0
    obligations_added: int = 0
    obligations_removed: int = 0


class ImportSummary(BaseModel):
    id: int
    title: str | None
    doc_number: str | None
    version: int
    tasks: int = Field(description="top-level tasks in force (withdrawn ones not counted)")
    clauses: int = Field(description="subtasks (clauses) in force")
    obligations: int = Field(description="obligations in force: group placeholders and removed "
                                         "obligations not counted")
    warnings: list[ExtractionWarning]
    created: bool = Field(description="true when this import created the document")
    changes: ChangeSummary | None = Field(
        None, description="what a revision changed; null when the document is new or unchanged")


class JurisdictionRef(BaseModel):
    id: int
    name: str
    level: str


class PeriodRef(BaseModel):
    start: int
    end: int


class DocumentBase(BaseModel):
    id: int
    title: str | None
    issuer: str | None
    doc_number: str | None
    issued_on: date | None
    period: PeriodRef | None
    jurisdiction: JurisdictionRef | None
    version: int
    created_at: datetime


class DocumentItem(DocumentBase):
    tasks: int = Field(description="top-level tasks in force")


class IndicatorPublic(BaseModel):
    id: int
    number: str | None
    name: str
    unit: str | None
    standard: str | None
    baseline: str | None
    baseline_year: int | None
    targets: dict[str, str | None]
    attribute: str | None
    domain: str | None = None
    category: str | None = None
    sub_indicators: list[dict] = []
    standard_by_region: list[dict[str, str]] = []
    source: Source | None = None


class DocumentCounts(BaseModel):
    tasks: int = Field(description="top-level tasks in force")
    clauses: int = Field(description="subtasks in force")
    withdrawn: int = Field(description="tasks and clauses gone from a later revision")
    obligations: int = Field(description="obligations in force")
    milestones: int


class DocumentDetail(DocumentBase):
    format: str
    encoding: str | None
    content_hash: str
    updated_at: datetime
    rules: list[Rule]
    warnings: list[ExtractionWarning]
    indicators: list[IndicatorPublic]
    counts: DocumentCounts
