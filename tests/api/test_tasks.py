"""Reading tasks: the filtered list, one task in full, and the office's edit of a task."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update

from app.models import AuditEntry, Task, TaskStatus
from app.tasks.schemas import OverduePage, TaskDetail
from tests.helpers import ADMIN, SEED

TASKS = "/api/v1/tasks"
GANZHOU_EPB = {"unit": "市生态环境局", "jurisdiction": "赣州市"}


async def walk(client, params: dict, headers: dict = ADMIN, limit: int = 7) -> list[int]:
    """Every task id of a filter, page by page."""
    ids, cursor = [], None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(TASKS, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [t["id"] for t in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


async def task_by_number(client, document_id: int, number: str, **params) -> dict:
    items = (await client.get(TASKS, params={"document": document_id, "limit": 500, **params},
                              headers=ADMIN)).json()["items"]
    return next(t for t in items if t["number"] == number)


async def detail(client, task_id: int, headers: dict = ADMIN, **params) -> dict:
    response = await client.get(f"{TASKS}/{task_id}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def unit_id(view: dict, short_name: str) -> int:
    return next(a["unit"]["id"] for a in view["assignments"] if a["unit"]["short_name"] == short_name)


class TestListFilters:
    async def test_unit_by_alias_within_jurisdiction_equals_unit_by_id(self, client, api):
        city = (await api.import_seed("001"))["id"]
        await api.import_seed("003")
        by_alias = await walk(client, GANZHOU_EPB)
        first = await detail(client, by_alias[0])
        epb = unit_id(first, "市生态环境局")
        assert by_alias == await walk(client, {"unit": str(epb)})
        assert len(by_alias) == 29
        items = (await client.get(TASKS, params={**GANZHOU_EPB, "limit": 500}, headers=ADMIN)).json()["items"]
        assert {t["document_id"] for t in items} == {city}
        assert all(t["assignment"]["role"] in ("lead", "responsible") for t in items)

    async def test_role_lead_keeps_only_the_units_lead_obligations(self, client, api):
        await api.import_seed("001")
        every = (await client.get(TASKS, params={**GANZHOU_EPB, "limit": 500}, headers=ADMIN)).json()
        led = (await client.get(TASKS, params={**GANZHOU_EPB, "role": "lead", "limit": 500},
                                headers=ADMIN)).json()
        assert 0 < len(led["items"]) < len(every["items"])
        assert {t["assignment"]["role"] for t in led["items"]} == {"lead"}

    async def test_role_without_a_unit_is_422(self, client, api):
        response = await client.get(TASKS, params={"role": "lead"}, headers=ADMIN)
        assert response.status_code == 422 and "unit=" in response.json()["detail"]

    async def test_unknown_unit_is_422_with_suggestions(self, client, api):
        await api.import_seed("001")
        response = await client.get(TASKS, params={"unit": "市生态环保局", "jurisdiction": "赣州市"},
                                    headers=ADMIN)
        assert response.status_code == 422
        assert response.json()["code"] == "unknown_unit"
        assert "赣州市生态环境局" in response.json()["suggestions"]

    async def test_document_keeps_that_documents_tasks(self, client, api):
        city = (await api.import_seed("001"))["id"]
        await api.import_seed("002")
        items = (await client.get(TASKS, params={"document": city, "limit": 500}, headers=ADMIN)).json()["items"]
        assert len(items) == 31 and {t["document_id"] for t in items} == {city}
        assert [t["number"] for t in items] == [str(n) for n in range(1, 32)]

    async def test_jurisdiction_without_a_unit_keeps_that_places_documents(self, client, api):
        await api.import_seed("001")
        county = (await api.import_seed("002"))["id"]
        items = (await client.get(TASKS, params={"jurisdiction": "兴国县", "limit": 500},
                                  headers=ADMIN)).json()["items"]
        assert len(items) == 21 and {t["document_id"] for t in items} == {county}

    async def test_kind_project_keeps_the_key_project_rows(self, client, api):
        plan = (await api.import_seed("000"))["id"]
        await api.import_seed("001")
        projects = await walk(client, {"kind": "project"})
        assert len(projects) == 30
        assert projects == await walk(client, {"document": plan})
        assert await walk(client, {"kind": "project", "q": "数字环保"}) == projects[:1]

    async def test_q_finds_the_tasks_that_mention_carbon_peaking(self, client, api):
        await api.import_seed("001")
        await api.import_seed("002")
        ids = await walk(client, {"q": "碳达峰"})
        assert ids
        for task_id in ids:
            view = await detail(client, task_id)
            assert "碳达峰" in view["title"] or "碳达峰" in view["text"]
        assert await walk(client, {"q": "碳达峰%"}) == []

    async def test_deadline_range_splits_the_two_plans(self, client, api):
        city = (await api.import_seed("001"))["id"]
        district = (await api.import_seed("003"))["id"]
        early = (await client.get(TASKS, params={"deadline_to": "2024-12-31", "limit": 500},
                                  headers=ADMIN)).json()["items"]
        late = (await client.get(TASKS, params={"deadline_from": "2025-01-01", "limit": 500},
                                 headers=ADMIN)).json()["items"]
        assert early and {t["document_id"] for t in early} == {district}
        assert late and {t["document_id"] for t in late} == {city}
        backwards = await client.get(TASKS, params={"deadline_from": "2025-01-01",
                                                    "deadline_to": "2024-01-01"}, headers=ADMIN)
        assert backwards.status_code == 422

    async def test_status_is_the_tasks_without_a_unit_and_the_obligations_with_one(self, client, api):
        await api.import_seed("001")
        assert len(await walk(client, {"status": "open"})) == 31
        assert await walk(client, {"status": "closed"}) == []
        assert len(await walk(client, {**GANZHOU_EPB, "status": "assigned"})) == 29
        assert await walk(client, {**GANZHOU_EPB, "status": "in_progress"}) == []
        wrong = await client.get(TASKS, params={"status": "assigned"}, headers=ADMIN)
        assert wrong.status_code == 422 and "open, closed, withdrawn" in wrong.json()["detail"]

    async def test_parent_lists_the_clauses_of_a_district_task(self, client, api):
        district = (await api.import_seed("003"))["id"]
        first = await task_by_number(client, district, "1")
        clauses = (await client.get(TASKS, params={"parent": first["id"]}, headers=ADMIN)).json()["items"]
        assert [c["number"] for c in clauses] == ["1.1", "1.2", "1.3"]
        assert {c["parent_id"] for c in clauses} == {first["id"]}

    async def test_overdue_filter_without_a_unit_counts_the_clauses_of_a_parent(self, client, api):
        district = (await api.import_seed("003"))["id"]
        third = await task_by_number(client, district, "3")
        early = await task_by_number(client, district, "3.1")
        assert early["deadline"] == "2024-06-30" and early["parent_id"] == third["id"]
        # Only clause 3.1 (6月底前) is late in the second half of 2024; its parent is late with it.
        assert await walk(client, {"overdue": "true", "as_of": "2024-12-31"}) == [third["id"], early["id"]]
        assert await walk(client, {"overdue": "true", "as_of": "2024-06-30"}) == []
        every = await walk(client, {})
        assert len(await walk(client, {"overdue": "true", "as_of": "2025-01-01"})) == len(every)
        on_time = await walk(client, {"overdue": "false", "as_of": "2024-12-31"})
        assert on_time == [t for t in every if t not in (third["id"], early["id"])]


class TestPagination:
    async def test_pages_of_seven_give_the_ids_of_one_big_page(self, client, api):
        for seed in ("001", "002", "003"):
            await api.import_seed(seed)
        for params in ({}, GANZHOU_EPB, {"q": "生态"}, {"overdue": "false", "as_of": "2024-06-01"}):
            paged = await walk(client, params, limit=7)
            whole = (await client.get(TASKS, params={**params, "limit": 500}, headers=ADMIN)).json()
            assert whole["next_cursor"] is None
            assert paged == [t["id"] for t in whole["items"]]
            assert len(paged) == len(set(paged)) and paged == sorted(paged)

    async def test_a_bad_cursor_is_422(self, client, api):
        for cursor in ("garbage", "WyJ4Il0"):  # not base64 JSON; a list of one string
            response = await client.get(TASKS, params={"cursor": cursor}, headers=ADMIN)
            assert response.status_code == 422 and response.json()["code"] == "invalid_input"


class TestOneTask:
    async def test_source_text_is_the_slice_of_the_document(self, client, api):
        city = (await api.import_seed("001"))["id"]
        text = next(SEED.glob("001*")).read_text("utf-8")
        view = await detail(client, (await task_by_number(client, city, "4"))["id"])
        source = view["source"]
        assert text[source["start"]:source["end"]] == source["text"]
        assert source["text"].startswith("4.安全有序推进碳达峰")
        assert view["document"]["id"] == city and view["document"]["doc_number"]
        assert view["section_path"] and view["deadline"] == "2025-12-31"
        assert view["detail"]["units_text"]

    async def test_group_placeholder_is_a_label_not_an_obligation(self, client, api):
        county = (await api.import_seed("002"))["id"]
        view = await detail(client, (await task_by_number(client, county, "1"))["id"])
        assert "各乡镇人民政府" in [g["short_name"] for g in view["groups"]]
        assert "各乡镇人民政府" not in [a["unit"]["short_name"] for a in view["assignments"]]
        assert view["rollup"]["obligations"] == len(view["assignments"])

    async def test_a_district_task_rolls_up_its_clauses(self, client, api):
        district = (await api.import_seed("003"))["id"]
        parent = await detail(client, (await task_by_number(client, district, "1"))["id"])
        assert [s["number"] for s in parent["subtasks"]] == ["1.1", "1.2", "1.3"]
        clauses = [await detail(client, s["id"]) for s in parent["subtasks"]]
        assert all(c["parent"]["id"] == parent["id"] for c in clauses)
        assert parent["rollup"]["obligations"] == sum(len(c["assignments"]) for c in clauses) == 11
        assert parent["rollup"]["open"] == 11 and parent["rollup"]["progress"] is None

    async def test_if_none_match_with_the_current_etag_is_304(self, client, api):
        await api.import_seed("001")
        first = await client.get(f"{TASKS}/1", headers=ADMIN)
        tag = first.headers["etag"]
        again = await client.get(f"{TASKS}/1", headers={**ADMIN, "If-None-Match": tag})
        assert again.status_code == 304 and again.headers["etag"] == tag and not again.content
        other = await client.get(f"{TASKS}/1", headers={**ADMIN, "If-None-Match": '"task-1-v0"'})
        assert other.status_code == 200

    async def test_unknown_task_is_404(self, client, api):
        response = await client.get(f"{TASKS}/999", headers=ADMIN)
        assert response.status_code == 404 and response.json()["code"] == "not_found"


class TestTheViewsShape:
    """The task view and the overdue page are built as plain data for speed: each must be
    exactly what its published schema says, value for value."""

    async def test_every_view_round_trips_through_task_detail(self, client, api, database):
        city = (await api.import_seed("001"))["id"]
        district = (await api.import_seed("003"))["id"]
        async with database.session() as session:
            await session.execute(update(Task).where(Task.id == 2).values(
                closed_at=datetime(2025, 3, 1, 8, 30, 15, 250000, tzinfo=UTC)))
            await session.commit()
        lead = await api.mint("市发改委", jurisdiction="赣州市")
        views = []
        for document in (city, district):
            for task in (await client.get(TASKS, params={"document": document, "limit": 500},
                                          headers=ADMIN)).json()["items"]:
                views.append(await detail(client, task["id"], as_of="2026-01-01"))
        own = (await client.get(TASKS, params={"limit": 5}, headers=lead)).json()["items"]
        views += [await detail(client, t["id"], headers=lead) for t in own]
        assert any(v["milestones"] for v in views) and any(v["subtasks"] for v in views)
        assert any(v["groups"] for v in views) and any(v["rollup"]["overdue"] for v in views
                                                       if v["rollup"])
        for view in views:
            assert TaskDetail.model_validate(view).model_dump(mode="json") == view
        assert views[1]["closed_at"] == "2025-03-01T08:30:15.250000Z"

    async def test_an_overdue_page_round_trips_through_its_schema(self, client, api):
        await api.import_seed("001")
        page = (await client.get("/api/v1/units/市生态环境局/overdue",
                                 params={"as_of": "2026-01-01", "jurisdiction": "赣州市",
                                         "limit": 5}, headers=ADMIN)).json()
        assert len(page["items"]) == 5 and page["next_cursor"]
        assert OverduePage.model_validate(page).model_dump(mode="json") == page


class TestEditTask:
    async def test_stale_if_match_is_412_and_changes_nothing(self, client, api, database):
        await api.import_seed("001")
        tag = (await client.get(f"{TASKS}/1", headers=ADMIN)).headers["etag"]
        first = await client.patch(f"{TASKS}/1", json={"title": "新标题"},
                                   headers={**ADMIN, "If-Match": tag})
        assert first.status_code == 200 and first.headers["etag"] != tag
        stale = await client.patch(f"{TASKS}/1", json={"title": "再改"},
                                   headers={**ADMIN, "If-Match": tag})
        assert stale.status_code == 412
        assert stale.json()["current_etag"] == first.headers["etag"]
        assert (await detail(client, 1))["title"] == "新标题"
        async with database.engine.connect() as conn:
            entries = (await conn.execute(select(func.count()).where(
                AuditEntry.action == "task.updated", AuditEntry.task_id == 1))).scalar_one()
        assert entries == 1

    async def test_a_new_deadline_moves_the_effective_deadlines(self, client, api, database):
        await api.import_seed("001")
        before = await detail(client, 4, as_of="2026-01-01")
        assert before["rollup"]["overdue"] == len(before["assignments"]) > 0
        response = await client.patch(f"{TASKS}/4", json={"deadline": "2026-06-30"},
                                      params={"as_of": "2026-01-01"}, headers=ADMIN)
        assert response.status_code == 200
        after = response.json()
        assert after["deadline"] == "2026-06-30" and after["deadline_source"] == "office"
        assert {a["effective_deadline"] for a in after["assignments"]} == {"2026-06-30"}
        assert after["rollup"]["overdue"] == 0 and after["version"] == before["version"] + 1
        async with database.engine.connect() as conn:
            entry = (await conn.execute(select(AuditEntry.before, AuditEntry.after).where(
                AuditEntry.action == "task.updated"))).one()
        assert entry.before["deadline"] == "2025-12-31" and entry.after["deadline"] == "2026-06-30"

    async def test_the_same_values_again_change_nothing(self, client, api):
        await api.import_seed("001")
        view = await detail(client, 2)
        same = await client.patch(f"{TASKS}/2", json={"title": view["title"]}, headers=ADMIN)
        assert same.status_code == 200 and same.json()["version"] == view["version"]

    async def test_a_null_title_or_an_unknown_field_is_422(self, client, api):
        await api.import_seed("001")
        for body in ({"title": None}, {"status": "closed"}):
            response = await client.patch(f"{TASKS}/2", json=body, headers=ADMIN)
            assert response.status_code == 422

    async def test_a_withdrawn_task_cannot_be_edited(self, client, api, database):
        await api.import_seed("001")
        async with database.engine.begin() as conn:
            await conn.execute(update(Task).where(Task.id == 3).values(status=TaskStatus.withdrawn))
        response = await client.patch(f"{TASKS}/3", json={"title": "x"}, headers=ADMIN)
        assert response.status_code == 409 and response.json()["current"] == "withdrawn"

    async def test_only_the_office_edits(self, client, api):
        await api.import_seed("001")
        unit = await api.mint("市生态环境局", jurisdiction="赣州市")
        response = await client.patch(f"{TASKS}/1", json={"title": "x"}, headers=unit)
        assert response.status_code == 403


class TestWhatAUnitSees:
    async def test_a_task_of_another_unit_is_404(self, client, api):
        city = (await api.import_seed("001"))["id"]
        await api.import_seed("002")
        county_task = (await client.get(TASKS, params={"unit": "县科工局", "jurisdiction": "兴国县"},
                                        headers=ADMIN)).json()["items"][0]
        city_unit = await api.mint("市生态环境局", jurisdiction="赣州市")
        assert (await client.get(f"{TASKS}/{county_task['id']}", headers=city_unit)).status_code == 404
        assert (await client.get(f"{TASKS}/99999", headers=city_unit)).status_code == 404
        own = await task_by_number(client, city, "1")
        assert (await client.get(f"{TASKS}/{own['id']}", headers=city_unit)).status_code == 200

    async def test_a_responsible_unit_sees_only_its_own_row(self, client, api):
        city = (await api.import_seed("001"))["id"]
        task = await task_by_number(client, city, "4")
        everyone = await detail(client, task["id"])
        assert len(everyone["assignments"]) > 2
        industry = await api.mint("市工信局", jurisdiction="赣州市")
        view = await detail(client, task["id"], headers=industry)
        assert [a["unit"]["short_name"] for a in view["assignments"]] == ["市工信局"]
        assert view["assignments"][0]["role"] == "responsible" and view["rollup"] is None

    async def test_the_lead_unit_sees_every_row_and_the_rollup(self, client, api):
        city = (await api.import_seed("001"))["id"]
        task = await task_by_number(client, city, "4")
        lead = await api.mint("市发改委", jurisdiction="赣州市")
        view = await detail(client, task["id"], headers=lead)
        assert view["assignments"] == (await detail(client, task["id"]))["assignments"]
        assert view["rollup"]["obligations"] == len(view["assignments"])

    async def test_a_unit_lists_only_its_own_obligations(self, client, api):
        await api.import_seed("001")
        await api.import_seed("002")
        unit = await api.mint("市生态环境局", jurisdiction="赣州市")
        assert await walk(client, {}, headers=unit) == await walk(client, GANZHOU_EPB)
        other = await client.get(TASKS, params={"unit": "县科工局", "jurisdiction": "兴国县"},
                                 headers=unit)
        assert other.status_code == 403

    async def test_a_unit_on_a_clause_sees_the_parent_but_no_other_rows(self, client, api):
        district = (await api.import_seed("003"))["id"]
        parent = await task_by_number(client, district, "1")
        transport = await api.mint("区交通运输局", jurisdiction="赣县区")
        view = await detail(client, parent["id"], headers=transport)
        assert view["assignments"] == [] and view["rollup"] is None
        clause = await detail(client, view["subtasks"][1]["id"], headers=transport)
        assert [a["unit"]["short_name"] for a in clause["assignments"]] == ["区交通运输局"]
        unrelated = view["subtasks"][2]["id"]
        assert (await client.get(f"{TASKS}/{unrelated}", headers=transport)).status_code == 404
