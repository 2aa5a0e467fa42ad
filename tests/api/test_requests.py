"""延期, 销号 and 责任调整: what a unit asks about its obligation and how the office decides."""

from __future__ import annotations

import pytest

from app.models import CompletionRequest, ExtensionRequest, ResponsibilityChange
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


async def overdue_tasks(flow, unit: str, as_of: str) -> list[int]:
    response = await flow.get(f"/units/{flow.units[unit]}/overdue", as_of=as_of)
    assert response.status_code == 200, response.text
    return [item["task"]["id"] for item in response.json()["items"]]


class TestExtensions:
    async def test_a_unit_asks_for_a_later_deadline(self, flow):
        await flow.accept("1", "市发改委")
        response = await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                   {"deadline": "2025-09-30", "reason": "资金未到位"},
                                   await flow.token("市发改委"))
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["status"], body["requested_deadline"], body["previous_deadline"]) == \
            ("pending", "2025-09-30", "2025-06-30")
        assert (await flow.obligation("1", "市发改委"))["effective_deadline"] == "2025-06-30"

    async def test_the_new_date_must_be_after_the_current_deadline(self, flow):
        for deadline in ("2025-06-30", "2025-01-31"):
            response = await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                       {"deadline": deadline, "reason": "x"}, await flow.token("市发改委"))
            assert response.status_code == 422 and "2025-06-30" in response.json()["detail"]
        assert await flow.count(ExtensionRequest) == 0

    async def test_one_pending_request_per_obligation(self, flow):
        lead, path = await flow.token("市发改委"), f"/tasks/{flow.tasks['1']}/extensions"
        first = await flow.post(path, {"deadline": "2025-09-30", "reason": "x"}, lead)
        second = await flow.post(path, {"deadline": "2025-10-31", "reason": "y"}, lead)
        assert second.status_code == 409 and second.json()["pending_id"] == first.json()["id"]

    async def test_an_approval_moves_the_deadline_and_clears_overdue(self, flow):
        asked = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                 {"deadline": "2025-09-30", "reason": "x"},
                                 await flow.token("市发改委"))).json()
        assert flow.tasks["1"] in await overdue_tasks(flow, "市发改委", "2025-07-02")
        decided = await flow.post(f"/extensions/{asked['id']}/decision", {"approved": True, "comment": "同意"})
        assert decided.status_code == 200
        body = decided.json()
        assert (body["status"], body["comment"]) == ("approved", "同意") and body["decided_at"]
        assert (body["assignment"]["extended_to"], body["assignment"]["effective_deadline"]) == \
            ("2025-09-30", "2025-09-30")
        assert flow.tasks["1"] not in await overdue_tasks(flow, "市发改委", "2025-07-02")
        assert flow.tasks["1"] in await overdue_tasks(flow, "市发改委", "2025-10-01")

    async def test_a_rejection_changes_nothing_else_and_deciding_twice_is_409(self, flow):
        asked = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                 {"deadline": "2025-09-30", "reason": "x"},
                                 await flow.token("市发改委"))).json()
        before = await flow.obligation("1", "市发改委")
        rejected = await flow.post(f"/extensions/{asked['id']}/decision", {"approved": False})
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        assert rejected.json()["assignment"] is None
        assert await flow.obligation("1", "市发改委") == before
        again = await flow.post(f"/extensions/{asked['id']}/decision", {"approved": True})
        assert again.status_code == 409 and again.json()["current"] == "rejected"
        assert (await flow.post("/extensions/99999/decision", {"approved": True})).status_code == 404

    async def test_only_the_office_decides(self, flow):
        lead = await flow.token("市发改委")
        asked = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                 {"deadline": "2025-09-30", "reason": "x"}, lead)).json()
        response = await flow.post(f"/extensions/{asked['id']}/decision", {"approved": True}, lead)
        assert response.status_code == 403

    async def test_lists_filter_by_status_task_and_unit_and_units_see_their_own(self, flow):
        one = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                               {"deadline": "2025-09-30", "reason": "x"}, await flow.token("市发改委"))).json()
        two = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                               {"deadline": "2025-09-30", "reason": "x"}, await flow.token("市工信局"))).json()
        await flow.post(f"/extensions/{one['id']}/decision", {"approved": True})
        ids = lambda page: [e["id"] for e in page.json()["items"]]  # noqa: E731
        assert ids(await flow.get("/extensions")) == [one["id"], two["id"]]
        assert ids(await flow.get("/extensions", status="pending")) == [two["id"]]
        assert ids(await flow.get("/extensions", unit="市发改委", task=flow.tasks["1"])) == [one["id"]]
        assert ids(await flow.get("/extensions", await flow.token("市工信局"))) == [two["id"]]
        assert (await flow.get(f"/extensions/{two['id']}")).json()["status"] == "pending"


