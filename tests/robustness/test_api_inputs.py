"""Bad input on the write bodies and in paths: every field given every wrong JSON type, days and
months that do not exist or that no dispatch can show, and ids that cannot exist. Each answer
is a 4xx problem+json naming what to fix, never a 5xx, and the database is left as it was."""

from __future__ import annotations

import pytest

from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN
from tests.robustness.state import assert_same, refused, snapshot

# One value of each JSON type; "7" and "true" are the strings lax parsers turn into numbers.
SAMPLES = {"string": ["7", "true"], "integer": [7], "number": [1.5], "boolean": [True],
           "array": [[]], "object": [{}], "null": [None]}


@pytest.fixture
async def world(client, api, database) -> dict:
    flow = await Flow(client, api, database).start()
    t1, t2 = flow.tasks["1"], flow.tasks["2"]
    await flow.accept("1", "市发改委")
    await flow.accept("2", "市住建局")
    asked = await flow.post(f"/tasks/{t2}/extensions", {"deadline": "2026-06-30", "reason": "征地"},
                            await flow.token("市住建局"))
    lead, helper = await flow.token("市发改委"), await flow.obligation("1", "市工信局")
    return {"flow": flow, "bodies": {
        "ReportCreate": ("POST", f"/tasks/{t1}/reports", lead,
                         {"period": "2025-03", "progress": 30, "summary": "按计划推进",
                          "milestone_values": None, "unit": None, "jurisdiction": None}),
        "ExtensionCreate": ("POST", f"/tasks/{t1}/extensions", lead,
                            {"deadline": "2026-06-30", "reason": "资金未到位", "unit": None,
                             "jurisdiction": None}),
        "AssignmentCreate": ("POST", f"/tasks/{t2}/assignments", ADMIN,
                             {"unit": str(flow.units["市科技局"]), "role": "responsible",
                              "deadline": "2025-12-31", "jurisdiction": None}),
        "AssignmentUpdate": ("PATCH", f"/tasks/{t1}/assignments/{helper['id']}", ADMIN,
                             {"role": "responsible", "deadline": "2025-12-31"}),
        "ReminderCreate": ("POST", "/reminders", ADMIN,
                           {"unit": "市科技局", "task": t1, "period": "2025-03", "message": "请报送",
                            "units": None, "missing_for": None, "jurisdiction": None}),
        "WebhookCreate": ("POST", "/webhooks", ADMIN, {"url": "http://127.0.0.1:9/hook",
                                                      "secret": "s" * 16, "events": ["*"]}),
        "TokenCreate": ("POST", "/tokens", ADMIN, {"unit": str(flow.units["市科技局"]), "role": "unit",
                                                  "jurisdiction": None, "label": "科技局"}),
        "Decision": ("POST", f"/extensions/{asked.json()['id']}/decision", ADMIN,
                     {"approved": True, "comment": "同意"}),
        "TaskUpdate": ("PATCH", f"/tasks/{t1}", ADMIN,
                       {"title": "推进碳达峰工作", "deadline": "2025-12-31", "deadline_text": "年底前"}),
        "DueDay": ("PUT", "/periods/2025-03", ADMIN, {"due_day": 20}),
    }}


def allowed_types(prop: dict, schemas: dict) -> set[str]:
    if "$ref" in prop:
        return allowed_types(schemas[prop["$ref"].rsplit("/", 1)[1]], schemas)
    if "anyOf" in prop:
        return set().union(*(allowed_types(p, schemas) for p in prop["anyOf"]))
    return {prop.get("type", "string")}  # an enum without a type is one of strings here


async def send(flow: Flow, method: str, path: str, headers: dict, body: dict):
    return await flow.client.request(method, API + path, json=body, headers=headers)


