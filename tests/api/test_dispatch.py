"""月调度、季小结、年考评 over the API: the dispatch summary per unit, its obligations and their
lights, the quarter and year roll-ups, the ranking for 通报, a task's rolled-up progress, and
the reporting periods' due days.

The plan starts on 2025-01-01 and its obligations are dated back to that day, so that every
scenario lives in 2025 whatever today is; reports and closings are dated where a test needs it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update

from app.models import Assignment, Reminder, Report, Task, Unit
from tests.api.test_assignments import Flow
from tests.helpers import ADMIN

PLAN = """明溪市府办字〔2025〕1号
明溪市人民政府办公室关于印发明溪市2025年调度测试方案的通知
各县(市、区)人民政府,市政府有关部门:
现将《明溪市2025年调度测试方案》印发给你们,请认真贯彻落实。
2025年1月1日
明溪市2025年调度测试方案
一、重点任务
1.编制碳达峰方案。形成方案初稿,2025年2月底前完成。〔牵头单位:市发改委〕
2.推进充电桩建设。全市建成充电桩2万根,2025年12月底前完成。〔牵头单位:市发改委;责任单位:市工信局〕
3.开展节能监察。完成重点用能单位监察,2025年4月底前完成。〔牵头单位:市工信局〕
4.推进节能改造。推进公共机构节能改造,2025年12月底前完成。〔责任单位：市发改委〕开展园区循环化改造,2025年12月底前完成。〔责任单位：市工信局〕
5.推进老旧小区改造。完成老旧小区改造30个,2025年6月底前完成。〔牵头单位:市住建局〕
"""
FGW, GXJ, ZJJ = "市发改委", "市工信局", "市住建局"


def at(text: str) -> datetime:
    """An instant written as Shanghai wall-clock time: "2025-03-15 10:00"."""
    return datetime.fromisoformat(f"{text}+08:00").astimezone(UTC)


class Dispatch(Flow):
    async def start(self) -> Dispatch:
        self.document = (await self.api.import_text(PLAN))["id"]
        async with self.database.session() as s:
            self.tasks = dict((await s.execute(select(Task.number, Task.id).where(
                Task.document_id == self.document))).all())
            self.units = dict((await s.execute(select(Unit.short_name, Unit.id))).all())
        await self.execute(update(Assignment).values(created_at=at("2025-01-01 09:00")))
        return self

    async def summary(self, period: str, headers: dict | None = None, **params) -> dict:
        response = await self.get(f"/dispatch/{period}", headers, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def unit_rows(self, period: str, **params) -> dict[str, dict]:
        return {u["unit"]: u for u in (await self.summary(period, **params))["units"]}

    async def rows(self, period: str, headers: dict | None = None, **params) -> list[dict]:
        response = await self.get(f"/dispatch/{period}/assignments", headers, limit=500, **params)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    async def row(self, period: str, number: str, unit: str, **params) -> dict:
        return next(r for r in await self.rows(period, **params)
                    if (r["task"]["id"], r["unit_id"]) == (self.tasks[number], self.units[unit]))

    async def put_period(self, period: str, body: dict, headers: dict = ADMIN):
        return await self.client.put(f"/api/v1/periods/{period}", json=body, headers=headers)

    async def filed(self, number: str, unit: str, period: str, progress: int, on: str | None = None):
        response = await self.report(number, unit, period=period, progress=progress)
        assert response.status_code in (200, 201), response.text
        if on is not None:
            await self.execute(update(Report).where(Report.id == response.json()["id"])
                               .values(created_at=at(on)))

    async def close(self, number: str, unit: str, on: str, part: bool = False) -> None:
        """销号 of the unit's obligation (its part, or the whole task for a lead), dated `on`."""
        await self.accept(number, unit)
        task = self.tasks[number]
        asked = await self.post(f"/tasks/{task}/completion", {"summary": "已完成"}, await self.token(unit))
        assert asked.status_code == 201, asked.text
        body = {"approved": True, **({"unit": str(self.units[unit])} if part else {})}
        assert (await self.post(f"/tasks/{task}/verification", body)).status_code == 200
        await self.execute(update(Assignment).where(Assignment.task_id == task,
                                                    Assignment.unit_id == self.units[unit])
                           .values(closed_at=at(on)))

    async def extend(self, number: str, unit: str, deadline: str) -> None:
        asked = await self.post(f"/tasks/{self.tasks[number]}/extensions",
                                {"deadline": deadline, "reason": "资金未到位"}, await self.token(unit))
        assert asked.status_code == 201, asked.text
        assert (await self.post(f"/extensions/{asked.json()['id']}/decision",
                                {"approved": True})).status_code == 200


