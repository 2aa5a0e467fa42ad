"""What the schema fuzzer found, replayed exactly: its per-operation budget is small, so each
finding is pinned here rather than left to the chance of being drawn again."""

from __future__ import annotations

import pytest

from tests.helpers import ADMIN

API = "/api/v1"
BOUNDARY = "8d126b8bb5388dd25a341d8e5d89c507"
# A part with no headers and no blank line: the multipart parser cannot read it.
TORN_MULTIPART = f"--{BOUNDARY}\r\n4.976227672437027e+16--{BOUNDARY}--\r\n".encode()
HUGE = 838110010025745569546240  # past SQLite's 64-bit and PostgreSQL's 32-bit INTEGER


@pytest.fixture
async def spec(client) -> dict:
    return (await client.get("/openapi.json")).json()


def assert_documented_problem(spec: dict, method: str, template: str, response) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "code"} <= set(response.json())
    documented = spec["paths"][API + template][method]["responses"]
    assert str(response.status_code) in documented, (response.status_code, sorted(documented))


@pytest.mark.parametrize("template", ["/imports/preview", "/imports", "/ledger/preview",
                                      "/ledger/apply"])
async def test_a_torn_multipart_upload_is_a_documented_400(client, spec, template):
    response = await client.post(API + template, content=TORN_MULTIPART, headers={
        **ADMIN, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert response.status_code == 400
    assert_documented_problem(spec, "post", template, response)


@pytest.mark.parametrize("template", ["/imports/preview", "/imports"])
async def test_a_sheet_naming_an_unknown_jurisdiction_id_is_refused_with_422(client, spec,
                                                                           template):
    response = await client.post(API + template, headers=ADMIN, data={"jurisdiction": "0" * 64},
                                 files={"file": ("任务.csv", "任务,责任单位\n推进节能,市发改委\n".encode())})
    assert response.status_code == 422, response.text
    assert "GET /api/v1/jurisdictions" in response.json()["detail"]
    assert_documented_problem(spec, "post", template, response)


@pytest.mark.parametrize(("method", "template"), [
    ("post", "/tokens"), ("post", "/units"), ("put", "/units/{unit}/members"),
    ("post", "/reminders"), ("patch", "/tasks/{task_id}")])
async def test_a_json_body_that_is_not_utf8_is_refused_as_documented(client, spec, method,
                                                                      template):
    path = template.replace("{unit}", "1").replace("{task_id}", "1")
    response = await client.request(method.upper(), API + path, content=b"\xff\xfe\xfa\x19$",
                                    headers={**ADMIN, "Content-Type": "application/json"})
    assert_documented_problem(spec, method, template, response)


@pytest.mark.parametrize(("method", "template", "body"), [
    ("get", "/tasks/{id}", None), ("post", "/tasks/{id}/verification", {"approved": False}),
    ("get", "/reports/{id}", None), ("get", "/webhooks/{id}", None),
    ("delete", "/tokens/{id}", None), ("get", "/documents/{id}", None)])
async def test_an_id_past_the_database_integer_is_refused_not_a_500(client, spec, method,
                                                                     template, body):
    response = await client.request(method.upper(), API + template.format(id=HUGE), json=body,
                                    headers=ADMIN)
    name = {"tasks": "task_id", "reports": "report_id", "webhooks": "webhook_id",
            "tokens": "token_id", "documents": "document_id"}[template.split("/")[1]]
    assert_documented_problem(spec, method, template.replace("{id}", "{" + name + "}"), response)


async def test_reminding_a_unit_named_empty_is_an_unknown_unit_and_stores_nothing(client, spec):
    response = await client.post(API + "/reminders", json={"unit": ""}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "unknown_unit"
    assert_documented_problem(spec, "post", "/reminders", response)
    listed = await client.get(API + "/reminders", headers=ADMIN)
    assert listed.json()["items"] == []
