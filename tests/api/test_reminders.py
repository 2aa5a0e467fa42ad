"""催办: the office reminds one unit, a list, or every unit missing a month's report; each
reminder is recorded, audited and emitted as reminder.created, and units read their own."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.models import Assignment, AuditEntry, Event, Reminder
from tests.api.test_assignments import Flow
from tests.helpers import ADMIN


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


def this_month() -> str:
    return f"{datetime.now(ZoneInfo('Asia/Shanghai')):%Y-%m}"


async def remind(flow, body: dict, headers: dict | None = None, status: int = 201) -> dict:
    response = await flow.post("/reminders", body, headers)
    assert response.status_code == status, response.text
    return response.json()


async def open_units(flow) -> set[int]:
    async with flow.database.session() as s:
        return set((await s.execute(select(Assignment.unit_id).where(Assignment.is_open.is_(True)))).scalars())


class TestRemindUnits:
    async def test_the_office_reminds_one_unit_politely(self, flow):
        body = await remind(flow, {"unit": "市发改委"})
        assert body["count"] == 1
        [reminder] = body["reminders"]
        assert reminder["unit"] == {"id": flow.units["市发改委"], "name": "明溪市发展和改革委员会",
                                    "short_name": "市发改委"}
        assert (reminder["task_id"], reminder["period"]) == (None, None)
        assert reminder["message"].startswith("请贵单位") and reminder["created_at"]
        [entry] = await flow.audit(action="reminder.created")
        assert (entry["entity_id"], entry["unit_id"], entry["actor"]) == (reminder["id"], flow.units["市发改委"], "admin")
        [event] = await self.events(flow)
        assert (event.type, event.unit_id, event.payload["reminder"]["id"]) == \
            ("reminder.created", flow.units["市发改委"], reminder["id"])

    async def events(self, flow) -> list[Event]:
        async with flow.database.session() as s:
            return list((await s.execute(select(Event).order_by(Event.id))).scalars())

    async def test_a_list_reminds_each_unit_once_with_the_given_message(self, flow):
        body = await remind(flow, {"units": ["市发改委", "明溪市发展和改革委员会", "市工信局"],
                                   "message": "请于25日前报送进展。", "period": this_month()})
        assert body["count"] == 2
        assert [r["unit"]["short_name"] for r in body["reminders"]] == ["市发改委", "市工信局"]
        assert {(r["message"], r["period"]) for r in body["reminders"]} == {("请于25日前报送进展。", this_month())}
        assert len(await self.events(flow)) == 2

    async def test_an_unknown_unit_is_422_with_suggestions_and_nothing_is_created(self, flow):
        response = await flow.post("/reminders", {"units": ["市发改委", "市住建委"]})
        assert response.status_code == 422 and response.json()["code"] == "unknown_unit"
        assert "明溪市住房和城乡建设局" in response.json()["suggestions"]
        assert await flow.count(Reminder) == 0 and await flow.count(Event) == 0
        assert await flow.count(AuditEntry, AuditEntry.action == "reminder.created") == 0

    async def test_a_task_reminder_names_the_task_and_only_units_on_it(self, flow):
        body = await remind(flow, {"unit": "市发改委", "task": flow.tasks["1"]})
        assert body["reminders"][0]["task_id"] == flow.tasks["1"]
        assert "推进碳达峰" in body["reminders"][0]["message"]
        stranger = await flow.post("/reminders", {"unit": "市生态环境局", "task": flow.tasks["1"]})
        assert stranger.status_code == 422 and "明溪市生态环境局" in stranger.json()["detail"]
        on_a_clause = await remind(flow, {"unit": "市工信局", "task": flow.tasks["4"]})
        assert on_a_clause["count"] == 1
        assert (await flow.post("/reminders", {"unit": "市发改委", "task": 99999})).status_code == 404

    @pytest.mark.parametrize("body", [{}, {"unit": "市发改委", "units": ["市工信局"]},
                                      {"unit": "市发改委", "missing_for": "2025-03"},
                                      {"units": []}, {"missing_for": "2025-3"},
                                      {"missing_for": "2025-03", "period": "2025-04"}])
    async def test_exactly_one_target_is_named(self, flow, body):
        response = await flow.post("/reminders", body)
        assert response.status_code == 422 and response.json()["code"] == "validation_error"

    async def test_a_group_is_not_reminded_as_such(self, flow):
        response = await flow.post("/reminders", {"unit": "各县(市、区)"})
        assert response.status_code == 422 and "group" in response.json()["detail"]

    async def test_only_the_office_reminds(self, flow, api):
        for headers in (await flow.token("市发改委"), await api.mint(None, role="reader")):
            assert (await flow.post("/reminders", {"unit": "市发改委"}, headers)).status_code == 403

    async def test_a_retried_post_with_its_key_reminds_once(self, flow):
        headers = {**ADMIN, "Idempotency-Key": "remind-2025-03"}
        first = await remind(flow, {"unit": "市发改委"}, headers)
        again = await flow.post("/reminders", {"unit": "市发改委"}, headers)
        assert again.status_code == 201 and again.json() == first
        assert again.headers["idempotent-replayed"] == "true" and await flow.count(Reminder) == 1


class TestMissingReports:
    async def test_every_unit_still_missing_this_month_is_reminded_with_its_count(self, flow):
        period = this_month()
        for number in ("1", "2", "4.1"):
            await flow.accept(number, "市发改委")
            assert (await flow.report(number, "市发改委", period=period)).status_code == 201
        body = await remind(flow, {"missing_for": period})
        reminded = {r["unit"]["id"] for r in body["reminders"]}
        assert reminded == await open_units(flow) - {flow.units["市发改委"]}
        assert body["count"] == len(reminded)
        by_unit = {r["unit"]["short_name"]: r for r in body["reminders"]}
        month = f"{period[:4]}年{int(period[5:])}月"
        assert by_unit["市工信局"]["message"] == f"贵单位3项任务尚未报送{month}的工作进展，请尽快报送。特此提醒。"
        assert {r["period"] for r in body["reminders"]} == {period}

    async def test_missing_for_one_task_reminds_its_units_only(self, flow):
        await flow.accept("1", "市发改委")
        await flow.report("1", "市发改委", period=this_month())
        body = await remind(flow, {"missing_for": this_month(), "task": flow.tasks["1"]})
        assert sorted(r["unit"]["short_name"] for r in body["reminders"]) == ["市工信局", "市科技局"]
        assert all("推进碳达峰" in r["message"] and r["task_id"] == flow.tasks["1"] for r in body["reminders"])

    async def test_nobody_missing_is_200_with_nothing_created(self, flow):
        await flow.accept("4.2", "市工信局")
        await flow.report("4.2", "市工信局", period=this_month())
        body = await remind(flow, {"missing_for": this_month(), "task": flow.tasks["4.2"]}, status=200)
        assert body == {"reminders": [], "count": 0}
        assert await flow.count(Reminder) == 0
        assert await flow.count(Event, Event.type == "reminder.created") == 0

    async def test_obligations_are_missing_only_for_months_they_existed_in(self, flow):
        assert (await remind(flow, {"missing_for": "2025-03"}, status=200))["count"] == 0
        await flow.execute(update(Assignment).values(
            created_at=datetime(2025, 2, 10, tzinfo=ZoneInfo("UTC"))))
        assert (await remind(flow, {"missing_for": "2025-03"}))["count"] == len(await open_units(flow))

    async def test_an_obligation_closed_before_the_months_end_is_not_missing(self, flow):
        await flow.execute(update(Assignment).values(
            created_at=datetime(2025, 2, 10, tzinfo=ZoneInfo("UTC"))))
        await flow.accept("4.2", "市工信局")
        await flow.post(f"/tasks/{flow.tasks['4.2']}/completion", {"summary": "完成"}, await flow.token("市工信局"))
        await flow.post(f"/tasks/{flow.tasks['4.2']}/verification", {"approved": True, "unit": "市工信局"})
        closed_on = datetime(2025, 3, 20, tzinfo=ZoneInfo("UTC"))
        await flow.execute(update(Assignment).where(Assignment.closed_at.is_not(None)).values(closed_at=closed_on))
        body = await remind(flow, {"missing_for": "2025-03", "task": flow.tasks["4.2"]}, status=200)
        assert body["count"] == 0
        body = await remind(flow, {"missing_for": "2025-02", "task": flow.tasks["4.2"]})
        assert [r["unit"]["short_name"] for r in body["reminders"]] == ["市工信局"]

    async def test_a_month_not_yet_begun_is_422_and_jurisdiction_filters(self, flow):
        future = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=40)
        response = await flow.post("/reminders", {"missing_for": f"{future:%Y-%m}"})
        assert response.status_code == 422 and "has not begun" in response.json()["detail"]
        place = (await flow.get(f"/units/{flow.units['市发改委']}")).json()["jurisdiction"]["name"]
        everyone = await remind(flow, {"missing_for": this_month(), "jurisdiction": place})
        assert everyone["count"] == len(await open_units(flow))
        unknown = await flow.post("/reminders", {"missing_for": this_month(), "jurisdiction": "火星市"})
        assert unknown.status_code == 404


class TestReading:
    async def test_units_read_their_own_and_the_office_filters(self, flow, api):
        await remind(flow, {"units": ["市发改委", "市工信局"], "period": "2025-03"})
        await remind(flow, {"unit": "市发改委", "task": flow.tasks["1"]})
        ids = lambda response: [r["unit"]["short_name"] for r in response.json()["items"]]  # noqa: E731
        assert ids(await flow.get("/reminders")) == ["市发改委", "市工信局", "市发改委"]
        assert ids(await flow.get("/reminders", unit="市发改委")) == ["市发改委", "市发改委"]
        assert ids(await flow.get("/reminders", period="2025-03")) == ["市发改委", "市工信局"]
        assert ids(await flow.get("/reminders", task=flow.tasks["1"])) == ["市发改委"]
        assert ids(await flow.get("/reminders", await flow.token("市工信局"))) == ["市工信局"]
        assert ids(await flow.get("/reminders", await api.mint(None, role="reader"))) == \
            ["市发改委", "市工信局", "市发改委"]
        assert (await flow.get("/reminders", period="2025-3")).status_code == 422

    async def test_pages_follow_the_cursor(self, flow):
        await remind(flow, {"units": ["市发改委", "市工信局", "市科技局"]})
        first = (await flow.get("/reminders", limit=2)).json()
        rest = (await flow.get("/reminders", limit=2, cursor=first["next_cursor"])).json()
        assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