@pytest.fixture
async def flow(client, api, database) -> Dispatch:
    return await Dispatch(client, api, database).start()


class TestMonthSummary:
    async def test_counts_reports_missing_overdue_lags_and_lights_per_unit(self, flow):
        await flow.accept("2", FGW)
        await flow.filed("2", FGW, "2025-03", 30)
        await flow.accept("3", GXJ)
        await flow.filed("3", GXJ, "2025-03", 80)
        body = await flow.summary("2025-03")
        assert (body["period"], body["kind"], body["as_of"], body["due_date"], body["closed"]) == \
            ("2025-03", "month", "2025-03-31", "2025-03-25", False)
        assert body["window"] == {"start": "2025-03-01", "end": "2025-03-31"}
        assert [u["unit_id"] for u in body["units"]] == sorted(u["unit_id"] for u in body["units"])
        assert body["next_cursor"] is None
        units = {u["unit"]: u for u in body["units"]}
        assert units[FGW]["unit_name"] == "明溪市发展和改革委员会" and units[FGW]["jurisdiction"] == "明溪市"
        keys = ("assignments", "expected_reports", "reported", "missing", "overdue", "due_soon",
                "closed", "lagging", "light", "progress", "lights")
        counts = {name: tuple(u[k] for k in keys) for name, u in units.items()}
        assert counts == {
            # 1 is overdue (and, never reported, lags); 4.1 owes March's report after the 25th.
            FGW: (3, 3, 1, 2, 1, 0, 0, 1, "red", 10.0, {"red": 1, "yellow": 1, "green": 1}),
            # 3 is due in 30 days: due soon, not yet yellow; 2 and 4.2 owe March's report.
            GXJ: (3, 3, 1, 2, 0, 1, 0, 0, "yellow", 26.7, {"red": 0, "yellow": 2, "green": 1}),
            # Half of 5's time gone and nothing reported: behind 序时进度.
            ZJJ: (1, 1, 0, 1, 0, 0, 0, 1, "yellow", 0.0, {"red": 0, "yellow": 1, "green": 0})}
        assert units[FGW]["stats"] == {"completion_rate": 0.0, "on_time_report_rate": 0.0,
                                       "overdue": 1, "reminders": 0}

    async def test_closed_obligations_keep_whether_they_closed_late_or_after_an_extension(self, flow):
        await flow.close("1", FGW, on="2025-03-15 10:00")  # due 2025-02-28
        await flow.extend("3", GXJ, "2025-05-31")
        await flow.close("3", GXJ, on="2025-03-20 10:00")
        march = await flow.unit_rows("2025-03")
        assert (march[FGW]["assignments"], march[FGW]["closed"], march[FGW]["closed_late"],
                march[FGW]["closed_extended"], march[FGW]["overdue"]) == (3, 1, 1, 0, 0)
        assert (march[GXJ]["closed"], march[GXJ]["closed_late"], march[GXJ]["closed_extended"]) == (1, 0, 1)
        # A closed obligation owes no report for the month it closed in.
        assert (march[FGW]["expected_reports"], march[FGW]["stats"]["completion_rate"]) == (2, 0.3333)
        row = await flow.row("2025-03", "1", FGW)
        assert (row["status"], row["light"], row["closed_late"], row["extended"], row["overdue"]) == \
            ("closed", "green", True, False, False)
        assert row["closed_at"].startswith("2025-03-15T02:00")
        extended = await flow.row("2025-03", "3", GXJ)
        assert (extended["closed_late"], extended["extended"], extended["effective_deadline"]) == \
            (False, True, "2025-05-31")
        april = await flow.unit_rows("2025-04")
        assert (april[FGW]["assignments"], april[FGW]["closed"]) == (2, 0)

    async def test_pages_by_unit_id(self, flow):
        first = await flow.summary("2025-03", limit=2)
        second = await flow.summary("2025-03", limit=2, cursor=first["next_cursor"])
        assert [len(first["units"]), len(second["units"]), second["next_cursor"]] == [2, 1, None]
        assert [u["unit"] for u in first["units"] + second["units"]] == [FGW, GXJ, ZJJ]
        assert (await flow.get("/dispatch/2025-03", cursor="nonsense")).status_code == 422

    async def test_filters_by_unit_and_jurisdiction(self, flow):
        only = await flow.summary("2025-03", unit=FGW, jurisdiction="明溪市")
        assert [u["unit"] for u in only["units"]] == [FGW]
        assert len((await flow.summary("2025-03", jurisdiction="明溪市"))["units"]) == 3
        assert (await flow.get("/dispatch/2025-03", jurisdiction="火星市")).status_code == 404

    async def test_a_unit_token_sees_its_own_unit_only(self, flow):
        own = await flow.token(GXJ)
        body = await flow.summary("2025-03", own)
        assert [u["unit"] for u in body["units"]] == [GXJ]
        other = await flow.get("/dispatch/2025-03", own, unit=FGW)
        assert other.status_code == 404 and FGW not in other.text
        rows = await flow.rows("2025-03", own)
        assert {r["unit_id"] for r in rows} == {flow.units[GXJ]} and len(rows) == 3
        ranking = (await flow.get("/dispatch/2025-03/ranking", own)).json()["items"]
        assert [(r["unit"], r["rank"]) for r in ranking] == [(GXJ, 2)]  # ranked among all

    async def test_a_bad_period_or_an_unknown_unit_is_422(self, flow):
        for period in ("2025-13", "2025-Q5", "2025-3", "25-03", "2025-00", "0000"):
            for path in ("", "/assignments", "/ranking"):
                response = await flow.get(f"/dispatch/{period}{path}")
                assert response.status_code == 422, (period, path)
                assert response.json()["code"] == "invalid_input" and "YYYY-Qn" in response.json()["detail"]
        unknown = await flow.get("/dispatch/2025-03", unit="市发展改革委员")
        assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_unit" and unknown.json()["suggestions"]


