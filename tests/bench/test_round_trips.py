"""Round trips to PostgreSQL on the hot paths. On a busy machine a round trip costs more than the
statement itself (a socket write that wakes the server, a read that waits for it), so the count
of statements a request sends is a design figure: a refactoring that adds one to the path every
phone and script takes is a regression no functional test would notice."""

from __future__ import annotations

import asyncio
import asyncio.selector_events

import pytest

from tests.api.test_assignments import Flow
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="round trips to a server")


@pytest.fixture
def sent(monkeypatch) -> list[bytes]:
    """Every write to a socket: with the app served in process (httpx's ASGI transport) and its
    worker off, each is a message batch to PostgreSQL, answered before the next (asyncpg sends a
    statement's Parse, Bind, Execute and Sync as one write)."""
    writes: list[bytes] = []
    write = asyncio.selector_events._SelectorSocketTransport.write

    def counted(self, data) -> None:
        writes.append(bytes(data))
        return write(self, data)

    monkeypatch.setattr(asyncio.selector_events._SelectorSocketTransport, "write", counted)
    return writes


def shown(writes: list[bytes]) -> str:
    # The text of each batch's first statement, for the failure message.
    return "\n".join(w[5:90].decode("utf-8", "replace").replace("\x00", " ") for w in writes)


@pytest.fixture
async def flow(client, api, database) -> Flow:
    flow = await Flow(client, api, database).start()
    await flow.accept("1", "市发改委")
    await flow.accept("2", "市住建局")
    # Each statement is prepared on a connection's first use of it (one round trip more, once):
    # the paths measured here run first on another obligation, so what is counted is steady.
    for n in range(2):
        warm = await flow.report("2", "市住建局", period=f"2025-0{3 + n}",
                                 **{"Idempotency-Key": f"warm-{n}"})
        assert warm.status_code == 201, warm.text
        await flow.report("2", "市住建局", period=f"2025-0{3 + n}", progress=50,
                          **{"Idempotency-Key": f"warm-again-{n}"})
        await flow.report("2", "市住建局", period=f"2025-0{3 + n}", progress=50,
                          **{"Idempotency-Key": f"warm-again-{n}"})
        await flow.get(f"/tasks/{flow.tasks['2']}", await flow.token("市住建局"))
    await flow.token("市发改委")
    return flow


async def test_a_keyed_report_takes_nine_round_trips_and_its_correction_eleven(flow, sent):
    first = await flow.report("1", "市发改委", **{"Idempotency-Key": "rt-1"})
    assert first.status_code == 201, first.text
    # BEGIN, key and token, the obligation with its period, the move, the report, the audit,
    # the event with its task's lock, the answer kept for the key, COMMIT.
    assert len(sent) <= 9, shown(sent)
    sent.clear()
    again = await flow.report("1", "市发改委", progress=40,
                              **{"Idempotency-Key": "rt-2"})
    assert again.status_code == 200, again.text
    assert len(sent) <= 11, shown(sent)  # and the report read and updated in place


async def test_a_replayed_key_answers_in_three_round_trips(flow, sent):
    await flow.report("1", "市发改委", **{"Idempotency-Key": "rt-3"})
    sent.clear()
    replay = await flow.report("1", "市发改委", **{"Idempotency-Key": "rt-3"})
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(sent) <= 3, shown(sent)  # BEGIN, the key and token, ROLLBACK


async def test_a_task_view_is_two_round_trips_the_token_and_the_view(flow, sent):
    response = await flow.get(f"/tasks/{flow.tasks['1']}", await flow.token("市发改委"))
    assert response.status_code == 200, response.text
    assert len(sent) <= 2, shown(sent)