class TestCompletion:
    async def start(self, flow, number: str, unit: str, summary: str = "全部完成") -> dict:
        await flow.accept(number, unit)
        response = await flow.post(f"/tasks/{flow.tasks[number]}/completion", {"summary": summary},
                                   await flow.token(unit))
        assert response.status_code == 201, response.text
        return response.json()

    async def test_the_lead_asks_for_the_whole_task(self, flow):
        asked = await self.start(flow, "1", "市发改委")
        assert (asked["scope"], asked["status"]) == ("task", "pending")
        assert (await flow.obligation("1", "市发改委"))["status"] == "completion_requested"
        again = await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "x"},
                                await flow.token("市发改委"))
        assert again.status_code == 409

    async def test_asking_before_accepting_is_409(self, flow):
        response = await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "x"},
                                   await flow.token("市发改委"))
        assert response.status_code == 409 and response.json()["current"] == "assigned"
        assert await flow.count(CompletionRequest) == 0

    async def test_a_second_lead_cannot_ask_while_the_first_request_waits(self, flow):
        await self.start(flow, "2", "市住建局")
        await flow.accept("2", "市发改委")
        response = await flow.post(f"/tasks/{flow.tasks['2']}/completion", {"summary": "x"},
                                   await flow.token("市发改委"))
        assert response.status_code == 409 and (await flow.obligation("2", "市发改委"))["status"] == "accepted"

    async def test_approving_the_leads_request_closes_every_open_obligation_and_the_task(self, flow):
        await self.start(flow, "1", "市发改委")
        verified = await flow.post(f"/tasks/{flow.tasks['1']}/verification",
                                   {"approved": True, "comment": "核查属实，予以销号"})
        assert verified.status_code == 200, verified.text
        body = verified.json()
        assert body["request"]["status"] == "approved" and body["task_status"] == "closed"
        assert body["task_closed_at"] is not None and len(body["closed_assignments"]) == 3
        for unit in ("市发改委", "市工信局", "市科技局"):
            held = await flow.obligation("1", unit)
            assert (held["status"], held["is_open"]) == ("closed", False) and held["closed_at"]
        assert flow.tasks["1"] not in await overdue_tasks(flow, "市工信局", "2026-01-01")
        again = await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True})
        assert again.status_code == 409 and again.json()["current"] == "closed"
        actions = [e["action"] for e in await flow.audit(task=flow.tasks["1"])]
        assert actions.count("assignment.closed") == 3
        assert {"completion.requested", "verification.approved", "task.closed"} <= set(actions)

    async def test_a_late_verification_still_closes(self, flow):
        await self.start(flow, "1", "市发改委")
        assert flow.tasks["1"] in await overdue_tasks(flow, "市发改委", "2026-01-01")
        verified = await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True})
        assert verified.json()["task_status"] == "closed"
        assert flow.tasks["1"] not in await overdue_tasks(flow, "市发改委", "2026-01-01")

    async def test_a_returned_request_reopens_the_obligation(self, flow):
        await self.start(flow, "1", "市发改委")
        returned = await flow.post(f"/tasks/{flow.tasks['1']}/verification",
                                   {"approved": False, "comment": "佐证材料不全"})
        assert returned.status_code == 200
        body = returned.json()
        assert (body["request"]["status"], body["request"]["comment"]) == ("returned", "佐证材料不全")
        assert body["task_status"] == "open" and body["closed_assignments"] == []
        held = await flow.obligation("1", "市发改委")
        assert (held["status"], held["is_open"]) == ("returned", True)
        assert (await flow.report("1", "市发改委", progress=95)).status_code == 201
        again = await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "已补充材料"},
                                await flow.token("市发改委"))
        assert again.status_code == 201

    async def test_nothing_pending_is_409_with_the_tasks_state(self, flow):
        response = await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True})
        assert response.status_code == 409
        assert response.json()["current"] == "open" and response.json()["code"] == "invalid_transition"

    async def test_parts_close_one_by_one_and_the_last_closes_the_task(self, flow):
        part = await self.start(flow, "1", "市工信局", "我局部分已完成")
        assert part["scope"] == "part"
        waiting = await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True})
        assert waiting.status_code == 409
        assert waiting.json()["pending_units"] == ["明溪市工业和信息化局"]
        closed = await flow.post(f"/tasks/{flow.tasks['1']}/verification",
                                 {"approved": True, "unit": "市工信局"})
        assert closed.status_code == 200 and closed.json()["task_status"] == "open"
        assert (await flow.obligation("1", "市工信局"))["status"] == "closed"
        await self.start(flow, "1", "市科技局")
        await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True, "unit": "市科技局"})
        last = await self.start(flow, "1", "市发改委")
        assert last["scope"] == "task"
        final = await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True})
        assert final.json()["task_status"] == "closed"

    async def test_the_parent_closes_with_its_last_clause(self, flow):
        await self.start(flow, "4.1", "市发改委")
        first = await flow.post(f"/tasks/{flow.tasks['4.1']}/verification", {"approved": True})
        assert first.json()["task_status"] == "closed" and first.json()["closed_parent_id"] is None
        await self.start(flow, "4.2", "市工信局")
        last = await flow.post(f"/tasks/{flow.tasks['4.2']}/verification",
                               {"approved": True, "unit": "市工信局"})
        assert last.json()["task_status"] == "closed"
        assert last.json()["closed_parent_id"] == flow.tasks["4"]
        [entry] = [e for e in await flow.audit(action="task.closed") if e["entity_id"] == flow.tasks["4"]]
        assert entry["after"]["status"] == "closed"

    async def test_only_the_office_verifies(self, flow):
        await self.start(flow, "1", "市发改委")
        response = await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True},
                                   await flow.token("市发改委"))
        assert response.status_code == 403
        listed = (await flow.get("/completion-requests", task=flow.tasks["1"], status="pending")).json()
        assert len(listed["items"]) == 1