class TestLights:
    async def test_red_when_overdue_with_days_overdue(self, flow):
        row = await flow.row("2025-03", "1", FGW)
        assert (row["light"], row["overdue"], row["days_overdue"]) == ("red", True, 31)
        on_the_day = await flow.row("2025-02", "1", FGW, as_of="2025-02-28")
        assert (on_the_day["overdue"], on_the_day["light"]) == (False, "yellow")

    async def test_yellow_when_due_within_fourteen_days(self, flow):
        await flow.accept("3", GXJ)
        await flow.filed("3", GXJ, "2025-04", 80)
        early = await flow.row("2025-04", "3", GXJ, as_of="2025-04-10")
        assert (early["light"], early["due_soon"], early["missing"], early["lagging"]) == \
            ("green", True, False, False)
        late = await flow.row("2025-04", "3", GXJ, as_of="2025-04-20")
        assert (late["light"], late["due_soon"]) == ("yellow", True)

    async def test_yellow_when_the_months_report_is_missing_after_its_due_day(self, flow):
        await flow.accept("2", FGW)
        await flow.filed("2", FGW, "2025-02", 30)
        before = await flow.row("2025-03", "2", FGW, as_of="2025-03-25")
        assert (before["missing"], before["light"], before["report"]) == (True, "green", None)
        after = await flow.row("2025-03", "2", FGW, as_of="2025-03-26")
        assert (after["missing"], after["missing_months"], after["light"]) == (True, ["2025-03"], "yellow")
        await flow.filed("2", FGW, "2025-03", 35)
        filed = await flow.row("2025-03", "2", FGW, as_of="2025-03-26")
        assert (filed["missing"], filed["light"], filed["report"]["progress"]) == (False, "green", 35)

    async def test_yellow_when_progress_lags_behind_the_share_of_time_elapsed(self, flow):
        await flow.accept("2", GXJ)
        await flow.filed("2", GXJ, "2025-09", 30)
        behind = await flow.row("2025-09", "2", GXJ, as_of="2025-09-20")
        assert (behind["expected_progress"], behind["progress"], behind["lagging"], behind["light"]) == \
            (72.0, 30, True, "yellow")
        await flow.filed("2", GXJ, "2025-09", 60)
        caught_up = await flow.row("2025-09", "2", GXJ, as_of="2025-09-20")
        assert (caught_up["lagging"], caught_up["light"]) == (False, "green")

    async def test_the_database_draws_the_same_boundaries(self, flow):
        async def ids(period: str, **params) -> set[int]:
            return {r["assignment_id"] for r in await flow.rows(period, **params)}
        one = (await flow.row("2025-02", "1", FGW))["assignment_id"]
        assert one in await ids("2025-02", as_of="2025-02-28", light="yellow")
        assert (await flow.unit_rows("2025-02", as_of="2025-02-28"))[FGW]["overdue"] == 0
        assert one in await ids("2025-03", as_of="2025-03-01", light="red")
        await flow.accept("2", GXJ)
        await flow.filed("2", GXJ, "2025-07", 30)  # 2025-07-02 is half of its time: 30 = 50 - 20
        two = (await flow.row("2025-07", "2", GXJ))["assignment_id"]
        assert two in await ids("2025-07", as_of="2025-07-02", light="green")
        await flow.filed("2", GXJ, "2025-07", 29)
        assert two in await ids("2025-07", as_of="2025-07-02", light="yellow")

    async def test_filters_by_light_and_missing_agree_with_each_rows_facts(self, flow):
        await flow.accept("2", FGW)
        await flow.filed("2", FGW, "2025-03", 30)
        everything = await flow.rows("2025-03")
        assert len(everything) == 7
        for light in ("red", "yellow", "green"):
            assert {r["assignment_id"] for r in await flow.rows("2025-03", light=light)} == \
                {r["assignment_id"] for r in everything if r["light"] == light}
        assert {r["assignment_id"] for r in await flow.rows("2025-03", missing="true")} == \
            {r["assignment_id"] for r in everything if r["missing"]}
        assert len(await flow.rows("2025-03", missing="false")) == 1

    async def test_a_units_light_and_counts_are_its_obligations(self, flow):
        await flow.accept("2", FGW)
        await flow.filed("2", FGW, "2025-03", 30)
        await flow.accept("3", GXJ)
        await flow.filed("3", GXJ, "2025-04", 55)
        await flow.close("5", ZJJ, on="2025-04-02 09:00")
        for period, as_of in (("2025-03", "2025-03-10"), ("2025-03", "2025-03-31"),
                              ("2025-04", "2025-04-16"), ("2025-04", "2025-04-30"),
                              ("2025-Q2", "2025-06-30"), ("2025", "2025-12-31")):
            units = await flow.unit_rows(period, as_of=as_of)
            rows = await flow.rows(period, as_of=as_of)
            for name, unit in units.items():
                mine = [r for r in rows if r["unit"] == name]
                rank = {"green": 0, "yellow": 1, "red": 2}
                worst = max((r["light"] for r in mine), key=rank.__getitem__)
                assert unit["light"] == worst, (period, as_of, name)
                assert unit["lights"] == {x: sum(r["light"] == x for r in mine) for x in rank}
                assert unit["assignments"] == len(mine)
                for key in ("overdue", "due_soon", "lagging"):
                    assert unit[key] == sum(r[key] for r in mine), (period, as_of, name, key)
                assert unit["missing"] == sum(len(r["missing_months"]) for r in mine)


