"""A staged batch (app/batch.py) is written whole or not at all, on both databases.

On PostgreSQL it is one statement outside any transaction; on SQLite a sequence of statements
in the session's transaction, which the caller rolls back when the batch is stale.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, select, update

from app.batch import Batch, Ref, Stale
from app.db import Database
from app.models import Delivery, Event, ReportingPeriod, Webhook

NOW = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
_P = ReportingPeriod.__table__
OPEN = select(_P.c.period).where(_P.c.period == bindparam("period"), _P.c.closed_at.is_(None)) \
    .with_for_update(read=True)
SET_DAY = (update(ReportingPeriod)
           .where(ReportingPeriod.period == bindparam("period"), ReportingPeriod.due_day == bindparam("was"))
           .values(due_day=bindparam("day")).returning(ReportingPeriod.period))


@pytest.fixture
async def db(database: Database) -> AsyncIterator[Database]:
    async with database.session() as s:
        s.add_all([ReportingPeriod(period="2026-01", due_day=25),
                   ReportingPeriod(period="2025-12", due_day=25, closed_at=NOW),
                   Webhook(id=7, url="http://127.0.0.1:9/hook", secret="s", events=["*"])])
        await s.commit()
    yield database


async def apply(db: Database, batch: Batch) -> None:
    """As the unit of work applies a staged batch: commit when whole, roll back when stale."""
    async with db.session() as s:
        try:
            await batch.apply(s)
        except Stale:
            await s.rollback()
            raise
        await s.commit()


async def state(db: Database) -> tuple:
    async with db.session() as s:
        days = dict((await s.execute(select(ReportingPeriod.period, ReportingPeriod.due_day))).all())
        events = (await s.execute(select(func.count()).select_from(Event))).scalar_one()
        deliveries = (await s.execute(select(Delivery.event_id, Delivery.webhook_id))).all()
        return days, events, deliveries


def event(name: str = "event") -> dict:
    return {"type": "test.batch", "task_id": None, "payload": {"name": name}, "created_at": NOW}


class TestABatch:
    async def test_writes_every_step_when_every_guard_holds(self, db):
        batch = Batch()
        batch.require("open", OPEN, period="2026-01")
        batch.update("day", SET_DAY, period="2026-01", was=25, day=20)
        batch.insert("event", Event.__table__, event())
        batch.insert("delivery", Delivery.__table__, {
            "event_id": Ref("event", "id"), "webhook_id": 7, "task_id": None, "status": "pending",
            "attempts": 0, "next_attempt_at": NOW, "created_at": NOW})
        await apply(db, batch)
        days, events, deliveries = await state(db)
        assert days["2026-01"] == 20 and events == 1
        async with db.session() as s:
            event_id = (await s.execute(select(Event.id))).scalar_one()
        assert deliveries == [(event_id, 7)]

    async def test_writes_nothing_when_a_guard_finds_no_row(self, db):
        before = await state(db)
        batch = Batch()
        batch.require("open", OPEN, period="2025-12")  # closed
        batch.update("day", SET_DAY, period="2026-01", was=25, day=20)
        batch.insert("event", Event.__table__, event())
        with pytest.raises(Stale) as stale:
            await apply(db, batch)
        assert stale.value.step == "open"
        assert await state(db) == before

    async def test_writes_nothing_when_its_compare_and_set_misses(self, db):
        before = await state(db)
        batch = Batch()
        batch.update("day", SET_DAY, period="2026-01", was=24, day=20)  # not the day read
        batch.insert("event", Event.__table__, event())
        with pytest.raises(Stale) as stale:
            await apply(db, batch)
        assert stale.value.step == "day"
        assert await state(db) == before

    async def test_undoes_a_write_when_a_later_step_finds_nothing(self, db):
        # A guard after a write (here, an insert that meets an existing key): the write made
        # before it must not stay. PostgreSQL aborts the statement; SQLite's caller rolls back.
        before = await state(db)
        batch = Batch()
        batch.update("day", SET_DAY, period="2026-01", was=25, day=20)
        batch.insert("period", _P, {"period": "2026-01", "due_day": 1},
                     skip_conflicts_on=("period",), must=True)
        batch.insert("event", Event.__table__, event())
        with pytest.raises(Stale):
            await apply(db, batch)
        assert await state(db) == before

    async def test_two_steps_may_bind_the_same_names(self, db):
        batch = Batch()
        batch.update("first", SET_DAY, period="2026-01", was=25, day=20)
        batch.update("second", SET_DAY, period="2025-12", was=25, day=21)
        await apply(db, batch)
        days, _, _ = await state(db)
        assert (days["2026-01"], days["2025-12"]) == (20, 21)

    async def test_a_first_guard_goes_before_what_was_staged(self, db):
        batch = Batch()
        batch.update("day", SET_DAY, period="2026-01", was=25, day=20)
        batch.require("open", OPEN, first=True, period="2025-12")
        with pytest.raises(Stale) as stale:
            await apply(db, batch)
        assert stale.value.step == "open"  # found before the update was made: not "partial"
