"""The delivery worker and the overdue scanner, one asyncio task per process.

A round claims due deliveries in a short transaction, sends them with no transaction open, and
records the outcomes in another: a slow or failing receiver never holds a lock on business
rows, and the worker writes nothing but deliveries and events. Deliveries of one task to one
subscriber go in event order: one waits while an earlier one is still pending (retrying).

Tests and scripts drive it by hand: `await worker.step(now)`, `await worker.drain(now)`,
`await worker.scan_overdue(today)`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from contextlib import suppress
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Row, String, bindparam, cast, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.config import Settings
from app.db import Database
from app.events import outbox, signing
from app.models import Assignment, Delivery, Event, Webhook, utcnow
from app.tasks import obligations

log = logging.getLogger("duban.events")
_D = Delivery.__table__
_ERROR_CHARS = 500


class Worker:
    def __init__(self, db: Database, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.db, self.settings = db, settings
        self.client = client or httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False,
            headers={"User-Agent": "Duban-Webhooks/1.0"})
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        # Outcomes of sent deliveries that a database outage kept from being recorded.
        self._unrecorded: tuple[list[Row], list[tuple[int | None, str | None]], datetime] | None
        self._unrecorded = None

    async def __aenter__(self) -> Worker:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="duban-events-worker")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.client.aclose()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = loop.time()
        while not self._stop.is_set():
            busy = False
            try:
                if loop.time() >= next_scan:
                    await self.scan_overdue()
                    next_scan = loop.time() + self.settings.overdue_scan_seconds
                # Not only a full batch: a round sends at most one delivery per task and
                # subscriber (the next waits for it), so a backlog on a few tasks would
                # otherwise drain by one per task per poll interval.
                busy = await self.step() > 0
            except Exception:  # a database outage must not end delivery for the process' life
                log.exception("events worker round failed; trying again")
            if not busy:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.settings.worker_poll_seconds)

    async def step(self, now: datetime | None = None) -> int:
        """Claim up to a batch of due deliveries, send them, record the outcomes. Returns how
        many were attempted. `now` simulates the clock (tests); default the real one."""
        if self._unrecorded is not None:
            # Recorded before anything is claimed again: forgotten, the sent deliveries would be
            # sent twice once their lease ran out, and hold their tasks' later events till then.
            await self._record(*self._unrecorded)
            self._unrecorded = None
        claimed = await self._claim(now or utcnow())
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(c) for c in claimed))
        self._unrecorded = (claimed, outcomes, now or utcnow())
        await self._record(*self._unrecorded)
        self._unrecorded = None
        return len(claimed)

    async def drain(self, now: datetime | None = None, rounds: int = 1000) -> int:
        """Rounds until nothing is due at `now`; retries scheduled later stay pending."""
        total = 0
        for _ in range(rounds):
            sent = await self.step(now)
            if not sent:
                break
            total += sent
        return total

    async def _claim(self, now: datetime) -> list[Row]:
        due, earlier = aliased(Delivery, name="due"), aliased(Delivery, name="earlier")
        waiting = exists().where(earlier.webhook_id == due.webhook_id, earlier.task_id == due.task_id,
                                 earlier.status == "pending", earlier.event_id < due.event_id)
        picked = (select(due.id).where(due.status == "pending", due.next_attempt_at <= now, ~waiting)
                  .order_by(due.event_id).limit(self.settings.worker_batch_size))
        lease = now + timedelta(seconds=self.settings.webhook_lease_seconds)
        async with self.db.session() as session:
            # The guard repeats the due condition: of two workers that picked the same row,
            # only the first UPDATE matches it, so no delivery is sent twice at once.
            ids = list((await session.execute(
                update(_D).where(_D.c.id.in_(picked), _D.c.status == "pending",
                                 _D.c.next_attempt_at <= now)
                .values(next_attempt_at=lease).returning(_D.c.id))).scalars())
            if not ids:
                await session.rollback()
                return []
            rows = (await session.execute(
                select(Delivery.id, Delivery.attempts, Event.id.label("event_id"), Event.type,
                       Event.created_at, Event.payload, Webhook.url, Webhook.secret)
                .join(Event, Event.id == Delivery.event_id)
                .join(Webhook, Webhook.id == Delivery.webhook_id)
                .where(Delivery.id.in_(ids)).order_by(Delivery.event_id))).all()
            await session.commit()
        return rows

    async def _send(self, claimed: Row) -> tuple[int | None, str | None]:
        """(status code, error): error None means delivered."""
        body = outbox.body(claimed.event_id, claimed.type, claimed.created_at, claimed.payload)
        headers = {"Content-Type": "application/json", "X-Duban-Event": claimed.type,
                   "X-Duban-Delivery": str(claimed.id),
                   signing.HEADER: signing.sign(claimed.secret, int(time.time()), body)}
        try:
            async with self.client.stream("POST", claimed.url, content=body, headers=headers) as r:
                if 200 <= r.status_code < 300:
                    return r.status_code, None
                return r.status_code, f"HTTP {r.status_code}: {await _start_of(r)}"[:_ERROR_CHARS]
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]

    async def _record(self, claimed: list[Row], outcomes: list[tuple[int | None, str | None]],
                      now: datetime) -> None:
        delivered, failed = [], []
        limit = self.settings.webhook_max_attempts
        for c, (code, error) in zip(claimed, outcomes, strict=True):
            if error is None:
                delivered.append({"d_id": c.id, "d_code": code})
            else:
                failed.append({"d_id": c.id, "d_code": code, "d_error": error,
                               "d_status": "failed" if c.attempts + 1 >= limit else "pending",
                               "d_next": now + backoff(self.settings, c.attempts + 1)})
        async with self.db.session() as session:
            if delivered:
                await session.execute(
                    update(_D).where(_D.c.id == bindparam("d_id"))
                    .values(status="delivered", attempts=_D.c.attempts + 1, last_error=None,
                            last_status_code=bindparam("d_code"), delivered_at=now), delivered)
            if failed:
                # A subscription removed meanwhile keeps its "failed" verdict.
                await session.execute(
                    update(_D).where(_D.c.id == bindparam("d_id"), _D.c.status == "pending")
                    .values(status=bindparam("d_status"), attempts=_D.c.attempts + 1,
                            last_status_code=bindparam("d_code"), last_error=bindparam("d_error"),
                            next_attempt_at=bindparam("d_next")), failed)
            await session.commit()
        for c, (_, error) in zip(claimed, outcomes, strict=True):
            if error is not None:
                log.info("delivery %s of event %s failed (attempt %s): %s", c.id, c.event_id,
                         c.attempts + 1, error)

    async def scan_overdue(self, today: date | None = None) -> int:
        """assignment.overdue for every open obligation past its deadline that has not had one
        for this deadline; in batches, each its own transaction. Returns how many were emitted."""
        today = today or datetime.now(self.settings.tz).date()
        total, after = 0, 0
        while True:
            async with self.db.session() as session:
                found, after = await emit_overdue(session, today, after,
                                                  self.settings.overdue_scan_batch)
                await session.commit()
            total += found
            if after is None:
                return total


async def emit_overdue(session: AsyncSession, today: date, after: int,
                       limit: int) -> tuple[int, int | None]:
    """One batch after obligation id `after`: (events emitted, the id to continue after, or None
    when the scan is done). The dedupe key names the deadline: an extension that moves it lets
    the obligation fall overdue, and be reported, once more."""
    fired = exists().where(Event.dedupe_key == literal("assignment.overdue:")
                           + cast(Assignment.id, String) + literal(":")
                           + cast(Assignment.effective_deadline, String))
    rows = (await session.execute(
        select(Assignment.id, Assignment.task_id, Assignment.unit_id, Assignment.role,
               Assignment.effective_deadline)
        .where(obligations.overdue_clause(today), Assignment.id > after, ~fired)
        .order_by(Assignment.id).limit(limit))).all()
    await outbox.emit_many(session, [outbox.Pending(
        "assignment.overdue", r.task_id, r.id, r.unit_id,
        {"overdue": {"deadline": r.effective_deadline, "role": r.role, "as_of": today,
                     "days_overdue": obligations.days_overdue(r.effective_deadline, today)}},
        dedupe_key=f"assignment.overdue:{r.id}:{r.effective_deadline.isoformat()}") for r in rows])
    return len(rows), (rows[-1].id if len(rows) == limit else None)


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure."""
    delay = min(settings.webhook_retry_max_seconds,
                settings.webhook_retry_base_seconds * 2 ** min(attempts - 1, 60))
    return timedelta(seconds=delay * (1 - settings.webhook_retry_jitter * random.random()))


async def _start_of(response: httpx.Response, size: int = 200) -> str:
    # A receiver's error page can be large: keep the start, enough to say what went wrong.
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= size:
            break
    return data[:size].decode("utf-8", "replace").strip()
