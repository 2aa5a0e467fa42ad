"""Every table, on one screen. Statuses are VARCHAR-backed StrEnums; dates are dates and
instants are timezone-aware UTC.

An assignment is one unit's obligation on one task. Its `effective_deadline` and `is_open`
are kept on the row, in the transaction that changes them, so that "what is overdue for this
unit" is one range scan of a partial index.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator):
    """Aware UTC on the way out on every backend (SQLite keeps no offset of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def _status(enum: type[StrEnum], default: StrEnum) -> Any:
    return Field(default=default, sa_type=sa.Enum(enum, native_enum=False, length=24,
                                                  values_callable=lambda e: [m.value for m in e]))


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=JSONType, nullable=nullable)


class Role(StrEnum):
    lead = "lead"
    responsible = "responsible"
    cooperating = "cooperating"


class AssignmentStatus(StrEnum):
    assigned = "assigned"  # 交办: waiting to be signed for
    accepted = "accepted"  # 签收
    in_progress = "in_progress"
    completion_requested = "completion_requested"
    returned = "returned"  # sent back by the office after a completion request
    closed = "closed"  # 销号
    removed = "removed"  # taken off the task (responsibility change or the office)
    group = "group"  # a placeholder such as 各县(市、区): a label, never an obligation

    @classmethod
    def open_statuses(cls) -> frozenset[AssignmentStatus]:
        return frozenset({cls.assigned, cls.accepted, cls.in_progress,
                          cls.completion_requested, cls.returned})


class TaskStatus(StrEnum):
    open = "open"
    closed = "closed"
    withdrawn = "withdrawn"  # gone from a revised document; kept with its reports


class RequestStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"  # an extension or responsibility change refused
    returned = "returned"  # a completion request sent back


class TokenRole(StrEnum):
    admin = "admin"
    unit = "unit"
    reader = "reader"


