"""A token the service has seen before is still checked on every request.

The service keeps the token rows it has read (app/auth/principal.py) so that a request need not
look its caller up on its own; the row is then checked by the request's own statement (the task
view, the overdue page, a filed report) or by the unit of work before anything is answered or
committed. Each scenario uses a unit's token, revokes it, and uses it again: 401, and nothing
written.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, Event, IdempotencyRecord, Report
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN


@pytest.fixture
async def flow(client, api, database) -> Flow:
    flow = await Flow(client, api, database).start()
    await flow.accept("1", "市发改委")
    return flow


async def revoked(flow: Flow, unit: str) -> dict:
    """The unit's token, used once (so the service has it), then revoked by the office."""
    headers = await flow.token(unit)
    assert (await flow.get(f"/units/{flow.units[unit]}/overdue", headers)).status_code == 200
    tokens = (await flow.get("/tokens")).json()["items"]
    mine = [t for t in tokens if t["unit_id"] == flow.units[unit] and t["revoked_at"] is None]
    for token in mine:
        assert (await flow.client.delete(f"{API}/tokens/{token['id']}", headers=ADMIN)).status_code == 204
    return headers


async def written(flow: Flow) -> tuple[int, ...]:
    async with flow.database.session() as s:
        return tuple([(await s.execute(select(func.count()).select_from(m))).scalar_one()
                      for m in (Report, AuditEntry, Event, IdempotencyRecord)])


def refused(response) -> bool:
    return response.status_code == 401 and response.json()["code"] == "unauthorized"


class TestARevokedTokenSeenBefore:
    async def test_cannot_read_a_task(self, flow):
        headers = await revoked(flow, "市发改委")
        assert refused(await flow.get(f"/tasks/{flow.tasks['1']}", headers))
        assert refused(await flow.get("/tasks/999999", headers))  # nor learn that it is missing

    async def test_cannot_read_its_overdue_page(self, flow):
        headers = await revoked(flow, "市发改委")
        unit = flow.units["市发改委"]
        assert refused(await flow.get(f"/units/{unit}/overdue", headers, as_of="2030-01-01"))
        assert refused(await flow.get(f"/units/{unit}/overdue", headers, cursor="bad"))

    async def test_cannot_read_what_no_statement_of_its_own_checks(self, flow):
        headers = await revoked(flow, "市发改委")
        assert refused(await flow.get("/tasks", headers))
        assert refused(await flow.get(f"/tasks/{flow.tasks['1']}/reports", headers))

    async def test_cannot_file_a_report_with_or_without_a_key(self, flow):
        headers = await revoked(flow, "市发改委")
        before = await written(flow)
        body = {"period": "2025-03", "progress": 30, "summary": "按计划推进"}
        url = f"/tasks/{flow.tasks['1']}/reports"
        assert refused(await flow.post(url, body, headers))
        assert refused(await flow.post(url, body, {**headers, "Idempotency-Key": "after-revoke"}))
        assert await written(flow) == before

    async def test_cannot_replay_what_it_filed_before_it_was_revoked(self, flow):
        headers = {**await flow.token("市发改委"), "Idempotency-Key": "before-revoke"}
        body = {"period": "2025-03", "progress": 30, "summary": "按计划推进"}
        url = f"/tasks/{flow.tasks['1']}/reports"
        assert (await flow.post(url, body, headers)).status_code == 201
        await revoked(flow, "市发改委")
        before = await written(flow)
        assert refused(await flow.post(url, body, headers))  # the retry
        assert refused(await flow.post(url, {**body, "progress": 31}, headers))  # the key reused
        assert await written(flow) == before

    async def test_cannot_write_through_the_transactional_path_either(self, flow):
        headers = await revoked(flow, "市住建局")
        before = await written(flow)
        response = await flow.post(f"/tasks/{flow.tasks['2']}/acceptance", {}, headers)
        assert refused(response)
        assert (await flow.obligation("2", "市住建局"))["status"] == "assigned"
        assert await written(flow) == before


class TestATokenStillHeld:
    async def test_reads_and_writes_on_as_before(self, flow):
        headers = await flow.token("市发改委")
        for _ in range(2):  # first looked up, then taken from what the service keeps
            assert (await flow.get(f"/tasks/{flow.tasks['1']}", headers)).status_code == 200
            unit = flow.units["市发改委"]
            assert (await flow.get(f"/units/{unit}/overdue", headers)).status_code == 200
        assert (await flow.report("1", "市发改委")).status_code == 201
        assert (await flow.report("1", "市发改委", progress=35)).status_code == 200
