"""Round trips to PostgreSQL on the hot paths. On a busy machine a round trip costs more than the
statement itself (a socket write that wakes the server, a read that waits for it), so the count
of statements a request sends is a design figure: a refactoring that adds one to the path every
phone and script takes is a regression no functional test would notice."""

from __future__ import annotations

import asyncio
import asyncio.selector_events

import pytest

from tests.api.test_assignments import API, Flow
from tests.conftest import BACKEND
from tests.helpers import ADMIN

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
    # The months exist: a filing that makes its month writes in a transaction (another path).
    for month in ("2025-03", "2025-04"):
        made = await flow.client.put(f"{API}/periods/{month}", json={"due_day": 25}, headers=ADMIN)
        assert made.status_code == 200, made.text
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
        await flow.get(f"/units/{flow.units['市住建局']}/overdue", await flow.token("市住建局"),
                       as_of="2030-01-01")
    # The unit's token, read once: later requests check it in their own statements.
    assert (await flow.get(f"/tasks/{flow.tasks['1']}", await flow.token("市发改委"))).status_code == 200
    return flow


async def test_a_keyed_report_takes_two_round_trips_and_so_does_its_correction(flow, sent):
    first = await flow.report("1", "市发改委", **{"Idempotency-Key": "rt-1"})
    assert first.status_code == 201, first.text
    # What it is decided from; then its writes, the receipt and the token's check as one
    # statement, committed with it (app/batch.py).
    assert len(sent) <= 2, shown(sent)
    sent.clear()
    again = await flow.report("1", "市发改委", progress=40, **{"Idempotency-Key": "rt-2"})
    assert again.status_code == 200, again.text
    assert len(sent) <= 2, shown(sent)


async def test_a_replayed_key_answers_in_three_round_trips(flow, sent):
    await flow.report("1", "市发改委", **{"Idempotency-Key": "rt-3"})
    sent.clear()
    replay = await flow.report("1", "市发改委", **{"Idempotency-Key": "rt-3"})
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(sent) <= 3, shown(sent)  # the state, the batch finding the key used, the answer


async def test_a_task_view_is_one_round_trip(flow, sent):
    response = await flow.get(f"/tasks/{flow.tasks['1']}", await flow.token("市发改委"))
    assert response.status_code == 200, response.text
    assert len(sent) <= 1, shown(sent)


async def test_an_overdue_page_is_one_round_trip(flow, sent):
    unit = flow.units["市发改委"]
    response = await flow.get(f"/units/{unit}/overdue", await flow.token("市发改委"),
                              as_of="2030-01-01")
    assert response.status_code == 200 and response.json()["items"], response.text
    assert len(sent) <= 1, shown(sent)