class TestResponsibilityChanges:
    async def ask(self, flow, unit: str, body: dict, number: str = "1"):
        return await flow.post(f"/tasks/{flow.tasks[number]}/responsibility-changes",
                               {"reason": "职能调整", **body}, await flow.token(unit))

    async def test_an_approved_remove_takes_the_unit_off(self, flow):
        asked = await self.ask(flow, "市科技局", {"kind": "remove"})
        assert asked.status_code == 201 and asked.json()["status"] == "pending"
        decided = await flow.post(f"/responsibility-changes/{asked.json()['id']}/decision",
                                  {"approved": True})
        assert decided.status_code == 200 and decided.json()["assignment"]["status"] == "removed"
        held = await flow.obligation("1", "市科技局")
        assert (held["status"], held["is_open"]) == ("removed", False)

    async def test_an_approved_replace_hands_role_and_deadlines_to_the_replacement(self, flow):
        held = await flow.obligation("1", "市工信局")
        patched = await flow.client.patch(f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}",
                                          json={"deadline": "2025-05-31"}, headers=ADMIN)
        assert patched.status_code == 200
        asked = await self.ask(flow, "市工信局", {"kind": "replace", "replacement": "市住建局"})
        assert asked.status_code == 201 and asked.json()["replacement_unit_id"] == flow.units["市住建局"]
        decided = (await flow.post(f"/responsibility-changes/{asked.json()['id']}/decision",
                                   {"approved": True, "comment": "同意"})).json()
        new = decided["replacement_assignment"]
        assert (new["unit"]["short_name"], new["role"], new["origin"], new["status"]) == \
            ("市住建局", "responsible", "office", "assigned")
        assert (new["own_deadline"], new["effective_deadline"]) == ("2025-05-31", "2025-05-31")
        assert (await flow.obligation("1", "市工信局"))["status"] == "removed"

    async def test_a_rejection_changes_nothing(self, flow):
        before = await flow.obligation("1", "市科技局")
        asked = (await self.ask(flow, "市科技局", {"kind": "remove"})).json()
        decided = await flow.post(f"/responsibility-changes/{asked['id']}/decision",
                                  {"approved": False, "comment": "职责未变"})
        assert decided.json()["status"] == "rejected" and decided.json()["assignment"] is None
        assert await flow.obligation("1", "市科技局") == before
        again = await flow.post(f"/responsibility-changes/{asked['id']}/decision", {"approved": True})
        assert again.status_code == 409 and again.json()["current"] == "rejected"

    async def test_bad_requests_are_refused_and_store_nothing(self, flow):
        no_replacement = await self.ask(flow, "市科技局", {"kind": "replace"})
        assert no_replacement.status_code == 422
        unknown = await self.ask(flow, "市科技局", {"kind": "replace", "replacement": "市住建委"})
        assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_unit"
        already = await self.ask(flow, "市科技局", {"kind": "replace", "replacement": "市工信局"})
        assert already.status_code == 409
        assert await flow.count(ResponsibilityChange) == 0
        assert (await self.ask(flow, "市科技局", {"kind": "remove"})).status_code == 201
        assert (await self.ask(flow, "市科技局", {"kind": "remove"})).status_code == 409

    async def test_history_is_kept_and_listed(self, flow):
        one = (await self.ask(flow, "市科技局", {"kind": "remove"})).json()
        await flow.post(f"/responsibility-changes/{one['id']}/decision", {"approved": False})
        two = (await self.ask(flow, "市科技局", {"kind": "remove"})).json()
        listed = (await flow.get("/responsibility-changes", task=flow.tasks["1"])).json()["items"]
        assert [(c["id"], c["status"]) for c in listed] == [(one["id"], "rejected"), (two["id"], "pending")]
        pending = (await flow.get("/responsibility-changes", status="pending")).json()["items"]
        assert [c["id"] for c in pending] == [two["id"]]
        assert (await flow.get(f"/responsibility-changes/{one['id']}")).json()["status"] == "rejected"


