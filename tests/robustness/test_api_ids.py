"""Ids that cannot exist, in every path and query parameter the OpenAPI declares as an integer,
and unit references that look like numbers: 404 or 422, never a 5xx, nothing changed. (Ids
are INTEGER columns: past 2**31 - 1 SQLite overflowed and PostgreSQL refused the statement.)"""

from __future__ import annotations

import pytest

from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN
from tests.robustness.state import assert_same, refused, snapshot

IDS = ["0", "-1", str(2**31), str(-2**31), str(2**63), str(-2**63 - 1), str(2**64), "9" * 30,
       "9999999999.0", "1e3", "1.5", "abc", "²", "0x10"]
# A body each write route takes, so that only the id decides the answer.
BODIES = {"reports": {"period": "2025-03", "progress": 10, "summary": "x"},
          "extensions": {"deadline": "2026-06-30", "reason": "x"},
          "decision": {"approved": True}, "verification": {"approved": True},
          "assignments": {"unit": "市科技局", "role": "responsible"},
          "responsibility-changes": {"kind": "remove", "reason": "x"}, "completion": {"summary": "x"}}


@pytest.fixture
async def flow(client, api, database) -> Flow:
    flow = await Flow(client, api, database).start()
    await flow.accept("1", "市发改委")
    return flow


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            ints = [p for p in op.get("parameters", []) if _is_int(p.get("schema", {}))]
            if ints:
                yield method.upper(), path, op, ints


def _is_int(schema: dict) -> bool:
    return schema.get("type") == "integer" or any(s.get("type") == "integer"
                                                  for s in schema.get("anyOf", []))


class TestIds:
    async def test_an_id_that_cannot_exist_is_404_or_422_on_every_route(self, flow, database):
        spec = (await flow.client.get("/openapi.json")).json()
        real = {"task_id": flow.tasks["1"], "document_id": flow.document, "period": "2025-03",
                "unit": "市发改委"}
        before, routes, sent = await snapshot(database), set(), 0
        for method, path, op, ints in operations(spec):
            body = BODIES.get(path.rsplit("/", 1)[-1], {}) if method != "GET" else None
            for param in ints:
                for bad in IDS:
                    values = {p["name"]: real.get(p["name"], 1) for p in op["parameters"]
                              if p["in"] == "path"}
                    query = {}
                    if param["in"] == "path":
                        values[param["name"]] = bad
                    else:
                        query[param["name"]] = bad
                    url = path.format(**values)
                    response = await flow.client.request(method, API + url.removeprefix(API),
                                                         params=query, json=body, headers=ADMIN)
                    assert response.status_code < 500, (method, url, query, response.text[:300])
                    if response.status_code >= 400:
                        refused(response)
                    else:  # a filter on a number no row has: an empty answer
                        assert param["in"] == "query" and bad in ("0", "-1"), (method, url, query)
                    sent += 1
                routes.add((method, path))
        assert len(routes) >= 25 and sent >= 25 * len(IDS)
        assert_same(before, await snapshot(database))

    async def test_the_largest_id_is_an_ordinary_not_found(self, flow):
        response = await flow.get(f"/tasks/{2**31 - 1}")
        assert refused(response, "not_found", status=404)
        beyond = refused(await flow.get(f"/tasks/{2**31}"), "validation_error", status=422)
        assert beyond["errors"][0]["field"] == "path.task_id"
        assert "2147483647" in beyond["errors"][0]["message"]

    async def test_a_reminder_about_a_task_id_too_large_is_422(self, flow, database):
        before = await snapshot(database)
        for task in (2**31, 2**63, -(2**63)):
            response = await flow.post("/reminders", {"unit": "市科技局", "task": task})
            assert refused(response, "validation_error", status=422)["errors"][0]["field"] == "task"
        assert_same(before, await snapshot(database))


# Digits str.isdigit() takes and int() refuses, and more digits than int() converts.
NUMBERISH = ["²", "¹²", "³0", "9" * 5000, "9" * 11, str(2**31), "١٢", "00000000001"]


class TestUnitReferences:
    async def test_a_unit_reference_that_only_looks_like_a_number_is_a_clear_4xx(self, flow, database):
        before = await snapshot(database)
        for ref in NUMBERISH:
            for response in (
                    await flow.post("/tokens", {"unit": ref, "role": "unit"}),
                    await flow.post("/reminders", {"unit": ref}),
                    await flow.post("/reminders", {"units": [ref, "市科技局"]}),
                    await flow.post(f"/tasks/{flow.tasks['2']}/assignments", {"unit": ref, "role": "responsible"}),
                    await flow.post("/units", {"name": "明溪市新设局", "jurisdiction": ref}),
                    await flow.get(f"/units/{ref}"), await flow.get("/tasks", unit=ref),
                    await flow.get("/overdue", jurisdiction=ref), await flow.get("/extensions", unit=ref)):
                refused(response, "not_found", "unknown_unit", "validation_error", "invalid_input")
        assert_same(before, await snapshot(database))

    async def test_a_unit_id_in_other_digits_still_names_the_unit(self, flow):
        # int() reads every script's decimal digits: "١" and "１" are the id 1, as before.
        unit = flow.units["市发改委"]
        for ref in (str(unit), str(unit).translate(str.maketrans("0123456789", "０１２３４５６７８９"))):
            response = await flow.get(f"/units/{ref}")
            assert response.status_code == 200 and response.json()["id"] == unit, ref
