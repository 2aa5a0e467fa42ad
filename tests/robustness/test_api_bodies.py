"""Bodies that are not the JSON object a route takes: bytes that are not UTF-8, text that is not
JSON, NaN, a key given twice, NUL, nesting a parser gives up on, the wrong content type. Each
is a 4xx problem+json saying what to fix, and nothing is stored. A body that is not JSON at all
is answered as the framework answers one: 422 validation_error, field "body", type json_invalid
(the benchmark's baseline answers the same), with a message naming the fault and where.

A key given twice ({"progress": 10, "progress": 90}) is refused, not settled: the standard
parser keeps the last value silently, other parsers keep the first, and a report must not
depend on which one a proxy or client library used."""

from __future__ import annotations

import pytest

from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN
from tests.robustness.state import assert_same, refused, snapshot

JSON = {"Content-Type": "application/json"}
MALFORMED = {
    b'{"period": "2025-03", "progress": 30, "summary": "\xff\xfe"}': "json_invalid",
    b'\xef\xbb\xbf{"period": "2025-03"}': "json_invalid",  # a BOM is no part of JSON text
    "{\"summary\": \"进展\"}".encode("gb18030"): "json_invalid",
    b"period=2025-03&progress=30": "json_invalid",
    b'{"period": "2025-03", "progress": 30, "summary": "a"': "json_invalid",
    b'{"period": "2025-03", "progress": NaN, "summary": "a"}': "json_invalid",
    b'{"period": "2025-03", "progress": Infinity, "summary": "a"}': "json_invalid",
    b'{"period": "2025-03", "progress": 10, "progress": 90, "summary": "a"}': "json_invalid",
    b'{"period": "2025-03", "milestone_values": {"1": 1, "1": 2}, "summary": "a"}': "json_invalid",
    b"[" * 200_000 + b"]" * 200_000: "json_invalid",
    b'{"period": "2025-03", "progress": 30, "summary": "a\x00b"}': "json_invalid",
    b'{"period": "2025-03", "progress": 30, "summary": "a\\u0000b"}': "invalid_input",
    b'{"period": "2025-03", "progress": 30, "summary": "\\ud800"}': "validation_error",
    b'[{"period": "2025-03", "progress": 30, "summary": "a"}]': "validation_error",
    b'"2025-03"': "validation_error", b"null": "validation_error", b"": "validation_error",
}


@pytest.fixture
async def routes(client, api, database) -> tuple[Flow, list]:
    flow = await Flow(client, api, database).start()
    await flow.accept("1", "市发改委")
    lead, t1 = await flow.token("市发改委"), flow.tasks["1"]
    return flow, [("POST", f"/tasks/{t1}/reports", lead), ("POST", f"/tasks/{t1}/extensions", lead),
                  ("POST", f"/tasks/{flow.tasks['2']}/assignments", ADMIN),
                  ("PATCH", f"/tasks/{t1}", ADMIN), ("POST", "/reminders", ADMIN),
                  ("POST", "/webhooks", ADMIN), ("POST", "/tokens", ADMIN),
                  ("PUT", "/periods/2025-03", ADMIN), ("POST", "/units", ADMIN)]


class TestMalformedBodies:
    async def test_a_body_that_is_not_a_json_object_is_a_clear_4xx_on_every_write(self, routes, database):
        flow, writes = routes
        before = await snapshot(database)
        for method, path, headers in writes:
            for content, code in MALFORMED.items():
                response = await flow.client.request(method, API + path, content=content,
                                                     headers={**headers, **JSON})
                if code == "json_invalid":
                    body = refused(response, "validation_error", status=422)
                    assert [(e["field"], e["type"]) for e in body["errors"]] == [("body", code)]
                    assert len(body["errors"][0]["message"]) < 200, "it names the fault, not the body"
                else:
                    refused(response, code, status=422)
        assert_same(before, await snapshot(database))

    async def test_the_details_say_what_to_fix(self, routes):
        flow, [(method, path, headers), *_] = routes
        said = {}
        for content in (b'{"summary": "\xff"}', b'{"a": 1, "a": 2}', b'{"a": NaN}', b'{"a": '):
            response = await flow.client.request(method, API + path, content=content,
                                                 headers={**headers, **JSON})
            said[content] = response.json()["errors"][0]["message"]
        assert "UTF-8" in said[b'{"summary": "\xff"}']
        assert "'a' more than once" in said[b'{"a": 1, "a": 2}']
        assert "NaN" in said[b'{"a": NaN}']
        assert "line 1, column 7" in said[b'{"a": ']

    async def test_json_sent_as_another_content_type_is_refused(self, routes, database):
        flow, writes = routes
        before = await snapshot(database)
        good = b'{"period": "2025-03", "progress": 30, "summary": "a"}'
        for method, path, headers in writes:
            for kind in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
                response = await flow.client.request(method, API + path, content=good,
                                                     headers={**headers, "Content-Type": kind})
                refused(response)
        assert_same(before, await snapshot(database))

    async def test_a_key_given_once_with_the_same_values_is_taken(self, routes):
        flow, [(method, path, headers), *_] = routes
        response = await flow.client.request(method, API + path, headers={**headers, **JSON},
                                             content=b'{"period": "2025-03", "progress": 90, '
                                                     b'"summary": "a", "unit": null}')
        assert response.status_code == 201 and response.json()["progress"] == 90

    async def test_a_nul_in_the_path_or_query_is_422(self, routes, database):
        flow, _ = routes
        before = await snapshot(database)
        for url in (f"{API}/tasks?q=a%00b", f"{API}/units/%E5%B8%82%00", f"{API}/tasks/1%00"):
            refused(await flow.client.get(url, headers=ADMIN), "invalid_input", status=422)
        refused(await flow.client.post(f"{API}/periods/2025-03%00/close", headers=ADMIN), status=422)
        assert_same(before, await snapshot(database))
