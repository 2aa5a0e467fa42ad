"""The typed result of an extraction: what `python -m app.extraction` prints and imports store."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["lead", "responsible", "cooperating"]
Level = Literal["province", "city", "county", "district", "township"]
DeadlineSource = Literal["column", "label", "text", "carried_down", "subtasks", "plan_period", "none"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Model):
    line: int = Field(description="1-based line of the first character")
    end_line: int
    start: int = Field(description="offset of the first character in the document text")
    end: int = Field(description="offset after the last character")
    text: str = Field(description="the document's own text between start and end")


class Jurisdiction(_Model):
    name: str | None = Field(description="e.g. 赣州市; null when only the level is known")
    level: Level
    prefix: str = Field(description="the one-character prefix its units carry: 省/市/县/区/镇")
    parent: str | None = None


class Period(_Model):
    start: int
    end: int
    text: str | None = None
    inferred: bool = False


class DocumentMeta(_Model):
    title: str | None = None
    issuer: str | None = None
    issuer_as_printed: str | None = None
    doc_number: str | None = None
    doc_number_as_printed: str | None = None
    issued_on: date | None = None
    issued_on_text: str | None = None
    period: Period | None = None
    jurisdiction: Jurisdiction | None = None
    format: Literal["text", "html", "docx", "table"] = "text"
    encoding: str | None = None


class UnitMention(_Model):
    name: str = Field(description="the unit as it should read (prefix restored, fused names split)")
    as_written: str
    canonical: str = Field(description="jurisdiction-qualified name with abbreviations expanded")
    role: Role
    group: bool = Field(description="a collective placeholder such as 各县(市、区)")
    implied_by_rule: bool = False
    source: Source | None = None


class Leader(_Model):
    label: str
    name: str
    source: Source | None = None


class Milestone(_Model):
    text: str
    due: date | None
    due_text: str | None
    metric: str
    target: str
    target_stretch: str | None = None
    optional: bool = Field(False, description="no calendar year of its own; due is inherited")
    source: Source | None = None


class Task(_Model):
    number: str
    kind: Literal["task", "project"] = "task"
    title: str
    text: str
    section_path: list[str] = []
    lead_units: list[str] = []
    responsible_units: list[str] = []
    cooperating_units: list[str] = []
    units: list[UnitMention] = []
    leaders: list[Leader] = []
    units_text: str | None = None
    deadline: date | None = None
    deadline_text: str | None = None
    deadline_source: DeadlineSource = "none"
    ongoing: bool = Field(False, description="长期坚持/持续推进: no date by design")
    period: Period | None = None
    milestones: list[Milestone] = []
    subtasks: list[Task] = []
    source: Source | None = None

    @classmethod
    def new(cls, **fields: Any) -> Task:
        # Pydantic deep-copies a mutable default for every field left out; fresh empty lists
        # validate in a third of the time, and the engine builds a Task per numbered item.
        return cls(**{**{name: [] for name in _TASK_LISTS}, **fields})


_TASK_LISTS = [name for name, f in Task.model_fields.items() if f.default == []]


class Indicator(_Model):
    number: str | None = None
    name: str
    unit: str | None = None
    standard: str | None = None
    baseline: str | None = None
    baseline_year: int | None = None
    targets: dict[str, str | None] = {}
    attribute: str | None = None
    domain: str | None = None
    category: str | None = None
    sub_indicators: list[Indicator] = []
    standard_by_region: list[dict[str, str]] = []
    source: Source | None = None


class Rule(_Model):
    text: str
    kind: Literal["implied_units", "lead_first_listed", "responsible_is_lead"]
    implied_units: list[str] = []
    stated_in: str | None = Field(None, description="number of the task that states it, if any")
    applies_to: list[str] = Field([], description="numbers of the tasks it touched")
    source: Source | None = None


class Warning(_Model):
    code: str
    message: str
    line: int | None = None
    source: Source | None = None


class Extraction(_Model):
    document: DocumentMeta
    tasks: list[Task] = []
    indicators: list[Indicator] = []
    rules: list[Rule] = []
    warnings: list[Warning] = []
