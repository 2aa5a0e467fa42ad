"""交办 and 签收: the office puts units on tasks, changes and removes their obligations; units
accept them. Also the audit log those steps leave. `flow` is the shared start of the workflow
tests: a small plan imported, with helpers for tokens, obligations and row counts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from app.models import AuditEntry, GroupMember, Task, TaskStatus, Unit
from tests.helpers import ADMIN

PLAN = """明溪市府办字〔2025〕3号
明溪市人民政府办公室关于印发明溪市督办测试工作方案的通知
各县(市、区)人民政府,市政府有关部门:
现将《明溪市督办测试工作方案》印发给你们,请认真贯彻落实。
2025年2月1日
明溪市督办测试工作方案
一、重点任务
1.推进碳达峰。编制碳达峰实施方案,2025年6月底前完成。〔牵头单位:市发改委;责任单位:市工信局、市科技局〕
2.推进充电桩建设。到2025年,全市累计建成充电桩2万根。〔牵头单位:市住建局、市发改委;责任单位:市交通运输局〕
3.加强生态保护。开展生态保护修复,2025年9月底前完成。〔牵头单位:市生态环境局;责任单位:各县(市、区)〕
4.推进节能改造。推进公共机构节能改造。〔责任单位：市发改委、市工信局；有多个责任单位的，排名第一位的为牵头单位，下同〕开展重点用能单位节能监察。〔责任单位：市工信局〕
"""
API = "/api/v1"


class Flow:
    def __init__(self, client, api, database) -> None:
        self.client, self.api, self.database = client, api, database
        self._tokens: dict[str, dict] = {}

    async def start(self) -> Flow:
        self.document = (await self.api.import_text(PLAN))["id"]
        async with self.database.session() as s:
            self.tasks = dict((await s.execute(select(Task.number, Task.id).where(
                Task.document_id == self.document))).all())
            self.units = dict((await s.execute(select(Unit.short_name, Unit.id))).all())
        return self

    async def token(self, unit: str, role: str = "unit") -> dict:
        if unit not in self._tokens:
            self._tokens[unit] = await self.api.mint(str(self.units[unit]), role=role)
        return self._tokens[unit]

    async def post(self, path: str, body: dict | None = None, headers: dict | None = None, **kw):
        return await self.client.post(API + path, json=body or {}, headers=headers or ADMIN, **kw)

    async def get(self, path: str, headers: dict | None = None, **params):
        return await self.client.get(API + path, params=params, headers=headers or ADMIN)

    async def obligation(self, number: str, unit: str) -> dict:
        task = self.tasks[number]
        items = (await self.get(f"/tasks/{task}/assignments")).json()["items"]
        return next(a for a in items if a["unit"]["id"] == self.units[unit])

    async def accept(self, number: str, unit: str) -> dict:
        response = await self.post(f"/tasks/{self.tasks[number]}/acceptance", {},
                                   await self.token(unit))
        assert response.status_code == 200, response.text
        return response.json()

    async def report(self, number: str, unit: str, period: str = "2025-03", progress: int = 30,
                     summary: str = "按计划推进", **extra):
        return await self.post(f"/tasks/{self.tasks[number]}/reports",
                               {"period": period, "progress": progress, "summary": summary},
                               {**await self.token(unit), **extra})

    async def count(self, model, *where) -> int:
        async with self.database.session() as s:
            return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()

    async def audit(self, **params) -> list[dict]:
        return (await self.get("/audit", limit=500, **params)).json()["items"]

    async def execute(self, statement) -> None:
        async with self.database.session() as s:
            await s.execute(statement)
            await s.commit()


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


class TestAssign:
    async def test_office_puts_a_unit_on_a_task_with_its_own_deadline(self, flow):
        task = flow.tasks["1"]
        response = await flow.post(f"/tasks/{task}/assignments",
                                   {"unit": "市住建局", "role": "cooperating", "deadline": "2025-05-31"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["unit"]["id"] == flow.units["市住建局"] and body["unit"]["short_name"] == "市住建局"
        assert (body["role"], body["status"], body["origin"]) == ("cooperating", "assigned", "office")
        assert (body["own_deadline"], body["task_deadline"], body["effective_deadline"]) == \
            ("2025-05-31", "2025-06-30", "2025-05-31")
        assert body["is_open"] is True and body["members"] == []
        assert response.headers["etag"] == body["etag"] == f'"assignment-{body["id"]}-v1"'
        assert response.headers["location"] == f"/api/v1/tasks/{task}/assignments/{body['id']}"
        [entry] = await flow.audit(action="assignment.created")
        assert (entry["entity_id"], entry["task_id"], entry["actor"]) == (body["id"], task, "admin")
        assert entry["before"] is None and entry["after"]["status"] == "assigned"

    async def test_unknown_unit_is_422_with_suggestions_and_nothing_stored(self, flow):
        before = await flow.count(AuditEntry)
        response = await flow.post(f"/tasks/{flow.tasks['1']}/assignments",
                                   {"unit": "市住建委", "role": "responsible"})
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "unknown_unit" and "明溪市住房和城乡建设局" in body["suggestions"]
        assert len((await flow.get(f"/tasks/{flow.tasks['1']}/assignments")).json()["items"]) == 3
        assert await flow.count(AuditEntry) == before

    async def test_a_unit_already_on_the_task_is_told_to_patch_it(self, flow):
        held = await flow.obligation("1", "市工信局")
        response = await flow.post(f"/tasks/{flow.tasks['1']}/assignments",
                                   {"unit": "市工信局", "role": "lead"})
        assert response.status_code == 409
        assert response.json()["assignment_id"] == held["id"] and "PATCH" in response.json()["detail"]

    async def test_a_group_gets_a_placeholder_and_an_obligation_per_member(self, flow):
        group, members = flow.units["各县(市、区)"], [flow.units["市科技局"], flow.units["市生态环境局"]]
        already = flow.units["市住建局"]  # the lead of task 2 keeps its own obligation
        async with flow.database.session() as s:
            await s.execute(GroupMember.__table__.insert(),
                            [{"group_id": group, "member_id": m} for m in [*members, already]])
            await s.commit()
        response = await flow.post(f"/tasks/{flow.tasks['2']}/assignments",
                                   {"unit": str(group), "role": "responsible"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["status"], body["is_open"]) == ("group", False)
        assert sorted(m["unit"]["id"] for m in body["members"]) == sorted(members)
        assert {(m["status"], m["origin"], m["via_group_id"]) for m in body["members"]} == \
            {("assigned", "group", group)}
        assert (await flow.obligation("2", "市住建局"))["role"] == "lead"

    async def test_a_member_taken_off_stays_off_when_the_members_change(self, flow):
        group = flow.units["各县(市、区)"]
        members = {"members": [str(flow.units["市科技局"]), str(flow.units["市住建局"])]}
        put = await flow.client.put(f"{API}/units/{group}/members", json=members, headers=ADMIN)
        assert put.status_code == 200, put.text
        held = await flow.obligation("3", "市科技局")
        assert held["via_group_id"] == group
        await flow.client.delete(f"{API}/tasks/{flow.tasks['3']}/assignments/{held['id']}", headers=ADMIN)
        members["members"].append(str(flow.units["市工信局"]))
        await flow.client.put(f"{API}/units/{group}/members", json=members, headers=ADMIN)
        assert (await flow.obligation("3", "市科技局"))["status"] == "removed"
        assert (await flow.obligation("3", "市工信局"))["status"] == "assigned"

    async def test_a_withdrawn_task_takes_no_assignment(self, flow):
        await flow.execute(update(Task).where(Task.id == flow.tasks["1"])
                           .values(status=TaskStatus.withdrawn))
        response = await flow.post(f"/tasks/{flow.tasks['1']}/assignments",
                                   {"unit": "市住建局", "role": "responsible"})
        assert response.status_code == 409 and response.json()["current"] == "withdrawn"

    async def test_a_task_read_as_clauses_is_assigned_clause_by_clause(self, flow):
        response = await flow.post(f"/tasks/{flow.tasks['4']}/assignments",
                                   {"unit": "市住建局", "role": "responsible"})
        assert response.status_code == 409
        assert response.json()["clauses"] == [flow.tasks["4.1"], flow.tasks["4.2"]]
        on_clause = await flow.post(f"/tasks/{flow.tasks['4.2']}/assignments",
                                    {"unit": "市住建局", "role": "responsible"})
        assert on_clause.status_code == 201

    async def test_an_unknown_task_is_404(self, flow):
        response = await flow.post("/tasks/99999/assignments", {"unit": "市住建局", "role": "lead"})
        assert response.status_code == 404

    async def test_readers_and_units_cannot_assign(self, flow):
        reader = await flow.api.mint(None, role="reader")
        unit = await flow.token("市发改委")
        for headers in (reader, unit):
            response = await flow.post(f"/tasks/{flow.tasks['1']}/assignments",
                                       {"unit": "市住建局", "role": "lead"}, headers)
            assert response.status_code == 403

    async def test_a_removed_unit_can_be_put_back(self, flow):
        held = await flow.obligation("1", "市科技局")
        assert (await flow.client.delete(f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}",
                                         headers=ADMIN)).status_code == 204
        again = await flow.post(f"/tasks/{flow.tasks['1']}/assignments",
                                {"unit": "市科技局", "role": "cooperating"})
        assert again.status_code == 201
        assert (again.json()["id"], again.json()["status"], again.json()["role"]) == \
            (held["id"], "assigned", "cooperating")


class TestChangeAssignment:
    async def test_patch_changes_role_and_deadline_and_moves_the_etag(self, flow):
        held = await flow.obligation("1", "市工信局")
        path = f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}"
        response = await flow.client.patch(path, json={"role": "lead", "deadline": "2025-04-30"},
                                           headers={**ADMIN, "If-Match": held["etag"]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["role"], body["own_deadline"], body["effective_deadline"]) == \
            ("lead", "2025-04-30", "2025-04-30")
        assert body["version"] == held["version"] + 1 and response.headers["etag"] != held["etag"]
        [entry] = await flow.audit(action="assignment.updated")
        assert entry["before"]["role"] == "responsible" and entry["after"]["role"] == "lead"

    async def test_a_stale_if_match_is_412_and_changes_nothing(self, flow):
        held = await flow.obligation("1", "市工信局")
        path = f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}"
        assert (await flow.client.patch(path, json={"role": "cooperating"}, headers=ADMIN)).status_code == 200
        stale = await flow.client.patch(path, json={"role": "lead"},
                                        headers={**ADMIN, "If-Match": held["etag"]})
        assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
        assert stale.json()["current_etag"] == f'"assignment-{held["id"]}-v2"'
        assert (await flow.obligation("1", "市工信局"))["role"] == "cooperating"

    async def test_a_null_deadline_falls_back_to_the_task_deadline(self, flow):
        held = await flow.obligation("1", "市工信局")
        path = f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}"
        await flow.client.patch(path, json={"deadline": "2025-03-31"}, headers=ADMIN)
        response = await flow.client.patch(path, json={"deadline": None}, headers=ADMIN)
        assert (response.json()["own_deadline"], response.json()["effective_deadline"]) == \
            (None, "2025-06-30")

    async def test_an_empty_patch_is_422(self, flow):
        held = await flow.obligation("1", "市工信局")
        response = await flow.client.patch(f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}",
                                           json={}, headers=ADMIN)
        assert response.status_code == 422

    async def test_an_assignment_of_another_task_is_404(self, flow):
        held = await flow.obligation("1", "市工信局")
        response = await flow.client.patch(f"{API}/tasks/{flow.tasks['2']}/assignments/{held['id']}",
                                           json={"role": "lead"}, headers=ADMIN)
        assert response.status_code == 404

    async def test_delete_takes_the_unit_off_and_keeps_the_row_and_its_reports(self, flow):
        await flow.accept("1", "市工信局")
        assert (await flow.report("1", "市工信局")).status_code == 201
        held = await flow.obligation("1", "市工信局")
        path = f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}"
        response = await flow.client.delete(path, headers={**ADMIN, "If-Match": held["etag"]})
        assert response.status_code == 204
        gone = await flow.obligation("1", "市工信局")
        assert (gone["status"], gone["is_open"]) == ("removed", False)
        assert len((await flow.get(f"/tasks/{flow.tasks['1']}/reports")).json()["items"]) == 1
        again = await flow.client.patch(path, json={"role": "lead"}, headers=ADMIN)
        assert again.status_code == 409 and again.json()["current"] == "removed"

    async def test_delete_with_a_stale_if_match_is_412(self, flow):
        held = await flow.obligation("1", "市工信局")
        await flow.accept("1", "市工信局")
        response = await flow.client.delete(f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}",
                                            headers={**ADMIN, "If-Match": held["etag"]})
        assert response.status_code == 412
        assert (await flow.obligation("1", "市工信局"))["status"] == "accepted"

    async def test_a_group_placeholder_is_not_changed_directly(self, flow):
        placeholder = await flow.obligation("3", "各县(市、区)")
        response = await flow.client.patch(
            f"{API}/tasks/{flow.tasks['3']}/assignments/{placeholder['id']}",
            json={"role": "lead"}, headers=ADMIN)
        assert response.status_code == 409 and response.json()["current"] == "group"


class TestListAssignments:
    async def test_the_office_sees_every_row_with_group_placeholders(self, flow):
        items = (await flow.get(f"/tasks/{flow.tasks['3']}/assignments")).json()["items"]
        assert [(a["unit"]["short_name"], a["status"]) for a in items] == \
            [("市生态环境局", "assigned"), ("各县(市、区)", "group")]

    async def test_a_unit_sees_its_own_row_only(self, flow):
        response = await flow.get(f"/tasks/{flow.tasks['1']}/assignments",
                                  await flow.token("市工信局"))
        assert [a["unit"]["short_name"] for a in response.json()["items"]] == ["市工信局"]

    async def test_a_unit_not_on_the_task_gets_404(self, flow):
        response = await flow.get(f"/tasks/{flow.tasks['1']}/assignments",
                                  await flow.token("市住建局"))
        assert response.status_code == 404

    async def test_pages_follow_the_cursor(self, flow):
        task = flow.tasks["1"]
        first = (await flow.get(f"/tasks/{task}/assignments", limit=2)).json()
        second = (await flow.get(f"/tasks/{task}/assignments", limit=2,
                                 cursor=first["next_cursor"])).json()
        assert len(first["items"]) == 2 and len(second["items"]) == 1
        assert second["next_cursor"] is None
        assert first["items"][1]["id"] < second["items"][0]["id"]

    async def test_one_assignment_answers_with_its_etag(self, flow):
        held = await flow.obligation("1", "市工信局")
        response = await flow.get(f"/tasks/{flow.tasks['1']}/assignments/{held['id']}")
        assert response.status_code == 200 and response.headers["etag"] == held["etag"]

    async def test_an_unknown_task_is_404(self, flow):
        assert (await flow.get("/tasks/99999/assignments")).status_code == 404


class TestAcceptance:
    async def test_a_unit_accepts_its_obligation(self, flow):
        response = await flow.post(f"/tasks/{flow.tasks['1']}/acceptance", {},
                                   await flow.token("市发改委"))
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "accepted" and body["accepted_at"] is not None
        assert response.headers["etag"] == body["etag"]

    async def test_accepting_twice_is_409_with_the_current_state(self, flow):
        await flow.accept("1", "市发改委")
        again = await flow.post(f"/tasks/{flow.tasks['1']}/acceptance", {},
                                await flow.token("市发改委"))
        assert again.status_code == 409
        assert again.json()["code"] == "invalid_transition" and again.json()["current"] == "accepted"

    async def test_the_office_accepts_for_a_unit_it_names(self, flow):
        response = await flow.post(f"/tasks/{flow.tasks['1']}/acceptance", {"unit": "市科技局"})
        assert response.status_code == 200 and response.json()["unit"]["short_name"] == "市科技局"
        unnamed = await flow.post(f"/tasks/{flow.tasks['1']}/acceptance", {})
        assert unnamed.status_code == 422

    async def test_a_reader_cannot_accept(self, flow):
        reader = await flow.api.mint(None, role="reader")
        response = await flow.post(f"/tasks/{flow.tasks['1']}/acceptance", {"unit": "市科技局"}, reader)
        assert response.status_code == 403

    async def test_a_stale_if_match_is_412(self, flow):
        held = await flow.obligation("1", "市发改委")
        await flow.client.patch(f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}",
                                json={"deadline": "2025-05-31"}, headers=ADMIN)
        response = await flow.post(f"/tasks/{flow.tasks['1']}/acceptance", {},
                                   {**await flow.token("市发改委"), "If-Match": held["etag"]})
        assert response.status_code == 412


class TestAuditLog:
    async def test_a_sequence_of_changes_reads_back_in_order_with_before_and_after(self, flow):
        task = flow.tasks["1"]
        lead = await flow.token("市发改委")
        held = await flow.obligation("1", "市发改委")
        await flow.client.patch(f"{API}/tasks/{task}/assignments/{held['id']}",
                                json={"deadline": "2025-05-31"}, headers=ADMIN)
        await flow.accept("1", "市发改委")
        assert (await flow.report("1", "市发改委", progress=20)).status_code == 201
        assert (await flow.report("1", "市发改委", progress=25)).status_code == 200
        await flow.post(f"/tasks/{task}/extensions", {"deadline": "2025-08-31", "reason": "资金未到位"}, lead)
        entries = await flow.audit(task=task)
        assert [e["action"] for e in entries] == [
            "assignment.updated", "assignment.accepted", "report.created", "report.corrected",
            "extension.requested"]
        assert all(e["unit_id"] == flow.units["市发改委"] for e in entries)
        assert entries[1]["before"]["status"] == "assigned" and entries[1]["after"]["status"] == "accepted"
        assert entries[1]["actor"].startswith("token:")
        corrected = entries[3]
        assert corrected["before"]["report"]["progress"] == 20
        assert corrected["after"]["report"]["progress"] == 25
        assert entries[2]["after"]["assignment"]["status"] == "in_progress"

    async def test_filters_by_unit_and_action_and_pages_by_id(self, flow):
        await flow.accept("1", "市发改委")
        await flow.accept("1", "市工信局")
        mine = await flow.audit(unit="市工信局", entity="assignment")
        assert [e["action"] for e in mine] == ["assignment.accepted"]
        first = (await flow.get("/audit", action="assignment.accepted", limit=1)).json()
        rest = (await flow.get("/audit", action="assignment.accepted", limit=1,
                               cursor=first["next_cursor"])).json()
        assert first["items"][0]["id"] < rest["items"][0]["id"] and rest["next_cursor"] is None

    async def test_only_the_office_reads_it_and_no_route_changes_it(self, flow):
        reader = await flow.api.mint(None, role="reader")
        for headers in (reader, await flow.token("市发改委")):
            assert (await flow.get("/audit", headers)).status_code == 403
        for method in ("DELETE", "PATCH", "PUT", "POST"):
            response = await flow.client.request(method, f"{API}/audit", headers=ADMIN)
            assert response.status_code == 405
