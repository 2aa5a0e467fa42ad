"""Text in text fields: too long (413 past the body limit, 422 past a field's), SQL and markup
that must be stored verbatim and come back as JSON strings, arbitrary Unicode (hypothesis),
and the same strings in query parameters, where they find nothing and break nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.models import Report, Task
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN
from tests.robustness.state import assert_same, refused, snapshot

HOSTILE = ["'; DROP TABLE task; --", "' OR 1=1 --", "\" OR \"\"=\"", "1; SELECT pg_sleep(5)",
           "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{{7*7}} ${7*7} %s %n",
           "\\\"\\\\", "%_%", "Robert'); DELETE FROM audit_log;--", "\u202etxt.exe", "\U0001f600汉字"]


@pytest.fixture
async def flow(client, api, database) -> Flow:
    flow = await Flow(client, api, database).start()
    await flow.accept("1", "市发改委")
    return flow


def texts(count: int) -> list[str]:
    """Arbitrary Unicode from hypothesis (derandomized), collected first: the requests run on
    the test's event loop, which a @given test body cannot await."""
    found: list[str] = []

    @settings(max_examples=count, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.text(min_size=1, max_size=300))
    def collect(text: str) -> None:
        found.append(text)

    collect()
    return found


class TestLength:
    async def test_a_megabyte_summary_is_413_and_one_past_the_field_limit_is_422(self, flow, database):
        before = await snapshot(database)
        big = await flow.report("1", "市发改委", summary="进" * 1_000_000)
        assert refused(big, "payload_too_large", status=413)
        over = await flow.report("1", "市发改委", summary="x" * 20_001)
        assert refused(over, "validation_error", status=422)["errors"][0]["field"] == "summary"
        lead, t1 = await flow.token("市发改委"), flow.tasks["1"]
        for method, path, headers, body in (
                ("POST", f"/tasks/{t1}/extensions", lead, {"deadline": "2026-06-30", "reason": "x" * 5001}),
                ("POST", "/tokens", ADMIN, {"unit": None, "role": "reader", "label": "x" * 129}),
                ("POST", "/reminders", ADMIN, {"unit": "市科技局", "message": "x" * 2001}),
                ("PATCH", f"/tasks/{t1}", ADMIN, {"title": "x" * 2001})):
            response = await flow.client.request(method, API + path, json=body, headers=headers)
            refused(response, "validation_error", status=422)
        assert_same(before, await snapshot(database))
        at_limit = await flow.report("1", "市发改委", summary="x" * 20_000)
        assert at_limit.status_code == 201


class TestVerbatim:
    async def test_sql_and_markup_in_text_fields_are_stored_and_returned_verbatim(self, flow, database):
        lead, tasks_before = await flow.token("市发改委"), await flow.count(Task)
        for text in HOSTILE:
            report = await flow.report("1", "市发改委", summary=text)
            assert report.status_code in (200, 201), report.text
            assert report.headers["content-type"] == "application/json"
            read = await flow.client.get(f"{API}/reports/{report.json()['id']}", headers=lead)
            assert read.json()["summary"] == text
            minted = await flow.post("/tokens", {"unit": None, "role": "reader", "label": text[:128]})
            assert minted.json()["label"] == text[:128]
            edited = await flow.client.patch(f"{API}/tasks/{flow.tasks['2']}", json={"title": text},
                                             headers=ADMIN)
            assert edited.status_code == 200 and edited.json()["title"] == text
        async with database.session() as s:
            assert (await s.execute(select(Report.summary))).scalar_one() == HOSTILE[-1]
            assert (await s.execute(select(Task.title).where(Task.id == flow.tasks["2"]))).scalar_one() \
                == HOSTILE[-1]
        assert await flow.count(Task) == tasks_before
        corrected = await flow.audit(action="report.corrected")
        assert sorted(e["after"]["report"]["summary"] for e in corrected) == sorted(HOSTILE[1:])

    async def test_arbitrary_unicode_summaries_round_trip_or_are_refused_for_nul(self, flow):
        lead, stored, refused_nul = await flow.token("市发改委"), 0, 0
        for text in texts(60):
            response = await flow.report("1", "市发改委", summary=text)
            if "\x00" in text:
                refused(response, "invalid_input", status=422)
                refused_nul += 1
                continue
            assert response.status_code in (200, 201), (text, response.text)
            read = await flow.client.get(f"{API}/reports/{response.json()['id']}", headers=lead)
            assert read.json()["summary"] == text, text
            stored += 1
        assert stored >= 40

    async def test_hostile_strings_in_query_parameters_find_nothing_and_break_nothing(self, flow, database):
        before = await snapshot(database)
        for text in HOSTILE:
            for path, params in (("/tasks", {"q": text}), ("/documents", {"q": text}), ("/units", {"q": text}),
                                 ("/audit", {"action": text}), ("/webhooks", {"active": "true"})):
                response = await flow.client.get(API + path, params=params, headers=ADMIN)
                assert response.status_code == 200, (path, text, response.text)
                assert response.json()["items"] == [], (path, text)
            for path, params in (("/tasks", {"unit": text}), ("/overdue", {"jurisdiction": text}),
                                 ("/extensions", {"unit": text}), (f"/units/{quote(text, safe='')}", {})):
                refused(await flow.client.get(API + path, params=params, headers=ADMIN))
        assert_same(before, await snapshot(database))
