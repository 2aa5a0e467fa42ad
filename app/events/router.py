"""Routes for webhooks and their delivery log, reminders (催办), and a unit's calendar feed.
Each handler makes one service call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request, Response

from app.auth.principal import Admin, CurrentPrincipal
from app.db import SessionDep
from app.events import calendar, reminders, webhooks
from app.events.calendar import FeedPrincipal
from app.events.schemas import (
    NO_NUL,
    DeliveryOut,
    DeliveryStatus,
    ReminderCreate,
    ReminderOut,
    RemindersCreated,
    TestSent,
    WebhookCreate,
    WebhookOut,
)
from app.http import today
from app.pagination import Cursor, Limit, Page
from app.problems import responses
from app.routing import API_PREFIX, api_router

router = api_router(tags=["events"])

UnitFilter = Annotated[str | None, Query(max_length=128, pattern=NO_NUL, description=(
    "unit id, or name/alias as the documents write it; a unit token reads its own only"))]
UnitPath = Annotated[str, Path(max_length=128, pattern=NO_NUL, description=(
    "a unit id, its canonical name, or a name or alias as the documents write it"))]
Scope = Annotated[str | None, Query(max_length=64, pattern=NO_NUL, description=(
    "jurisdiction (name or id) within which a unit name is resolved"))]


@router.post("/webhooks", status_code=201, response_model=WebhookOut, tags=["webhooks"])
async def create_webhook(body: WebhookCreate, session: SessionDep, principal: Admin,
                         response: Response) -> WebhookOut:
    """Subscribe a URL to event types; deliveries are signed with the secret (X-Duban-Signature)."""
    out = await webhooks.create(session, principal, body)
    response.headers["Location"] = f"{API_PREFIX}/webhooks/{out.id}"
    return out


@router.get("/webhooks", response_model=Page[WebhookOut], tags=["webhooks"])
async def list_webhooks(session: SessionDep, principal: Admin,
                        active: Annotated[bool | None, Query(description="true: live ones only")] = None,
                        limit: Limit = 100, cursor: Cursor = None) -> Page[WebhookOut]:
    """Webhook subscriptions in id order (secrets are never shown)."""
    return await webhooks.listing(session, active=active, limit=limit, cursor=cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, tags=["webhooks"],
            responses=responses(404))
async def get_webhook(webhook_id: int, session: SessionDep, principal: Admin) -> WebhookOut:
    """One webhook subscription."""
    return await webhooks.one(session, webhook_id)


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"],
               responses=responses(404))
async def remove_webhook(webhook_id: int, session: SessionDep, principal: Admin) -> Response:
    """Deactivate a subscription; its pending deliveries fail with "subscription removed"."""
    await webhooks.remove(session, principal, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryOut],
            tags=["webhooks"], responses=responses(404))
async def list_deliveries(webhook_id: int, session: SessionDep, principal: Admin,
                          status: DeliveryStatus | None = None, limit: Limit = 100,
                          cursor: Cursor = None) -> Page[DeliveryOut]:
    """The delivery log of a subscription, oldest first: attempts, last answer, next attempt."""
    return await webhooks.deliveries(session, webhook_id, status=status, limit=limit, cursor=cursor)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", response_model=DeliveryOut,
             tags=["webhooks"], responses=responses(404, 409))
async def retry_delivery(webhook_id: int, delivery_id: int, session: SessionDep,
                         principal: Admin) -> DeliveryOut:
    """Try a failed delivery again, from the start of its retry schedule."""
    return await webhooks.retry(session, principal, webhook_id, delivery_id)


@router.post("/webhooks/{webhook_id}/test", status_code=202, response_model=TestSent,
             tags=["webhooks"], responses=responses(404, 409))
async def test_webhook(webhook_id: int, session: SessionDep, principal: Admin) -> TestSent:
    """Queue a webhook.test event for this subscriber only; its delivery shows in the log."""
    return await webhooks.send_test(session, webhook_id)


@router.post("/reminders", status_code=201, response_model=RemindersCreated, tags=["reminders"],
             responses={200: {"model": RemindersCreated, "description": "nobody to remind"},
                        **responses(404)})
async def create_reminders(body: ReminderCreate, request: Request, session: SessionDep,
                           principal: Admin, response: Response) -> RemindersCreated:
    """催办: remind one unit, a list, or every unit missing a month's report (missing_for)."""
    settings = request.app.state.settings
    out = await reminders.create(session, principal, body, today(request), settings)
    if out.count == 0:
        response.status_code = 200
    return out


@router.get("/reminders", response_model=Page[ReminderOut], tags=["reminders"],
            responses=responses(404))
async def list_reminders(session: SessionDep, principal: CurrentPrincipal, unit: UnitFilter = None,
                         period: Annotated[str | None, Query(description="YYYY-MM")] = None,
                         task: Annotated[int | None, Query(description="task id")] = None,
                         limit: Limit = 100, cursor: Cursor = None) -> Page[ReminderOut]:
    """Reminders, oldest first; a unit token reads its own unit's."""
    return await reminders.listing(session, principal, unit=unit, period=period, task=task,
                                   limit=limit, cursor=cursor)


@router.get("/units/{unit}/calendar.ics", response_class=Response, tags=["calendar"],
            responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}},
                             "description": "an iCalendar (RFC 5545) feed"}, **responses(404)})
async def unit_calendar(unit: UnitPath, session: SessionDep, principal: FeedPrincipal,
                        jurisdiction: Scope = None) -> Response:
    """A unit's open deadlines and milestones as iCalendar; the token may also come as ?token=."""
    body = await calendar.unit_feed(session, principal, unit, jurisdiction)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": 'inline; filename="duban.ics"'})