class TestRollUps:
    async def test_a_quarter_counts_each_months_expected_reports_and_their_timeliness(self, flow):
        await flow.accept("2", FGW)
        await flow.filed("2", FGW, "2025-01", 10, on="2025-01-20 10:00")
        await flow.filed("2", FGW, "2025-02", 20, on="2025-02-26 08:00")  # a day late
        await flow.filed("2", FGW, "2025-03", 30, on="2025-03-25 23:30")  # the last minutes
        await flow.accept("4.1", FGW)
        await flow.filed("4.1", FGW, "2025-03", 15)  # filed today: late
        body = await flow.summary("2025-Q1", unit=FGW)
        assert (body["kind"], body["window"], body["as_of"], body["due_date"], body["closed"]) == \
            ("quarter", {"start": "2025-01-01", "end": "2025-03-31"}, "2025-03-31", None, None)
        assert [m["period"] for m in body["months"]] == ["2025-01", "2025-02", "2025-03"]
        [unit] = body["units"]
        assert (unit["assignments"], unit["expected_reports"], unit["reported"], unit["missing"],
                unit["on_time_reports"]) == (3, 9, 4, 5, 2)
        assert (unit["overdue"], unit["light"], unit["stats"]["on_time_report_rate"]) == (1, "red", 0.2222)
        row = await flow.row("2025-Q1", "2", FGW)
        assert (row["missing"], row["report"]["period"], row["report"]["progress"]) == (False, "2025-03", 30)
        assert (await flow.row("2025-Q1", "4.1", FGW))["missing_months"] == ["2025-01", "2025-02"]

    async def test_a_year_counts_the_months_begun_by_as_of(self, flow):
        await flow.accept("2", FGW)
        await flow.filed("2", FGW, "2025-01", 10)
        whole = (await flow.unit_rows("2025"))[FGW]
        # On the last day, 2 and 4.1 are due that day: due soon, not overdue.
        assert (whole["expected_reports"], whole["reported"], whole["missing"], whole["overdue"],
                whole["due_soon"]) == (36, 1, 35, 1, 2)
        half = await flow.summary("2025", unit=FGW, as_of="2025-06-15")
        assert half["as_of"] == "2025-06-15" and len(half["months"]) == 12
        assert (half["units"][0]["expected_reports"], half["units"][0]["missing"]) == (18, 17)
        not_begun = await flow.summary("2025-03", as_of="2025-02-20")
        assert all(u["expected_reports"] == u["missing"] == 0 for u in not_begun["units"])


