"""Concurrent writes over the same app: each race has exactly one winner, the loser gets a
clear 409 or 412 (or, for a report, corrects the winner's), never a 500 or a duplicate row."""

from __future__ import annotations

import asyncio

import pytest

from app.models import CompletionRequest, ExtensionRequest, IdempotencyRecord, Report
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


class TestRaces:
    async def test_two_patches_with_one_if_match_give_one_200_and_one_412(self, flow):
        held = await flow.obligation("1", "市工信局")
        path = f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}"
        headers = {**ADMIN, "If-Match": held["etag"]}
        first, second = await asyncio.gather(
            flow.client.patch(path, json={"deadline": "2025-04-30"}, headers=headers),
            flow.client.patch(path, json={"deadline": "2025-05-31"}, headers=headers))
        assert sorted([first.status_code, second.status_code]) == [200, 412]
        winner = first if first.status_code == 200 else second
        stored = await flow.obligation("1", "市工信局")
        assert stored["own_deadline"] == winner.json()["own_deadline"]
        assert stored["version"] == held["version"] + 1

    async def test_two_reports_for_one_period_leave_one_report(self, flow):
        await flow.accept("1", "市发改委")
        first, second = await asyncio.gather(
            flow.report("1", "市发改委", progress=40, summary="甲"),
            flow.report("1", "市发改委", progress=50, summary="乙"))
        codes = sorted([first.status_code, second.status_code])
        assert codes in ([200, 201], [201, 409]), (first.text, second.text)
        assert await flow.count(Report) == 1
        stored = (await flow.get(f"/tasks/{flow.tasks['1']}/reports")).json()["items"][0]
        last = first if first.json()["version"] == stored["version"] else second
        assert (stored["progress"], stored["summary"]) == (last.json()["progress"], last.json()["summary"])

    async def test_reports_for_two_months_at_once_leave_the_later_months_progress(self, flow):
        await flow.accept("1", "市发改委")
        for _ in range(3):
            responses = await asyncio.gather(
                flow.report("1", "市发改委", period="2025-04", progress=60),
                flow.report("1", "市发改委", period="2025-03", progress=30))
            assert {r.status_code for r in responses} <= {200, 201}
            held = await flow.obligation("1", "市发改委")
            assert (held["progress"], held["last_period"]) == (60, "2025-04")
        assert await flow.count(Report) == 2

    async def test_one_retried_key_sent_twice_at_once_applies_once(self, flow):
        await flow.accept("1", "市发改委")
        key = {"Idempotency-Key": "same-key"}
        first, second = await asyncio.gather(flow.report("1", "市发改委", **key),
                                             flow.report("1", "市发改委", **key))
        assert {first.status_code, second.status_code} <= {201, 409}, (first.text, second.text)
        assert 201 in (first.status_code, second.status_code)
        if first.status_code == second.status_code:
            assert first.content == second.content
        assert await flow.count(Report) == 1 and await flow.count(IdempotencyRecord) == 1

    async def test_two_leads_asking_to_close_at_once_leave_one_request(self, flow):
        await flow.accept("2", "市住建局")
        await flow.accept("2", "市发改委")
        responses = await asyncio.gather(*[
            flow.post(f"/tasks/{flow.tasks['2']}/completion", {"summary": "完成"}, await flow.token(unit))
            for unit in ("市住建局", "市发改委")])
        assert sorted(r.status_code for r in responses) == [201, 409]
        assert await flow.count(CompletionRequest) == 1

    async def test_two_extension_requests_at_once_leave_one_pending(self, flow):
        lead = await flow.token("市发改委")
        responses = await asyncio.gather(*[
            flow.post(f"/tasks/{flow.tasks['1']}/extensions", {"deadline": d, "reason": "x"}, lead)
            for d in ("2025-08-31", "2025-09-30")])
        assert sorted(r.status_code for r in responses) == [201, 409]
        assert await flow.count(ExtensionRequest) == 1

    async def test_two_decisions_on_one_extension_give_one_200_and_one_409(self, flow):
        asked = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                 {"deadline": "2025-09-30", "reason": "x"}, await flow.token("市发改委"))).json()
        approve, reject = await asyncio.gather(
            flow.post(f"/extensions/{asked['id']}/decision", {"approved": True}),
            flow.post(f"/extensions/{asked['id']}/decision", {"approved": False}))
        assert sorted([approve.status_code, reject.status_code]) == [200, 409]
        stored = (await flow.get(f"/extensions/{asked['id']}")).json()
        held = await flow.obligation("1", "市发改委")
        if approve.status_code == 200:
            assert stored["status"] == "approved" and held["extended_to"] == "2025-09-30"
        else:
            assert stored["status"] == "rejected" and held["extended_to"] is None

    async def test_two_verifications_at_once_close_the_task_once(self, flow):
        await flow.accept("1", "市发改委")
        await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "完成"},
                        await flow.token("市发改委"))
        responses = await asyncio.gather(*[
            flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True}) for _ in range(2)])
        assert sorted(r.status_code for r in responses) == [200, 409]
        assert len(await flow.audit(action="task.closed")) == 1
