"""What the ledger routes answer: the columns of the 台账, and a re-import's preview and result."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from app.models import AssignmentStatus, Role

# The 台账's columns, in order; a re-import finds them by these headers, in any order.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6), ("文件", 30), ("任务编号", 9), ("任务", 48), ("牵头单位", 24), ("责任单位", 20),
    ("角色", 6), ("完成时限", 12), ("本期进展", 48), ("进度", 6), ("状态", 10), ("逾期天数", 9),
    ("预警", 6), ("任务ID", 9), ("责任ID", 9), ("版本", 6),
)
HEADERS = tuple(name for name, _ in COLUMNS)

ROLE_LABELS = {Role.lead: "牵头", Role.responsible: "责任", Role.cooperating: "配合"}
STATUS_LABELS = {
    AssignmentStatus.assigned: "待签收", AssignmentStatus.accepted: "已签收",
    AssignmentStatus.in_progress: "推进中", AssignmentStatus.completion_requested: "申请销号",
    AssignmentStatus.returned: "退回整改", AssignmentStatus.closed: "已销号",
}
LIGHT_LABELS = {"red": "红", "yellow": "黄", "green": "绿"}

LedgerField = Literal["deadline", "unit", "summary", "progress"]
FIELD_COLUMNS: dict[str, str] = {"deadline": "完成时限", "unit": "责任单位", "summary": "本期进展",
                                 "progress": "进度"}


class LedgerChange(BaseModel):
    row: int = Field(description="the sheet's row number, as Excel shows it (the header is row 1)")
    assignment_id: int
    task_id: int
    field: LedgerField = Field(description="deadline (完成时限), unit (责任单位), summary (本期进展) or "
                                      "progress (进度)")
    column: str = Field(description="the column's header in the sheet")
    before: str | int | date | None
    after: str | int | date | None


class LedgerError(BaseModel):
    row: int
    message: str = Field(description="what is wrong with the row and how to fix it")
    suggestions: list[str] = Field(default_factory=list,
                                   description="for an unknown unit: the closest known units")


class LedgerConflict(BaseModel):
    row: int
    assignment_id: int
    task_id: int
    version: int = Field(description="the 版本 the sheet was exported at")
    current_version: int = Field(description="the obligation's version now")
    fields: list[LedgerField] = Field(description="the edits that were not applied")
    message: str


class LedgerPreview(BaseModel):
    rows: int = Field(description="data rows read from the sheet")
    changes: list[LedgerChange]
    errors: list[LedgerError]
    conflicts: list[LedgerConflict] = Field(
        description="rows edited on an older 版本 than the stored one: export again and re-apply")


class LedgerApplied(LedgerPreview):
    applied: bool = True