class TestRanking:
    async def scenario(self, flow) -> None:
        await flow.close("3", GXJ, on="2025-03-10 10:00")
        await flow.close("5", ZJJ, on="2025-03-12 10:00")
        await flow.accept("2", GXJ)
        await flow.filed("2", GXJ, "2025-03", 40, on="2025-03-10 10:00")
        sent = [(GXJ, "2025-03-26 09:00"), (GXJ, "2025-03-28 09:00"), (ZJJ, "2025-03-31 23:00"),
                (ZJJ, "2025-04-01 00:00")]  # the last one is April's
        await flow.execute(insert(Reminder).values([
            {"unit_id": flow.units[unit], "message": "请报送", "created_at": at(on)} for unit, on in sent]))

    async def ranked(self, flow, **params) -> list[str]:
        response = await flow.get("/dispatch/2025-03/ranking", **params)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
        return [i["unit"] for i in items]

    async def test_units_rank_by_each_statistic_rates_high_first_counts_low_first(self, flow):
        await self.scenario(flow)
        assert await self.ranked(flow) == [ZJJ, GXJ, FGW]  # 1/1, 1/3, 0/3 closed
        assert await self.ranked(flow, sort="on_time_report_rate") == [GXJ, FGW, ZJJ]  # 1/2, 0/3, none
        assert await self.ranked(flow, sort="overdue") == [GXJ, ZJJ, FGW]  # 0, 0 (by id), 1
        assert await self.ranked(flow, sort="reminders") == [FGW, ZJJ, GXJ]  # 0, 1, 2
        units = await flow.unit_rows("2025-03")
        assert (units[GXJ]["stats"]["reminders"], units[ZJJ]["stats"]["reminders"]) == (2, 1)
        assert units[ZJJ]["stats"]["on_time_report_rate"] is None

    async def test_pages_resume_after_the_last_unit_ranked(self, flow):
        await self.scenario(flow)
        seen, page = [], {"next_cursor": ""}
        while page["next_cursor"] is not None:
            page = (await flow.get("/dispatch/2025-03/ranking", sort="on_time_report_rate", limit=1,
                                   cursor=page["next_cursor"])).json()
            seen += [(i["rank"], i["unit"]) for i in page["items"]]
        assert seen == [(1, GXJ), (2, FGW), (3, ZJJ)]
        assert (await flow.get("/dispatch/2025-03/ranking", sort="bogus")).status_code == 422