class TestRequestsEndWithTheirObligation:
    async def test_taking_a_unit_off_ends_its_pending_requests(self, flow):
        await flow.accept("2", "市住建局")
        lead = await flow.token("市住建局")
        extension = (await flow.post(f"/tasks/{flow.tasks['2']}/extensions",
                                     {"deadline": "2026-06-30", "reason": "x"}, lead)).json()
        asked = (await flow.post(f"/tasks/{flow.tasks['2']}/completion", {"summary": "x"}, lead)).json()
        held = await flow.obligation("2", "市住建局")
        await flow.client.delete(f"{API}/tasks/{flow.tasks['2']}/assignments/{held['id']}", headers=ADMIN)
        assert (await flow.get(f"/extensions/{extension['id']}")).json()["status"] == "rejected"
        [ended] = (await flow.get("/completion-requests", task=flow.tasks["2"])).json()["items"]
        assert (ended["id"], ended["status"]) == (asked["id"], "returned")
        await flow.accept("2", "市发改委")  # the other lead may now ask for the task
        again = await flow.post(f"/tasks/{flow.tasks['2']}/completion", {"summary": "x"},
                                await flow.token("市发改委"))
        assert again.status_code == 201

    async def test_closing_the_task_settles_what_still_waits(self, flow):
        await flow.accept("1", "市工信局")
        part = (await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "x"},
                                await flow.token("市工信局"))).json()
        extension = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                     {"deadline": "2025-09-30", "reason": "x"},
                                     await flow.token("市科技局"))).json()
        await flow.accept("1", "市发改委")
        await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "x"}, await flow.token("市发改委"))
        assert (await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True})).status_code == 200
        assert (await flow.get(f"/extensions/{extension['id']}")).json()["status"] == "rejected"
        statuses = {r["id"]: r["status"] for r in
                    (await flow.get("/completion-requests", task=flow.tasks["1"])).json()["items"]}
        assert statuses[part["id"]] == "approved" and set(statuses.values()) == {"approved"}
