"""Webhook subscriptions and their delivery log. Only the office (admin) manages them; a
subscription's secret is stored to sign deliveries and never shown again."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.errors import InvalidInput, InvalidTransition, NotFound
from app.events import outbox
from app.events.schemas import DeliveryOut, DeliveryStatus, TestSent, WebhookCreate, WebhookOut
from app.models import Delivery, Event, Webhook, utcnow
from app.pagination import Page, decode, next_cursor

_PUBLIC = (Webhook.id, Webhook.url, Webhook.events, Webhook.active, Webhook.created_at)
_BAD_CURSOR = "The cursor is not valid: pass next_cursor from the previous page unchanged."


async def create(session: AsyncSession, principal: Principal, body: WebhookCreate) -> WebhookOut:
    row = (await session.execute(insert(Webhook).values(url=body.url, secret=body.secret,
                                                        events=body.events, active=True)
                                 .returning(*_PUBLIC))).one()
    out = WebhookOut.model_validate(row, from_attributes=True)
    await audit.record(session, principal, "webhook.created", "webhook", out.id,
                       after=out.model_dump(mode="json"))
    return out


async def listing(session: AsyncSession, *, active: bool | None, limit: int,
                  cursor: str | None) -> Page[WebhookOut]:
    query = select(*_PUBLIC).order_by(Webhook.id).limit(limit + 1)
    if active is not None:
        query = query.where(Webhook.active.is_(active))
    after = _after(cursor)
    if after is not None:
        query = query.where(Webhook.id > after)
    rows = (await session.execute(query)).all()
    return Page(items=[WebhookOut.model_validate(r, from_attributes=True) for r in rows[:limit]],
                next_cursor=next_cursor(rows, limit, lambda r: [r.id]))


async def one(session: AsyncSession, webhook_id: int) -> WebhookOut:
    row = (await session.execute(select(*_PUBLIC).where(Webhook.id == webhook_id))).first()
    if row is None:
        raise NotFound(f"No webhook {webhook_id}.")
    return WebhookOut.model_validate(row, from_attributes=True)


async def remove(session: AsyncSession, principal: Principal, webhook_id: int) -> None:
    """The subscription stays, inactive, with its delivery log; what it had not received yet
    fails with "subscription removed". Removing it again changes nothing."""
    found = await one(session, webhook_id)
    if not found.active:
        return
    await session.execute(update(Webhook).where(Webhook.id == webhook_id).values(active=False))
    ended = await session.execute(
        update(Delivery).where(Delivery.webhook_id == webhook_id, Delivery.status == "pending")
        .values(status="failed", last_error="subscription removed"))
    await audit.record(session, principal, "webhook.removed", "webhook", webhook_id,
                       before={"active": True},
                       after={"active": False, "pending_failed": ended.rowcount or 0})


async def deliveries(session: AsyncSession, webhook_id: int, *, status: DeliveryStatus | None,
                     limit: int, cursor: str | None) -> Page[DeliveryOut]:
    """The delivery log of one subscription, oldest first."""
    query = (_log().where(Delivery.webhook_id == webhook_id)
             .order_by(Delivery.id).limit(limit + 1))
    if status is not None:
        query = query.where(Delivery.status == status)
    after = _after(cursor)
    if after is not None:
        query = query.where(Delivery.id > after)
    rows = (await session.execute(query)).all()
    if not rows and cursor is None:
        await one(session, webhook_id)
    return Page(items=[_delivery(r) for r in rows[:limit]],
                next_cursor=next_cursor(rows, limit, lambda r: [r.id]))


def _log():
    return (select(Delivery.id, Delivery.event_id, Event.type.label("event_type"),
                   Delivery.task_id, Delivery.status, Delivery.attempts, Delivery.last_status_code,
                   Delivery.last_error, Delivery.next_attempt_at, Delivery.delivered_at,
                   Delivery.created_at)
            .join(Event, Event.id == Delivery.event_id))


def _delivery(row) -> DeliveryOut:
    out = DeliveryOut.model_validate(row, from_attributes=True)
    if out.status != "pending":
        out.next_attempt_at = None  # only a pending delivery has a next attempt
    return out


async def send_test(session: AsyncSession, webhook_id: int) -> TestSent:
    found = await one(session, webhook_id)
    if not found.active:
        raise InvalidTransition(f"Webhook {webhook_id} was removed; create a new subscription.",
                                current="inactive")
    [event_id] = await outbox.emit_many(session, [outbox.Pending(
        outbox.TEST, payload={"message": "Duban webhook test: the subscription works.",
                              "webhook_id": webhook_id})], only_webhook=webhook_id)
    delivery_id = (await session.execute(select(Delivery.id).where(
        Delivery.event_id == event_id))).scalar_one()
    return TestSent(event_id=event_id, delivery_id=delivery_id, type=outbox.TEST)


async def retry(session: AsyncSession, principal: Principal, webhook_id: int,
                delivery_id: int) -> DeliveryOut:
    """A failed delivery is tried again from the start of its retry schedule."""
    found = await one(session, webhook_id)
    if not found.active:
        raise InvalidTransition(f"Webhook {webhook_id} was removed; its deliveries cannot be "
                                "retried.", current="inactive")
    done = (await session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.webhook_id == webhook_id,
                               Delivery.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=utcnow())
        .returning(Delivery.id))).scalar()
    if done is None:
        state = (await session.execute(select(Delivery.status).where(
            Delivery.id == delivery_id, Delivery.webhook_id == webhook_id))).scalar()
        if state is None:
            raise NotFound(f"Webhook {webhook_id} has no delivery {delivery_id}.")
        raise InvalidTransition(f"Delivery {delivery_id} is {state}: only a failed delivery is "
                                "retried.", current=state)
    await audit.record(session, principal, "delivery.retried", "delivery", delivery_id,
                       before={"status": "failed"}, after={"status": "pending"})
    return _delivery((await session.execute(_log().where(Delivery.id == delivery_id))).one())


def _after(cursor: str | None) -> int | None:
    values = decode(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] < 0:
        raise InvalidInput(_BAD_CURSOR)
    return values[0]
