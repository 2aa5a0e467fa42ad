"""月调度: monthly reports on an obligation, corrections while the period is open, closing a
period, and retries with Idempotency-Key."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Milestone, Report, ReportingPeriod
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


class TestFiling:
    async def test_a_first_report_starts_the_work_and_sets_the_obligations_progress(self, flow):
        await flow.accept("1", "市发改委")
        response = await flow.report("1", "市发改委", period="2025-03", progress=40, summary="已完成初稿")
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["period"], body["progress"], body["summary"], body["version"]) == \
            ("2025-03", 40, "已完成初稿", 1)
        assert body["unit_id"] == flow.units["市发改委"] and body["task_id"] == flow.tasks["1"]
        assert response.headers["location"] == f"/api/v1/reports/{body['id']}"
        held = await flow.obligation("1", "市发改委")
        assert (held["status"], held["progress"], held["last_period"]) == ("in_progress", 40, "2025-03")

    async def test_reporting_before_accepting_is_409_saying_accept_first(self, flow):
        response = await flow.report("1", "市发改委")
        assert response.status_code == 409
        body = response.json()
        assert body["current"] == "assigned" and "acceptance" in body["detail"]
        assert await flow.count(Report) == 0

    async def test_the_same_period_again_corrects_the_report(self, flow):
        await flow.accept("1", "市发改委")
        first = (await flow.report("1", "市发改委", progress=40, summary="初稿")).json()
        again = await flow.report("1", "市发改委", progress=45, summary="初稿已修改")
        assert again.status_code == 200
        assert (again.json()["id"], again.json()["version"], again.json()["progress"]) == \
            (first["id"], 2, 45)
        assert await flow.count(Report) == 1
        [entry] = await flow.audit(action="report.corrected")
        assert entry["before"]["report"]["summary"] == "初稿"
        assert entry["after"]["report"]["summary"] == "初稿已修改"

    async def test_progress_follows_the_latest_period_not_the_latest_filing(self, flow):
        await flow.accept("1", "市发改委")
        await flow.report("1", "市发改委", period="2025-04", progress=60)
        assert (await flow.report("1", "市发改委", period="2025-03", progress=30)).status_code == 201
        held = await flow.obligation("1", "市发改委")
        assert (held["progress"], held["last_period"]) == (60, "2025-04")

    async def test_a_future_period_and_bad_values_are_422(self, flow):
        await flow.accept("1", "市发改委")
        for body in ({"period": "2999-01", "progress": 1, "summary": "x"},
                     {"period": "2025-13", "progress": 1, "summary": "x"},
                     {"period": "2025-03", "progress": 101, "summary": "x"},
                     {"period": "2025-03", "progress": 10, "summary": ""}):
            response = await flow.post(f"/tasks/{flow.tasks['1']}/reports", body,
                                       await flow.token("市发改委"))
            assert response.status_code == 422, body
        assert await flow.count(Report) == 0

    async def test_milestone_values_name_milestones_of_the_task(self, flow):
        await flow.accept("2", "市住建局")
        async with flow.database.session() as s:
            milestone = (await s.execute(select(Milestone.id).where(
                Milestone.task_id == flow.tasks["2"]))).scalar_one()
        path, lead = f"/tasks/{flow.tasks['2']}/reports", await flow.token("市住建局")
        ok = await flow.post(path, {"period": "2025-03", "progress": 20, "summary": "建成4000根",
                                    "milestone_values": {str(milestone): "4000根"}}, lead)
        assert ok.status_code == 201 and ok.json()["milestone_values"] == {str(milestone): "4000根"}
        wrong = await flow.post(path, {"period": "2025-04", "progress": 20, "summary": "x",
                                       "milestone_values": {"99999": 1}}, lead)
        assert wrong.status_code == 422 and wrong.json()["milestones"] == [milestone]

    async def test_the_office_reports_for_a_unit_it_names_and_readers_cannot(self, flow):
        await flow.accept("1", "市科技局")
        response = await flow.post(f"/tasks/{flow.tasks['1']}/reports",
                                   {"unit": "市科技局", "period": "2025-03", "progress": 5,
                                    "summary": "代报"})
        assert response.status_code == 201
        reader = await flow.api.mint(None, role="reader")
        denied = await flow.post(f"/tasks/{flow.tasks['1']}/reports",
                                 {"unit": "市科技局", "period": "2025-04", "progress": 5,
                                  "summary": "x"}, reader)
        assert denied.status_code == 403

    async def test_a_closed_obligation_takes_no_report(self, flow):
        await flow.accept("1", "市科技局")
        held = await flow.obligation("1", "市科技局")
        await flow.client.delete(f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}",
                                 headers=ADMIN)
        response = await flow.report("1", "市科技局")
        assert response.status_code == 409 and response.json()["current"] == "removed"


class TestReading:
    async def test_reports_are_listed_by_unit_and_period_and_read_one_by_one(self, flow):
        await flow.accept("1", "市发改委")
        await flow.accept("1", "市工信局")
        await flow.report("1", "市发改委", period="2025-03")
        await flow.report("1", "市发改委", period="2025-04")
        mine = (await flow.report("1", "市工信局", period="2025-03")).json()
        task = flow.tasks["1"]
        everything = (await flow.get(f"/tasks/{task}/reports")).json()["items"]
        assert len(everything) == 3
        march = (await flow.get(f"/tasks/{task}/reports", period="2025-03")).json()["items"]
        assert {r["unit_id"] for r in march} == {flow.units["市发改委"], flow.units["市工信局"]}
        by_unit = (await flow.get(f"/tasks/{task}/reports", unit="市工信局")).json()["items"]
        assert [r["id"] for r in by_unit] == [mine["id"]]
        own = (await flow.get(f"/tasks/{task}/reports", await flow.token("市工信局"))).json()
        assert [r["id"] for r in own["items"]] == [mine["id"]]
        assert (await flow.get(f"/reports/{mine['id']}")).json() == mine

    async def test_a_unit_with_an_obligation_but_no_report_gets_an_empty_list(self, flow):
        response = await flow.get(f"/tasks/{flow.tasks['1']}/reports", await flow.token("市科技局"))
        assert response.status_code == 200 and response.json() == {"items": [], "next_cursor": None}

    async def test_an_unknown_task_or_report_is_404(self, flow):
        assert (await flow.get("/tasks/99999/reports")).status_code == 404
        assert (await flow.get("/reports/99999")).status_code == 404


class TestPeriods:
    async def test_an_untouched_period_is_open_with_the_default_due_day(self, flow):
        response = await flow.get("/periods/2025-03")
        assert response.json() == {"period": "2025-03", "state": "open", "due_day": 25,
                                   "closed_at": None}

    async def test_closing_a_period_refuses_new_reports_and_corrections(self, flow):
        await flow.accept("1", "市发改委")
        first = (await flow.report("1", "市发改委", period="2025-03", progress=40)).json()
        closed = await flow.post("/periods/2025-03/close")
        assert closed.status_code == 200
        assert closed.json()["state"] == "closed" and closed.json()["closed_at"] is not None
        assert (await flow.get("/periods/2025-03")).json()["state"] == "closed"
        await flow.accept("1", "市工信局")
        audit_before = await flow.count(AuditEntry)
        correction = await flow.report("1", "市发改委", period="2025-03", progress=90)
        assert correction.status_code == 409 and correction.json()["code"] == "period_closed"
        assert (await flow.get(f"/reports/{first['id']}")).json()["progress"] == 40
        late = await flow.report("1", "市工信局", period="2025-03")
        assert late.status_code == 409 and late.json()["code"] == "period_closed"
        assert await flow.count(Report) == 1
        assert await flow.count(AuditEntry) == audit_before
        assert (await flow.obligation("1", "市发改委"))["progress"] == 40

    async def test_closing_twice_is_409_and_a_future_period_cannot_close(self, flow):
        assert (await flow.post("/periods/2025-03/close")).status_code == 200
        again = await flow.post("/periods/2025-03/close")
        assert again.status_code == 409 and again.json()["current"] == "closed"
        assert (await flow.post("/periods/2999-01/close")).status_code == 422
        assert (await flow.post("/periods/2025-3/close")).status_code == 422

    async def test_only_the_office_closes_a_period(self, flow):
        response = await flow.post("/periods/2025-03/close", {}, await flow.token("市发改委"))
        assert response.status_code == 403
        assert await flow.count(ReportingPeriod, ReportingPeriod.closed_at.is_not(None)) == 0

    async def test_a_report_racing_the_close_never_lands_in_the_closed_period(self, flow):
        await flow.accept("1", "市发改委")
        for period in ("2025-04", "2025-05", "2025-06"):
            first = (await flow.report("1", "市发改委", period=period)).json()
            report, close = await asyncio.gather(
                flow.report("1", "市发改委", period=period, progress=77),
                flow.post(f"/periods/{period}/close"))
            assert close.status_code == 200
            assert report.status_code in (200, 409), report.text
            stored = (await flow.get(f"/reports/{first['id']}")).json()
            [closed] = [e["id"] for e in await flow.audit(action="period.closed")
                        if e["after"]["period"] == period]
            corrected = [e["id"] for e in await flow.audit(action="report.corrected")
                         if e["entity_id"] == first["id"]]
            if report.status_code == 200:
                # The correction committed before the close took the period.
                assert stored["progress"] == 77 and corrected[0] < closed
            else:
                assert report.json()["code"] == "period_closed"
                assert stored["progress"] == 30 and corrected == []


class TestIdempotency:
    async def test_a_retried_report_returns_the_first_answer_and_changes_nothing(self, flow):
        await flow.accept("1", "市发改委")
        key = {"Idempotency-Key": "report-2025-03-fgw"}
        first = await flow.report("1", "市发改委", **key)
        audit_after_first = await flow.count(AuditEntry)
        retry = await flow.report("1", "市发改委", **key)
        assert first.status_code == retry.status_code == 201
        assert retry.content == first.content
        assert retry.headers["idempotent-replayed"] == "true"
        assert await flow.count(Report) == 1
        assert await flow.count(AuditEntry) == audit_after_first
        assert len(await flow.audit(action="report.created")) == 1
        assert (await flow.obligation("1", "市发改委"))["version"] == 3  # assigned, accepted, reported

    async def test_the_same_key_with_another_body_is_422(self, flow):
        await flow.accept("1", "市发改委")
        key = {"Idempotency-Key": "k-1"}
        assert (await flow.report("1", "市发改委", progress=10, **key)).status_code == 201
        reused = await flow.report("1", "市发改委", progress=11, **key)
        assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
        assert (await flow.get(f"/tasks/{flow.tasks['1']}/reports")).json()["items"][0]["progress"] == 10
