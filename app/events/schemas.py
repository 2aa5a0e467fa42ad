"""What the webhook, delivery and reminder routes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.events.outbox import ALL, TYPES
from app.http import Month
from app.uow import MAX_ID

EventType = Literal["task.assigned", "report.submitted", "extension.requested",
                    "completion.requested", "task.closed", "task.returned", "assignment.overdue",
                    "reminder.created", "*"]
assert set(EventType.__args__) == {*TYPES, ALL}  # one list of types: the outbox's
DeliveryStatus = Literal["pending", "delivered", "failed"]
NO_NUL = r"^[^\x00]*$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookCreate(_Body):
    url: str = Field(max_length=2048, description="http(s) URL that receives the deliveries")
    secret: str = Field(min_length=16, max_length=256, pattern=NO_NUL,
                        description="signs every delivery (X-Duban-Signature); never shown again")
    events: list[EventType] = Field(min_length=1, description='event types, or "*" for all')

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("give an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("the URL must not carry credentials; the secret signs deliveries")
        if parts.fragment:
            raise ValueError("the URL must not have a #fragment")
        return url.strip()

    @field_validator("events")
    @classmethod
    def _normalised(cls, events: list[str]) -> list[str]:
        return [ALL] if ALL in events else list(dict.fromkeys(events))


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class DeliveryOut(BaseModel):
    id: int
    event_id: int
    event_type: str
    task_id: int | None
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="when a pending delivery is tried next")
    delivered_at: datetime | None
    created_at: datetime


class TestSent(BaseModel):
    event_id: int
    delivery_id: int
    type: str


class UnitBrief(BaseModel):
    id: int
    name: str
    short_name: str


class ReminderCreate(_Body):
    unit: str | None = Field(None, max_length=128, pattern=NO_NUL,
                             description="one unit: id, or name/alias as the documents write it")
    units: list[Annotated[str, Field(max_length=128, pattern=NO_NUL)]] | None = Field(
        None, min_length=1, max_length=1000,
                                    description="several units (ids, names or aliases)")
    missing_for: Month | None = Field(None, description=(
        "YYYY-MM: every unit with at least one obligation missing its report for that month"))
    period: Month | None = Field(None, description="the month the reminder is about (with unit/units)")
    task: int | None = Field(None, ge=1, le=MAX_ID, strict=True,
                             description="the task the reminder is about")
    message: str | None = Field(None, min_length=1, max_length=2000, pattern=NO_NUL,
                                description="default: a polite text naming the period or task")
    jurisdiction: str | None = Field(None, max_length=64, pattern=NO_NUL, description=(
        "resolves unit names; with missing_for, keeps that jurisdiction's units only"))

    @model_validator(mode="after")
    def _one_target(self) -> ReminderCreate:
        given = [k for k in ("unit", "units", "missing_for") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError('give exactly one of "unit", "units" or "missing_for"')
        if self.missing_for and self.period and self.period != self.missing_for:
            raise ValueError('"period" differs from "missing_for": drop one')
        return self


class ReminderOut(BaseModel):
    id: int
    unit: UnitBrief
    task_id: int | None
    period: str | None
    message: str
    created_at: datetime


class RemindersCreated(BaseModel):
    reminders: list[ReminderOut]
    count: int