class TestWrongTypes:
    @pytest.mark.parametrize("model", ["ReportCreate", "ExtensionCreate", "AssignmentCreate",
                                       "AssignmentUpdate", "ReminderCreate", "WebhookCreate",
                                       "TokenCreate", "Decision", "TaskUpdate", "DueDay"])
    async def test_every_field_given_a_wrong_json_type_is_422_naming_it(self, world, database, model):
        flow, (method, path, headers, good) = world["flow"], world["bodies"][model]
        schemas = (await flow.client.get("/openapi.json")).json()["components"]["schemas"]
        properties = schemas[model]["properties"]
        assert set(good) == set(properties), "the good body gives every field"
        before, tried = await snapshot(database), 0
        for field, prop in properties.items():
            kinds = allowed_types(prop, schemas)
            for kind, values in SAMPLES.items():
                for value in values:
                    if kind in kinds or (kind == "integer" and "number" in kinds):
                        continue
                    response = await send(flow, method, path, headers, {**good, field: value})
                    body = refused(response, "validation_error", status=422)
                    assert field in {e["field"].split(".")[0] for e in body["errors"]}, \
                        (field, value, body)
                    tried += 1
        assert tried >= 2 * len(properties)
        assert_same(before, await snapshot(database))
        # The same body with every field right is taken: only the wrong field was refused.
        assert (await send(flow, method, path, headers, good)).status_code in (200, 201)


DAYS = ["2025-02-30", "2025-13-01", "2025-00-10", "0000-01-01", "0001-01-01", "1948-12-31",
        "9999-12-31", "10000-01-01", "+2025-01-01", "2025-1-5", "20250105", "0", "1e3"]
MONTHS = ["2025-00", "2025-13", "0000-01", "1948-12", "9999-01", "99999-01", "2025-1",
          "２０２５-03", "2025-03-01", " 2025-03"]


class TestDaysAndMonths:
    async def test_days_that_do_not_exist_or_no_dispatch_can_show_are_422(self, world, database):
        flow, bodies = world["flow"], world["bodies"]
        before = await snapshot(database)
        for day in DAYS:
            for model, field in (("ExtensionCreate", "deadline"), ("AssignmentCreate", "deadline"),
                                 ("AssignmentUpdate", "deadline"), ("TaskUpdate", "deadline")):
                method, path, headers, good = bodies[model]
                refused(await send(flow, method, path, headers, {**good, field: day}),
                        "validation_error", status=422)
            for path, param in (("/tasks", "as_of"), ("/tasks", "deadline_from"), ("/overdue", "as_of"),
                                ("/dispatch/2025-03", "as_of"), ("/dispatch/2025/ledger.csv", "as_of"),
                                (f"/tasks/{flow.tasks['1']}", "as_of")):
                refused(await flow.client.get(API + path, params={param: day}, headers=ADMIN),
                        "validation_error", status=422)
        assert_same(before, await snapshot(database))

    async def test_the_first_and_last_days_a_dispatch_can_show_are_taken(self, world):
        flow = world["flow"]
        method, path, headers, good = world["bodies"]["TaskUpdate"]
        for day in ("1949-01-01", "9998-12-31"):
            assert (await send(flow, method, path, headers, {"deadline": day})).status_code == 200
            for where in ("/dispatch/9998", "/dispatch/1949", "/overdue", "/units/市发改委/calendar.ics"):
                response = await flow.client.get(API + where, params={"as_of": day}
                                                 if "calendar" not in where else {}, headers=ADMIN)
                assert response.status_code == 200, (day, where, response.text[:300])

    async def test_months_that_do_not_exist_are_422_wherever_a_period_is_taken(self, world, database):
        flow, bodies = world["flow"], world["bodies"]
        before = await snapshot(database)
        for month in MONTHS:
            method, path, headers, good = bodies["ReportCreate"]
            refused(await send(flow, method, path, headers, {**good, "period": month}), status=422)
            for field in ("missing_for", "period"):
                body = {"missing_for": month} if field == "missing_for" else {"unit": "市科技局", "period": month}
                refused(await send(flow, "POST", "/reminders", ADMIN, body), status=422)
            quoted = month.replace(" ", "%20")
            refused(await send(flow, "PUT", f"/periods/{quoted}", ADMIN, {"due_day": 20}), status=422)
            refused(await flow.client.post(f"{API}/periods/{quoted}/close", headers=ADMIN), status=422)
            for path in (f"/dispatch/{quoted}", f"/periods/{quoted}", f"/dispatch/{quoted}/ledger.csv"):
                refused(await flow.client.get(API + path, headers=ADMIN), status=422)
            refused(await flow.client.get(f"{API}/tasks/{flow.tasks['1']}/reports",
                                          params={"period": month}, headers=ADMIN), status=422)
        assert_same(before, await snapshot(database))