class Jurisdiction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    level: str = Field(max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="jurisdiction.id")


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)  # canonical, jurisdiction-qualified
    short_name: str = Field(max_length=128)  # as the documents write it: 市生态环境局
    jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id", index=True)
    is_group: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UnitAlias(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("scope", "alias"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    scope: int = 0  # jurisdiction id the alias is valid in; 0 for none
    alias: str = Field(max_length=128, index=True)


class GroupMember(SQLModel, table=True):
    group_id: int = Field(foreign_key="unit.id", primary_key=True)
    member_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)


class Document(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=256, unique=True)  # 文号, or title within its jurisdiction
    title: str | None = Field(default=None, max_length=256)
    issuer: str | None = Field(default=None, max_length=256)
    doc_number: str | None = Field(default=None, max_length=128)
    issued_on: date | None = None
    period_start: int | None = None
    period_end: int | None = None
    jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id")
    format: str = Field(default="text", max_length=8)
    encoding: str | None = Field(default=None, max_length=16)
    content_hash: str = Field(max_length=64, index=True)
    version: int = 1
    text: str = Field(sa_type=sa.Text)
    meta: dict | None = _json()  # rules, warnings and what the extraction said of itself
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Task(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("document_id", "ordinal"),)
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id")
    parent_id: int | None = Field(default=None, foreign_key="task.id", index=True)
    ordinal: int  # reading order within the document, subtasks included
    number: str = Field(max_length=32)
    kind: str = Field(default="task", max_length=8)
    title: str = Field(sa_type=sa.Text)
    text: str = Field(sa_type=sa.Text)
    section_path: list | None = _json()
    deadline: date | None = None
    deadline_text: str | None = Field(default=None, max_length=64)
    deadline_source: str = Field(default="none", max_length=16)
    ongoing: bool = False
    status: TaskStatus = _status(TaskStatus, TaskStatus.open)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    source: dict | None = _json()  # line, end_line, start, end, text
    detail: dict | None = _json()  # project period, units_text, leaders, rule notes
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Milestone(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    ordinal: int = 0
    text: str = Field(sa_type=sa.Text)
    due: date | None = None
    due_text: str | None = Field(default=None, max_length=64)
    metric: str = Field(default="", sa_type=sa.Text)
    target: str = Field(max_length=128)
    target_stretch: str | None = Field(default=None, max_length=128)
    optional: bool = False
    source: dict | None = _json()


class Indicator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    ordinal: int = 0
    number: str | None = Field(default=None, max_length=16)
    name: str = Field(sa_type=sa.Text)
    unit: str | None = Field(default=None, max_length=64)
    standard: str | None = Field(default=None, sa_type=sa.Text)
    baseline: str | None = Field(default=None, sa_type=sa.Text)
    baseline_year: int | None = None
    targets: dict | None = _json()
    attribute: str | None = Field(default=None, max_length=16)
    detail: dict | None = _json()  # domain, category, sub_indicators, standard_by_region, source


class Assignment(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("task_id", "unit_id"),
        # The overdue list of one unit: open obligations in deadline order, one index range.
        sa.Index("ix_assignment_open_by_unit", "unit_id", "effective_deadline", "task_id",
                 postgresql_where=sa.text("is_open"), sqlite_where=sa.text("is_open")),
        # Every obligation of one unit, closed ones too: task lists filtered by unit.
        sa.Index("ix_assignment_unit_id_task_id", "unit_id", "task_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    role: Role = _status(Role, Role.responsible)
    via_group_id: int | None = Field(default=None, foreign_key="unit.id")
    origin: str = Field(default="document", max_length=8)  # document, office or group
    own_deadline: date | None = None  # set by the office for this unit only
    extended_to: date | None = None  # the last approved extension
    task_deadline: date | None = None  # the task's deadline, copied so the row stands alone
    effective_deadline: date | None = None  # extended_to, else own_deadline, else task_deadline
    status: AssignmentStatus = _status(AssignmentStatus, AssignmentStatus.assigned)
    is_open: bool = True
    starts_on: date | None = None  # when the obligation's clock starts, for 序时进度
    progress: int | None = None  # the latest reported progress, 0-100
    last_period: str | None = Field(default=None, max_length=7)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReportingPeriod(SQLModel, table=True):
    period: str = Field(primary_key=True, max_length=7)  # YYYY-MM
    due_day: int = 25
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Report(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("assignment_id", "period"),
        sa.Index("ix_report_unit_id_period", "unit_id", "period"),
        sa.Index("ix_report_task_id_period", "task_id", "period"),
    )
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id")
    task_id: int = Field(foreign_key="task.id")
    unit_id: int = Field(foreign_key="unit.id")
    period: str = Field(max_length=7)
    progress: int
    summary: str = Field(sa_type=sa.Text)
    milestone_values: dict | None = _json()
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ExtensionRequest(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    requested_deadline: date
    previous_deadline: date | None = None
    reason: str = Field(sa_type=sa.Text)
    status: RequestStatus = _status(RequestStatus, RequestStatus.pending)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CompletionRequest(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    scope: str = Field(default="task", max_length=8)  # "task" (the lead's) or "part" (one unit's)
    summary: str = Field(sa_type=sa.Text)
    status: RequestStatus = _status(RequestStatus, RequestStatus.pending)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ResponsibilityChange(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    kind: str = Field(max_length=8)  # "remove" or "replace"
    replacement_unit_id: int | None = Field(default=None, foreign_key="unit.id")
    reason: str = Field(sa_type=sa.Text)
    status: RequestStatus = _status(RequestStatus, RequestStatus.pending)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """Append-only: the API has no route that changes or deletes a row."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_task_id_id", "task_id", "id"),
        sa.Index("ix_audit_log_unit_id_id", "unit_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=64)  # "admin", "token:12", "system"
    actor_unit_id: int | None = None
    action: str = Field(max_length=48)
    entity: str = Field(max_length=32)
    entity_id: int | None = None
    task_id: int | None = None
    unit_id: int | None = None
    before: dict | None = _json()
    after: dict | None = _json()


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 hex; the token is never stored
    role: TokenRole = _status(TokenRole, TokenRole.unit)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    label: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("scope", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64)  # who sent it: a key is private to its caller
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int
    body: bytes = Field(sa_type=sa.LargeBinary)
    headers: dict | None = _json()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Reminder(SQLModel, table=True):
    """催办: the office urges a unit, about one task or about a period's missing reports."""

    __table_args__ = (sa.Index("ix_reminder_unit_id_created_at", "unit_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    task_id: int | None = Field(default=None, foreign_key="task.id")
    period: str | None = Field(default=None, max_length=7)
    message: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Webhook(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048)
    secret: str = Field(max_length=256)  # kept to sign deliveries; never shown again
    events: list = Field(sa_type=JSONType)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Event(SQLModel, table=True):
    """The outbox: written in the transaction of the change it reports."""

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=48)
    task_id: int | None = None
    assignment_id: int | None = None
    unit_id: int | None = None
    payload: dict = Field(sa_type=JSONType)
    dedupe_key: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("event_id", "webhook_id"),
        # The worker's queue: what is due next, per state.
        sa.Index("ix_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index("ix_delivery_webhook_id_task_id_event_id", "webhook_id", "task_id", "event_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id")
    webhook_id: int = Field(foreign_key="webhook.id")
    task_id: int | None = None  # copied from the event: deliveries of one task go in order
    status: str = Field(default="pending", max_length=12)  # pending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
