"""The data the fuzzer starts from: one real plan with its workflow under way, so that ids
drawn for path parameters name real objects some of the time, not only 404s."""

from __future__ import annotations

from tests.helpers import ADMIN, Api

API = "/api/v1"
# Never delivered: the in-process transport does not run the lifespan, so no worker starts.
HOOK_URL = "http://127.0.0.1:9/duban-fuzz"


async def _post(api: Api, path: str, body: dict, headers: dict = ADMIN) -> dict:
    response = await api.client.post(API + path, json=body, headers=headers)
    assert response.status_code in (200, 201), (path, response.text)
    return response.json()


async def _items(api: Api, path: str, **params) -> list[dict]:
    response = await api.client.get(API + path, params={"limit": 500, **params}, headers=ADMIN)
    assert response.status_code == 200, (path, response.text)
    return response.json()["items"]


async def seed_world(api: Api) -> dict[str, list]:
    """Import a seed plan and walk one obligation through the unit's steps; return real values
    per path-parameter name."""
    document = await api.import_seed("001")
    tasks = await _items(api, "/tasks", document=document["id"])
    task = tasks[0]["id"]
    obligations = await _items(api, f"/tasks/{task}/assignments")
    unit = obligations[0]["unit"]
    token = await api.client.post(API + "/tokens", json={"unit": str(unit["id"])}, headers=ADMIN)
    assert token.status_code == 201, token.text
    acting = {"Authorization": f"Bearer {token.json()['token']}"}

    await _post(api, f"/tasks/{task}/acceptance", {}, acting)
    report = await _post(api, f"/tasks/{task}/reports",
                         {"period": "2025-03", "progress": 30, "summary": "按计划推进"}, acting)
    extension = await _post(api, f"/tasks/{task}/extensions",
                            {"deadline": "2026-12-31", "reason": "资金未到位"}, acting)
    other = obligations[-1]["unit"]
    change = await _post(api, f"/tasks/{tasks[1]['id']}/responsibility-changes",
                         {"unit": str(other["id"]), "kind": "remove", "reason": "职能调整"})
    hook = await _post(api, "/webhooks", {"url": HOOK_URL, "secret": "s" * 16, "events": ["*"]})
    await api.client.put(API + "/periods/2025-04", json={"due_day": 20}, headers=ADMIN)
    deliveries = await _items(api, f"/webhooks/{hook['id']}/deliveries")
    units = await _items(api, "/units", q="局")

    tasks_ids = [t["id"] for t in tasks[:5]]
    unit_refs = [str(unit["id"]), unit["name"], *(u["name"] for u in units[:3])]
    return {
        "task_id": tasks_ids, "task": tasks_ids, "parent": tasks_ids,
        "assignment_id": [o["id"] for o in obligations],
        "document_id": [document["id"]], "document": [document["id"]],
        "report_id": [report["id"]],
        "extension_id": [extension["id"]],
        "change_id": [change["id"]],
        "webhook_id": [hook["id"]],
        "delivery_id": [d["id"] for d in deliveries[:3]] or [1],
        "token_id": [token.json()["id"]],
        "unit": unit_refs, "replacement": unit_refs,
        "jurisdiction": ["赣州市"],
        "period": ["2025-03", "2025-04", "2025-Q1", "2025"],
        "missing_for": ["2025-03"],
        "as_of": ["2025-06-30", "2026-01-05"],
        "deadline": ["2025-12-31", "2026-06-30"],
        "url": [HOOK_URL],
        "members": [unit_refs[2:4]],
    }
