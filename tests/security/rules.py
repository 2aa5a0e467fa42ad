"""The authorization decision for every route: which are the office's, which any token reads
(filtered to the caller's own rows), and which name one of unit B's objects. A route the
OpenAPI publishes without a decision here fails tests/security/test_bola.py."""

from __future__ import annotations

from tests.api.test_assignments import PLAN
from tests.security.conftest import API, PERIOD

WRITES = {"post", "put", "patch", "delete"}
PUBLIC = {"GET /api/v1/health"}
# Office-only: units and readers are refused with 403 before anything is looked up.
OFFICE = {f"{m} {API}{p}" for m, p in (
    ("PATCH", "/tasks/{task_id}"), ("POST", "/tasks/{task_id}/assignments"),
    ("PATCH", "/tasks/{task_id}/assignments/{assignment_id}"),
    ("DELETE", "/tasks/{task_id}/assignments/{assignment_id}"),
    ("POST", "/periods/{period}/close"), ("PUT", "/periods/{period}"),
    ("POST", "/extensions/{extension_id}/decision"), ("POST", "/tasks/{task_id}/verification"),
    ("POST", "/responsibility-changes/{change_id}/decision"), ("GET", "/audit"),
    ("POST", "/documents"), ("POST", "/units"), ("POST", "/units/{unit}/aliases"),
    ("PUT", "/units/{unit}/members"), ("POST", "/webhooks"), ("GET", "/webhooks"),
    ("GET", "/webhooks/{webhook_id}"), ("DELETE", "/webhooks/{webhook_id}"),
    ("GET", "/webhooks/{webhook_id}/deliveries"),
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"),
    ("POST", "/webhooks/{webhook_id}/test"), ("POST", "/reminders"), ("POST", "/imports"),
    ("POST", "/ledger/preview"), ("POST", "/ledger/apply"), ("GET", "/tokens"),
    ("POST", "/tokens"), ("DELETE", "/tokens/{token_id}"))}
# Any token reads these; a unit's answer holds its own rows only, so nothing of B's. Published
# policy documents and the reporting calendar are no unit's secret.
OWN_ROWS = {f"GET {API}{p}" for p in (
    "/tasks", "/overdue", "/extensions", "/completion-requests", "/responsibility-changes",
    "/reminders", "/periods", "/periods/{period}", "/documents", "/documents/{document_id}",
    "/dispatch/{period}", "/dispatch/{period}/assignments", "/dispatch/{period}/ranking",
    "/dispatch/{period}/ledger.xlsx", "/dispatch/{period}/ledger.csv", "/jurisdictions")}
# The registry is public by design (app/units/router.py): B's name shows, its workload not.
REGISTRY = {f"GET {API}{p}" for p in ("/units", "/units/{unit}", "/units/{unit}/members")}
# POSTs that compute an answer from the upload and save nothing: any token may send them.
SAVES_NOTHING = {f"POST {API}/documents/preview", f"POST {API}/imports/preview"}
# Every other operation names one of B's objects in its path: A is told it does not exist.
# B's object for each path parameter, and for each query parameter that can name one.
PARAMS = {"task_id": "task", "assignment_id": "assignment", "report_id": "report",
          "extension_id": "extension", "change_id": "change", "period": "period",
          "document_id": "document", "unit": "unit_name", "webhook_id": "webhook",
          "delivery_id": "delivery", "token_id": "token_id"}
NOT_OBJECTS = {"period"}
# What a unit on B's task (not its lead) shares with B: the task, its document, the period.
# Anything else in a path is B's alone, and 404 to that neighbour too.
SHARED = {"task_id", "document_id", "period"}
QUERIES = {"unit": "unit_name", "task": "task", "document": "document", "parent": "task",
           "jurisdiction": "jurisdiction", "q": "title"}
MISSING = 2_000_000_000  # ids no test world reaches
PAGES = 10  # a list is followed this many pages at most
CHANGE = "篡改"
BODIES = {f"{m} {API}{p}": body for m, p, body in (
    ("PATCH", "/tasks/{task_id}", {"title": CHANGE}),
    ("POST", "/tasks/{task_id}/assignments", {"unit": "县林业局", "role": "cooperating"}),
    ("PATCH", "/tasks/{task_id}/assignments/{assignment_id}", {"role": "cooperating"}),
    ("POST", "/tasks/{task_id}/reports", {"period": PERIOD, "progress": 99, "summary": CHANGE}),
    ("PUT", "/periods/{period}", {"due_day": 10}),
    ("POST", "/tasks/{task_id}/extensions", {"deadline": "2032-01-01", "reason": CHANGE}),
    ("POST", "/extensions/{extension_id}/decision", {"approved": True}),
    ("POST", "/tasks/{task_id}/completion", {"summary": CHANGE}),
    ("POST", "/tasks/{task_id}/verification", {"approved": True}),
    ("POST", "/tasks/{task_id}/responsibility-changes", {"kind": "remove", "reason": CHANGE}),
    ("POST", "/responsibility-changes/{change_id}/decision", {"approved": True}),
    ("POST", "/units", {"name": CHANGE}), ("POST", "/units/{unit}/aliases", {"alias": CHANGE}),
    ("PUT", "/units/{unit}/members", {"members": []}),
    ("POST", "/webhooks", {"url": "http://127.0.0.1:9/x", "secret": "x" * 20, "events": ["*"]}),
    ("POST", "/reminders", {"unit": "赣州市水利局"}),
    ("POST", "/tokens", {"unit": "赣州市水利局", "role": "unit"}))}
FORMS = {f"POST {API}/ledger/preview": {"period": PERIOD}, f"POST {API}/ledger/apply": {"period": PERIOD}}
SHEET = "序号,重点任务,牵头单位,完成时限\n1,推进试点建设,县林业局,2025年12月底前\n".encode()


def rule(key: str, path_names: list[str]) -> str | None:
    for kind, keys in (("office", OFFICE), ("own rows", OWN_ROWS), ("registry", REGISTRY),
                       ("saves nothing", SAVES_NOTHING), ("public", PUBLIC)):
        if key in keys:
            return kind
    # Anything else must name B's object in its path; a new global route needs a decision.
    return "object" if set(path_names) - NOT_OBJECTS else None


def request_for(key: str, op: dict, spec: dict) -> tuple[dict, bool]:
    """The request's body, and whether it may name the unit it acts for."""
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        ref = content["application/json"]["schema"].get("$ref", "")
        schema = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
        return {"json": BODIES.get(key, {})}, "unit" in schema.get("properties", {})
    if "text/plain" in content:
        return {"content": PLAN.encode(), "headers": {"Content-Type": "text/plain; charset=utf-8"}}, False
    if "multipart/form-data" in content:
        return {"files": {"file": ("tasks.csv", SHEET, "text/csv")}, "data": FORMS.get(key, {})}, False
    return {}, False
