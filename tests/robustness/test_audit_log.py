"""The audit log cannot be edited through the API: the OpenAPI has no write on it, writes sent
to it anyway are 404/405, and after every write route the API has was exercised once, each
entry written before is exactly as it was (entries are only appended).

The database itself does not enforce this: the migrations create no trigger or rule on
audit_log, so a database login with UPDATE rights can change it. Append-only is the API's
promise (no route updates or deletes a row; app/audit.py only inserts)."""

from __future__ import annotations

import re

import pytest

from tests.api.test_assignments import API, PLAN, Flow
from tests.api.test_sheet_import import as_csv
from tests.api.test_sheet_import import send as send_sheet
from tests.helpers import ADMIN
from tests.robustness.state import refused, snapshot

WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


class TestAuditLog:
    async def test_the_openapi_offers_no_write_on_the_audit_log(self, client):
        spec = (await client.get("/openapi.json")).json()
        on_audit = {(m, p) for p, item in spec["paths"].items() if "audit" in p for m in item}
        assert on_audit == {("get", "/api/v1/audit")}

    async def test_writes_sent_to_the_audit_log_are_404_or_405(self, flow, database):
        before = await snapshot(database)
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for path in ("/audit", "/audit/1", "/audit?task=1"):
                response = await flow.client.request(method, API + path, json={"actor": "x"}, headers=ADMIN)
                refused(response, "method_not_allowed", "not_found")
                assert response.status_code in (404, 405)
        assert (await snapshot(database))["audit_log"] == before["audit_log"]

    async def test_every_write_route_leaves_earlier_entries_as_they_were(self, flow, database):
        spec = (await flow.client.get("/openapi.json")).json()
        templates = {(m.upper(), p.removeprefix(API)) for p, item in spec["paths"].items()
                     for m in item if m in WRITES}
        await flow.post("/reminders", {"unit": "市科技局"})  # something of every kind to keep
        earlier = (await snapshot(database))["audit_log"]
        done = await exercise(flow)
        missing = {t for t in templates if not any(_matches(t, d) for d in done)}
        assert not missing, f"write routes not exercised: {sorted(missing)}"
        now = (await snapshot(database))["audit_log"]
        assert now[:len(earlier)] == earlier, "an entry written before was changed or removed"
        assert len(now) > len(earlier) + 20


def _matches(template: tuple[str, str], done: tuple[str, str]) -> bool:
    pattern = re.sub(r"\\\{\w+\\\}", r"[^/]+", re.escape(template[1]))
    return template[0] == done[0] and re.fullmatch(pattern, done[1]) is not None


async def exercise(flow: Flow) -> list[tuple[str, str]]:
    """One call on every write route, in an order that gives each something to act on."""
    done: list[tuple[str, str]] = []
    t1, t2 = flow.tasks["1"], flow.tasks["2"]
    lead, helper = await flow.token("市发改委"), await flow.token("市科技局")

    async def call(method: str, path: str, body=None, headers=None, **kw):
        response = await flow.client.request(method, API + path, json=body, headers=headers or ADMIN, **kw)
        assert response.status_code < 500, (method, path, response.text)
        done.append((method, path.split("?")[0]))
        return response.json() if "json" in response.headers.get("content-type", "") else None

    text = {"headers": {**ADMIN, "Content-Type": "text/plain; charset=utf-8"}}
    await call("POST", "/documents/preview", None, content=PLAN.encode(), **text)
    await call("POST", "/documents", None, content=(PLAN + "5.加强督查。〔责任单位：市发改委〕\n").encode(), **text)
    await call("PATCH", f"/tasks/{t2}", {"deadline_text": "年底前"})
    unit = await call("POST", "/units", {"name": "明溪市审计局", "short_name": "市审计局", "jurisdiction": "明溪市"})
    group = await call("POST", "/units", {"name": "明溪市督查组", "is_group": True, "jurisdiction": "明溪市"})
    await call("POST", f"/units/{unit['id']}/aliases", {"alias": "审计局"})
    await call("PUT", f"/units/{group['id']}/members", {"members": ["市审计局"]})
    added = await call("POST", f"/tasks/{t2}/assignments", {"unit": str(unit["id"]), "role": "responsible"})
    await call("PATCH", f"/tasks/{t2}/assignments/{added['id']}", {"deadline": "2025-11-30"})
    await call("DELETE", f"/tasks/{t2}/assignments/{added['id']}")
    await call("POST", f"/tasks/{t1}/acceptance", {}, lead)
    await call("PUT", "/periods/2025-03", {"due_day": 20})
    await call("POST", f"/tasks/{t1}/reports", {"period": "2025-03", "progress": 40, "summary": "推进"}, lead)
    asked = await call("POST", f"/tasks/{t1}/extensions", {"deadline": "2026-03-31", "reason": "资金"}, lead)
    await call("POST", f"/extensions/{asked['id']}/decision", {"approved": True})
    change = await call("POST", f"/tasks/{t1}/responsibility-changes", {"kind": "remove", "reason": "职能"}, helper)
    await call("POST", f"/responsibility-changes/{change['id']}/decision", {"approved": False})
    await call("POST", f"/tasks/{t1}/completion", {"summary": "已完成"}, lead)
    await call("POST", f"/tasks/{t1}/verification", {"approved": False, "comment": "补充材料"})
    await call("POST", "/periods/2025-03/close")
    hook = await call("POST", "/webhooks", {"url": "http://127.0.0.1:9/h", "secret": "s" * 16, "events": ["*"]})
    sent = await call("POST", f"/webhooks/{hook['id']}/test")
    await call("POST", f"/webhooks/{hook['id']}/deliveries/{sent['delivery_id']}/retry")
    await call("DELETE", f"/webhooks/{hook['id']}")
    await call("POST", "/reminders", {"missing_for": "2025-03"})
    for path in ("/imports/preview", "/imports"):
        assert (await send_sheet(flow.client, as_csv(), "分工表.csv", path)).status_code < 500
        done.append(("POST", path))
    ledger = (await flow.client.get(f"{API}/dispatch/2025-03/ledger.csv", headers=ADMIN)).content
    for path in ("/ledger/preview", "/ledger/apply"):
        await call("POST", path, None, files={"file": ("台账.csv", ledger, "text/csv")})
    token = await call("POST", "/tokens", {"unit": None, "role": "reader"})
    await call("DELETE", f"/tokens/{token['id']}")
    return done