class TestTaskProgress:
    async def test_rolls_up_from_units_and_from_clauses_as_at_the_periods_end(self, flow):
        await flow.accept("2", FGW)
        await flow.filed("2", FGW, "2025-03", 50)
        await flow.accept("4.1", FGW)
        await flow.filed("4.1", FGW, "2025-03", 40)
        await flow.close("4.2", GXJ, on="2025-03-20 10:00", part=True)
        two = (await flow.get(f"/dispatch/2025-03/tasks/{flow.tasks['2']}/progress")).json()
        assert (two["progress"], two["clauses"]) == (25.0, [])
        parent = (await flow.get(f"/dispatch/2025-03/tasks/{flow.tasks['4']}/progress")).json()
        assert parent["progress"] == 70.0
        assert [(c["number"], c["progress"]) for c in parent["clauses"]] == [("4.1", 40.0), ("4.2", 100.0)]
        before = await flow.get(f"/dispatch/2025-02/tasks/{flow.tasks['4']}/progress")
        assert before.json()["progress"] == 0.0  # nothing reported or closed by February's end

    async def test_only_a_task_the_caller_may_see(self, flow):
        path = f"/dispatch/2025-03/tasks/{flow.tasks['4']}/progress"
        assert (await flow.get(path, await flow.token(GXJ))).status_code == 200  # on clause 4.2
        assert (await flow.get(path, await flow.token(ZJJ))).status_code == 404
        assert (await flow.get("/dispatch/2025-03/tasks/999999/progress")).status_code == 404


class TestPeriods:
    async def test_the_office_sets_a_months_due_day_and_the_dispatch_follows_it(self, flow):
        await flow.accept("2", FGW)
        await flow.filed("2", FGW, "2025-02", 30)
        assert (await flow.row("2025-03", "2", FGW, as_of="2025-03-21"))["light"] == "green"
        response = await flow.put_period("2025-03", {"due_day": 20})
        assert response.status_code == 200, response.text
        assert response.json() == {"period": "2025-03", "state": "open", "due_day": 20, "closed_at": None}
        assert (await flow.summary("2025-03"))["due_date"] == "2025-03-20"
        assert (await flow.row("2025-03", "2", FGW, as_of="2025-03-21"))["light"] == "yellow"
        [entry] = await flow.audit(action="period.due_day_set")
        assert (entry["before"], entry["after"]) == (None, {"period": "2025-03", "due_day": 20})

    async def test_a_closed_periods_due_day_cannot_change(self, flow):
        assert (await flow.post("/periods/2025-03/close")).status_code == 200
        assert (await flow.summary("2025-03"))["closed"] is True  # the office's own close
        response = await flow.put_period("2025-03", {"due_day": 20})
        assert response.status_code == 409 and response.json()["code"] == "period_closed"
        assert (await flow.get("/periods/2025-03")).json()["due_day"] == 25

    async def test_only_the_office_sets_and_bad_values_are_422(self, flow):
        unit = await flow.token(FGW)
        assert (await flow.put_period("2025-03", {"due_day": 20}, unit)).status_code == 403
        for body in ({"due_day": 0}, {"due_day": 29}, {"due_day": 20, "x": 1}, {}):
            assert (await flow.put_period("2025-03", body)).status_code == 422
        assert (await flow.put_period("2025-Q1", {"due_day": 20})).status_code == 422

    async def test_lists_known_periods_newest_first(self, flow):
        for period in ("2025-01", "2025-03", "2025-02"):
            await flow.put_period(period, {"due_day": 15})
        await flow.post("/periods/2025-01/close")
        first = (await flow.get("/periods", limit=2)).json()
        assert [(p["period"], p["state"]) for p in first["items"]] == [("2025-03", "open"), ("2025-02", "open")]
        rest = (await flow.get("/periods", limit=2, cursor=first["next_cursor"])).json()
        assert [(p["period"], p["state"]) for p in rest["items"]] == [("2025-01", "closed")]
        assert rest["next_cursor"] is None
