"""What is overdue, as of a day: one unit's list, the counts per unit, and the index they read."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from app.models import Role
from app.tasks import overdue
from tests.helpers import ADMIN

EPB = "/api/v1/units/市生态环境局/overdue"
IN_GANZHOU = {"jurisdiction": "赣州市"}
ONGOING_PLAN = """于都县河湖长制工作方案
一、重点任务
1.常态化开展河湖巡查。各级河湖长按要求开展巡查。〔牵头单位：县水利局；完成时限：长期坚持〕
2.完成河道清淤。2025年6月底前完成主要河道清淤。〔牵头单位：县水利局〕
"""


async def walk(client, path: str, params: dict, headers: dict = ADMIN, limit: int = 4) -> list[dict]:
    items, cursor = [], None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


class TestUnitOverdue:
    async def test_due_on_the_deadline_and_one_day_late_the_day_after(self, client, api):
        city = (await api.import_seed("001"))["id"]
        on_time = await client.get(EPB, params={**IN_GANZHOU, "as_of": "2025-12-31"}, headers=ADMIN)
        assert on_time.status_code == 200 and on_time.json()["items"] == []
        late = (await client.get(EPB, params={**IN_GANZHOU, "as_of": "2026-01-01", "limit": 500},
                                 headers=ADMIN)).json()
        assert late["as_of"] == "2026-01-01" and len(late["items"]) == 29
        first = late["items"][0]
        assert first["deadline"] == "2025-12-31" and first["days_overdue"] == 1
        assert first["status"] == "assigned" and first["role"] in ("lead", "responsible")
        assert first["task"]["document"]["id"] == city and first["task"]["number"] == "1"
        assert {i["days_overdue"] for i in late["items"]} == {1}

    async def test_days_overdue_count_from_the_effective_deadline(self, client, api):
        await api.import_seed("001")
        items = (await client.get(EPB, params={**IN_GANZHOU, "as_of": "2026-03-01"},
                                  headers=ADMIN)).json()["items"]
        assert {i["days_overdue"] for i in items} == {60}

    async def test_pages_come_in_deadline_then_task_order(self, client, api):
        await api.import_seed("000")
        await api.import_seed("001")
        params = {**IN_GANZHOU, "as_of": "2031-01-01"}
        paged = await walk(client, EPB, params, limit=4)
        whole = (await client.get(EPB, params={**params, "limit": 500}, headers=ADMIN)).json()["items"]
        assert paged == whole and len({i["assignment_id"] for i in paged}) == len(paged)
        keys = [(i["deadline"], i["task"]["id"]) for i in paged]
        assert keys == sorted(keys) and len({d for d, _ in keys}) > 1

    async def test_an_ongoing_task_is_never_overdue(self, client, api):
        await api.import_text(ONGOING_PLAN)
        items = (await client.get("/api/v1/units/县水利局/overdue", params={"as_of": "2099-01-01"},
                                  headers=ADMIN)).json()["items"]
        assert [(i["task"]["number"], i["deadline"]) for i in items] == [("2", "2025-06-30")]
        tasks = (await client.get("/api/v1/tasks", params={"unit": "县水利局", "as_of": "2099-01-01"},
                                  headers=ADMIN)).json()["items"]
        ongoing = next(t for t in tasks if t["number"] == "1")
        assert ongoing["deadline"] is None and ongoing["deadline_text"] == "长期坚持"
        assert ongoing["assignment"]["overdue"] is False and ongoing["assignment"]["days_overdue"] == 0
        view = (await client.get(f"/api/v1/tasks/{ongoing['id']}", params={"as_of": "2099-01-01"},
                                 headers=ADMIN)).json()
        assert view["ongoing"] and view["rollup"]["overdue"] == 0

    async def test_the_task_list_agrees_with_the_overdue_list(self, client, api):
        await api.import_seed("001")
        params = {"unit": "市生态环境局", **IN_GANZHOU, "as_of": "2026-01-01", "limit": 500}
        listed = (await client.get(EPB, params=params, headers=ADMIN)).json()["items"]
        late = (await client.get("/api/v1/tasks", params={**params, "overdue": "true"},
                                 headers=ADMIN)).json()["items"]
        assert sorted(i["task"]["id"] for i in listed) == [t["id"] for t in late]
        assert all(t["assignment"]["days_overdue"] == 1 for t in late)
        on_time = (await client.get("/api/v1/tasks", params={**params, "overdue": "false"},
                                    headers=ADMIN)).json()["items"]
        assert on_time == []

    async def test_role_keeps_the_units_lead_obligations(self, client, api):
        await api.import_seed("001")
        params = {**IN_GANZHOU, "as_of": "2026-01-01", "limit": 500}
        every = (await client.get(EPB, params=params, headers=ADMIN)).json()["items"]
        led = (await client.get(EPB, params={**params, "role": "lead"}, headers=ADMIN)).json()["items"]
        assert 0 < len(led) < len(every) and {i["role"] for i in led} == {"lead"}

    async def test_a_new_task_deadline_takes_the_task_off_the_list(self, client, api):
        await api.import_seed("001")
        params = {**IN_GANZHOU, "as_of": "2026-01-01", "limit": 500}
        first = (await client.get(EPB, params=params, headers=ADMIN)).json()["items"][0]
        moved = await client.patch(f"/api/v1/tasks/{first['task']['id']}",
                                   json={"deadline": "2026-06-30"}, headers=ADMIN)
        assert moved.status_code == 200
        after = (await client.get(EPB, params=params, headers=ADMIN)).json()["items"]
        assert first["task"]["id"] not in [i["task"]["id"] for i in after]
        later = (await client.get(EPB, params={**params, "as_of": "2026-07-02"}, headers=ADMIN)).json()
        assert {"deadline": "2026-06-30", "days_overdue": 2}.items() <= later["items"][-1].items()

    async def test_a_unit_token_reads_its_own_list_only(self, client, api):
        await api.import_seed("001")
        epb = await api.mint("市生态环境局", jurisdiction="赣州市")
        own = await client.get(EPB, params={**IN_GANZHOU, "as_of": "2026-01-01"}, headers=epb)
        assert own.status_code == 200 and own.json()["items"]
        other = await client.get("/api/v1/units/市发改委/overdue", params=IN_GANZHOU, headers=epb)
        assert other.status_code == 404
        reader = await api.mint(None, role="reader")
        assert (await client.get("/api/v1/units/市发改委/overdue", params=IN_GANZHOU,
                                 headers=reader)).status_code == 200

    async def test_an_unknown_unit_is_422_with_suggestions(self, client, api):
        await api.import_seed("001")
        response = await client.get("/api/v1/units/市生态环保局/overdue", params=IN_GANZHOU,
                                    headers=ADMIN)
        assert response.status_code == 422 and response.json()["code"] == "unknown_unit"
        assert "赣州市生态环境局" in response.json()["suggestions"]

    async def test_a_bad_cursor_is_422(self, client, api):
        await api.import_seed("001")
        for cursor in ("garbage", "WyJub3QgYSBkYXRlIiwgMV0"):  # ["not a date", 1]
            response = await client.get(EPB, params={**IN_GANZHOU, "cursor": cursor}, headers=ADMIN)
            assert response.status_code == 422


class TestOverdueCounts:
    async def test_each_count_is_the_length_of_that_units_list(self, client, api):
        await api.import_seed("001")
        await api.import_seed("002")
        counts = await walk(client, "/api/v1/overdue", {"as_of": "2027-01-01"}, limit=3)
        whole = (await client.get("/api/v1/overdue", params={"as_of": "2027-01-01", "limit": 500},
                                  headers=ADMIN)).json()["items"]
        assert counts == whole and len(counts) > 10
        assert [(-c["overdue"], c["unit"]["id"]) for c in counts] == sorted(
            (-c["overdue"], c["unit"]["id"]) for c in counts)
        for row in counts:
            listed = await walk(client, f"/api/v1/units/{row['unit']['id']}/overdue",
                                {"as_of": "2027-01-01"}, limit=500)
            assert len(listed) == row["overdue"]
            assert row["oldest_deadline"] == min(i["deadline"] for i in listed)
            assert row["max_days_overdue"] == max(i["days_overdue"] for i in listed)

    async def test_nothing_is_overdue_before_the_deadlines(self, client, api):
        await api.import_seed("001")
        body = (await client.get("/api/v1/overdue", params={"as_of": "2025-06-01"}, headers=ADMIN)).json()
        assert body == {"items": [], "next_cursor": None, "as_of": "2025-06-01"}

    async def test_jurisdiction_keeps_the_units_of_that_place(self, client, api):
        await api.import_seed("001")
        await api.import_seed("002")
        params = {"as_of": "2027-01-01", "limit": 500}
        every = (await client.get("/api/v1/overdue", params=params, headers=ADMIN)).json()["items"]
        county = (await client.get("/api/v1/overdue", params={**params, "jurisdiction": "兴国县"},
                                   headers=ADMIN)).json()["items"]
        assert county and {c["unit"]["jurisdiction"] for c in county} == {"兴国县"}
        assert county == [c for c in every if c["unit"]["jurisdiction"] == "兴国县"]
        unknown = await client.get("/api/v1/overdue", params={"jurisdiction": "火星县"}, headers=ADMIN)
        assert unknown.status_code == 404

    async def test_a_unit_token_sees_its_own_row_only(self, client, api):
        await api.import_seed("001")
        epb = await api.mint("市生态环境局", jurisdiction="赣州市")
        rows = (await client.get("/api/v1/overdue", params={"as_of": "2026-01-01"}, headers=epb)).json()
        assert [(r["unit"]["short_name"], r["overdue"]) for r in rows["items"]] == [("市生态环境局", 29)]

    async def test_a_bad_cursor_is_422(self, client):
        response = await client.get("/api/v1/overdue", params={"cursor": "WyJhIiwgMV0"}, headers=ADMIN)
        assert response.status_code == 422


class TestQueryPlan:
    async def test_a_units_overdue_page_reads_the_partial_index(self, client, api, database):
        await api.import_seed("001")
        for after in (None, (date(2025, 12, 31), 3)):
            statement = overdue.unit_statement(1, date(2026, 1, 1), limit=50, role=Role.lead,
                                               after=after, ordered=not database.is_sqlite)
            sql = str(statement.compile(dialect=database.engine.dialect,
                                        compile_kwargs={"literal_binds": True}))
            async with database.engine.connect() as conn:
                if database.is_sqlite:
                    plan = (await conn.execute(text("EXPLAIN QUERY PLAN " + sql))).all()
                else:
                    # The test table holds a few hundred rows, so PostgreSQL would rightly scan
                    # it whole, or read another index and sort; forbidding both shows the
                    # partial index serves the statement as written, in order, with no sort.
                    await conn.execute(text("SET enable_seqscan = off"))
                    await conn.execute(text("SET enable_sort = off"))
                    plan = (await conn.execute(text("EXPLAIN " + sql))).all()
            assert "ix_assignment_open_by_unit" in " ".join(str(r[-1]) for r in plan), plan
