"""A unit sees and changes only what is assigned to it. Another unit's task, obligation,
report or request answers 404 (or 403 for office-only steps), the same as for something that
does not exist, and no error names anything of the other unit."""

from __future__ import annotations

import pytest

from app.models import AuditEntry
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN

# What the other unit's objects would give away if an error quoted them.
SECRETS = ("住建", "充电桩", "交通运输")


@pytest.fixture
async def world(client, api, database) -> dict:
    """市科技局 (on task 1 only) looks at task 2, where 市住建局 leads and 市交通运输局 works."""
    flow = await Flow(client, api, database).start()
    await flow.accept("2", "市住建局")
    report = (await flow.report("2", "市住建局")).json()
    lead = await flow.token("市住建局")
    extension = (await flow.post(f"/tasks/{flow.tasks['2']}/extensions",
                                 {"deadline": "2026-06-30", "reason": "征地延迟"}, lead)).json()
    change = (await flow.post(f"/tasks/{flow.tasks['2']}/responsibility-changes",
                              {"kind": "remove", "reason": "职能调整"},
                              await flow.token("市交通运输局"))).json()
    return {"flow": flow, "task": flow.tasks["2"], "report": report, "extension": extension,
            "change": change, "held": await flow.obligation("2", "市住建局"),
            "outsider": await flow.token("市科技局"), "neighbour": await flow.token("市交通运输局")}


def leaks_nothing(response) -> bool:
    return not any(secret in response.text for secret in SECRETS)


class TestReading:
    async def test_another_units_task_and_its_rows_are_404(self, world):
        flow, task, who = world["flow"], world["task"], world["outsider"]
        for path in (f"/tasks/{task}", f"/tasks/{task}/assignments",
                     f"/tasks/{task}/assignments/{world['held']['id']}", f"/tasks/{task}/reports",
                     f"/reports/{world['report']['id']}", f"/extensions/{world['extension']['id']}",
                     f"/responsibility-changes/{world['change']['id']}"):
            response = await flow.get(path, who)
            assert response.status_code == 404, path
            assert leaks_nothing(response), (path, response.text)

    async def test_a_unit_on_the_same_task_sees_only_its_own_rows(self, world):
        flow, task, who = world["flow"], world["task"], world["neighbour"]
        rows = (await flow.get(f"/tasks/{task}/assignments", who)).json()["items"]
        assert [r["unit"]["short_name"] for r in rows] == ["市交通运输局"]
        assert (await flow.get(f"/tasks/{task}/assignments/{world['held']['id']}", who)).status_code == 404
        assert (await flow.get(f"/tasks/{task}/reports", who)).json()["items"] == []
        assert (await flow.get(f"/reports/{world['report']['id']}", who)).status_code == 404

    async def test_lists_hold_only_the_units_own_requests(self, world):
        flow, who = world["flow"], world["outsider"]
        for path in ("/extensions", "/completion-requests", "/responsibility-changes"):
            response = await flow.get(path, who)
            assert response.json() == {"items": [], "next_cursor": None}, path
        named = await flow.get("/extensions", who, unit="市住建局")
        assert named.status_code == 403 and leaks_nothing(named)


class TestChanging:
    async def test_every_step_on_another_units_obligation_is_404_and_changes_nothing(self, world):
        flow, task, who = world["flow"], world["task"], world["outsider"]
        audit_before = await flow.count(AuditEntry)
        for path, body in (
                (f"/tasks/{task}/acceptance", {}),
                (f"/tasks/{task}/reports", {"period": "2025-03", "progress": 99, "summary": "篡改"}),
                (f"/tasks/{task}/extensions", {"deadline": "2027-01-01", "reason": "x"}),
                (f"/tasks/{task}/completion", {"summary": "x"}),
                (f"/tasks/{task}/responsibility-changes", {"kind": "remove", "reason": "x"})):
            response = await flow.post(path, body, who)
            assert response.status_code == 404, (path, response.text)
            assert leaks_nothing(response), (path, response.text)
        assert await flow.count(AuditEntry) == audit_before
        assert await flow.obligation("2", "市住建局") == world["held"]
        assert (await flow.get(f"/reports/{world['report']['id']}")).json() == world["report"]

    async def test_acting_for_another_unit_is_403(self, world):
        flow, who = world["flow"], world["outsider"]
        for path, body in ((f"/tasks/{flow.tasks['1']}/acceptance", {"unit": "市住建局"}),
                           (f"/tasks/{world['task']}/reports",
                            {"unit": "市住建局", "period": "2025-03", "progress": 99, "summary": "x"})):
            response = await flow.post(path, body, who)
            assert response.status_code == 403 and leaks_nothing(response)

    async def test_office_steps_are_403_for_a_unit(self, world):
        flow, task, who = world["flow"], world["task"], world["outsider"]
        path = f"{API}/tasks/{task}/assignments/{world['held']['id']}"
        patched = await flow.client.patch(path, json={"role": "cooperating"}, headers=who)
        deleted = await flow.client.delete(path, headers=who)
        decided = await flow.post(f"/extensions/{world['extension']['id']}/decision", {"approved": True}, who)
        changed = await flow.post(f"/responsibility-changes/{world['change']['id']}/decision",
                                  {"approved": True}, who)
        verified = await flow.post(f"/tasks/{task}/verification", {"approved": True}, who)
        for response in (patched, deleted, decided, changed, verified):
            assert response.status_code == 403 and leaks_nothing(response)
        assert await flow.obligation("2", "市住建局") == world["held"]
        assert (await flow.get(f"/extensions/{world['extension']['id']}", ADMIN)).json()["status"] == "pending"

    async def test_a_reader_reads_everything_and_changes_nothing(self, world):
        flow, task = world["flow"], world["task"]
        reader = await flow.api.mint(None, role="reader")
        assert len((await flow.get(f"/tasks/{task}/assignments", reader)).json()["items"]) == 3
        assert (await flow.get(f"/reports/{world['report']['id']}", reader)).status_code == 200
        for path, body in ((f"/tasks/{task}/acceptance", {"unit": "市发改委"}),
                           (f"/tasks/{task}/extensions", {"unit": "市住建局", "deadline": "2027-01-01",
                                                         "reason": "x"}),
                           ("/periods/2025-03/close", {})):
            assert (await flow.post(path, body, reader)).status_code == 403, path
