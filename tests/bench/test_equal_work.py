"""Equal work: the raw-asyncpg baseline (bench/baseline) answers each of the five benchmarked
requests as Duban does, on the same data: the same status, the same JSON, the same ETag and
Location, and for the writes the same rows. Without this the benchmark would compare two
services doing different things.

The data is made through Duban's API (tests/bench/world.py). Reads go to both apps on one
database; writes go to two identical databases, one per app, and then the rows they wrote are
compared too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from bench.baseline import create_app
from tests.bench.world import API, P0, P1, P2, P3, TODAY, World, build
from tests.conftest import BACKEND, _admin_sql
from tests.helpers import ADMIN, ADMIN_TOKEN

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="the baseline is raw asyncpg by design: it runs on PostgreSQL only")
SEED = Path(__file__).resolve().parents[2] / "seed"
_HEADERS = ("etag", "location", "content-type", "www-authenticate", "idempotent-replayed", "vary")


@pytest.fixture
async def world(client, api, database_url) -> World:
    return await build(client, api, database_url)


@asynccontextmanager
async def baseline(dsn: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(dsn, ADMIN_TOKEN, pool_size=2)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://baseline.test") as c:
            yield c


def _parsed(response: httpx.Response, stamps: bool) -> Any:
    if not response.content:
        return None
    body = response.json()
    if isinstance(body, dict) and body.get("code") == "validation_error":
        return {k: body[k] for k in ("type", "title", "status", "code", "instance")}
    return _masked(body) if stamps else body


def _masked(body: Any) -> Any:
    """Instants written now differ between the two runs; their presence and form must not."""
    if isinstance(body, dict):
        for name in ("created_at", "updated_at"):
            if isinstance(body.get(name), str):
                assert datetime.fromisoformat(body[name]).utcoffset() == timedelta(0)
                assert body[name].endswith("Z")
                body[name] = "<instant>"
    return body


async def same(duban: httpx.AsyncClient, base: httpx.AsyncClient, method: str, path: str,
               headers: dict | None = None, *, stamps: bool = False, **kw: Any) -> httpx.Response:
    """Send one request to both; assert the answers agree; return Duban's."""
    headers = ADMIN if headers is None else headers
    one = await duban.request(method, API + path, headers=headers, **kw)
    two = await base.request(method, API + path, headers=headers, **kw)
    assert (one.status_code, _parsed(one, stamps)) == (two.status_code, _parsed(two, stamps)), \
        f"{method} {path}\nduban:    {one.text[:3000]}\nbaseline: {two.text[:3000]}"
    for name in _HEADERS:
        assert one.headers.get(name) == two.headers.get(name), (method, path, name)
    return one


@asynccontextmanager
async def twin(backend, database, dsn: str) -> AsyncIterator[str]:
    """A copy of the world's database: Duban writes to the original, the baseline to this."""
    await database.dispose()  # CREATE DATABASE … TEMPLATE wants no one connected
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _admin_sql(backend, f'CREATE DATABASE "{name}" TEMPLATE "{dsn.rsplit("/", 1)[1]}"')
    try:
        yield f"{dsn.rsplit('/', 1)[0]}/{name}"
    finally:
        await _admin_sql(backend, f'DROP DATABASE "{name}" WITH (FORCE)')


async def table(dsn: str, name: str, order: str, *, drop: tuple[str, ...] = ()) -> list[dict]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(f"SELECT * FROM {name} ORDER BY {order}")
    finally:
        await conn.close()
    return [{k: _cell(v) for k, v in r.items() if k not in drop} for r in rows]


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return "<instant>"  # written now by each service; NULL stays None
    if isinstance(value, bytes):
        return _masked(orjson.loads(value))  # a stored answer: the same JSON, not the same bytes
    return value


async def assert_same_tables(one: str, two: str, tables: dict[str, str], **drop: tuple) -> None:
    for name, order in tables.items():
        left = await table(one, name, order, drop=drop.get(name, ()))
        right = await table(two, name, order, drop=drop.get(name, ()))
        assert len(left) == len(right), name
        for a, b in zip(left, right, strict=True):
            assert a == b, f"{name}\nduban:    {a}\nbaseline: {b}"


class TestTaskView:
    async def test_every_task_reads_the_same_for_the_office_and_for_each_unit(self, world):
        async with baseline(world.dsn) as base:
            for task in [*world.tasks, 999_999]:
                for as_of in ("", "?as_of=2024-06-30", f"?as_of={TODAY + timedelta(900)}"):
                    await same(world.duban, base, "GET", f"/tasks/{task}{as_of}")
                for who in (*world.units, "reader", "unit reader"):
                    await same(world.duban, base, "GET", f"/tasks/{task}?as_of=2025-12-31",
                               world.tokens[who])

    async def test_the_etag_answers_304_and_bad_requests_are_refused_alike(self, world):
        async with baseline(world.dsn) as base:
            for task in world.tasks[:40:3]:
                tag = (await same(world.duban, base, "GET", f"/tasks/{task}")).headers["etag"]
                for sent in (tag, tag.removeprefix("W/"), f'"x", {tag}', "*", '"task-1-v1-0"'):
                    await same(world.duban, base, "GET", f"/tasks/{task}",
                               {**ADMIN, "If-None-Match": sent})
            task = world.tasks[0]
            for headers in ({}, {"Authorization": "Basic abc"}, world.tokens["revoked"],
                            world.tokens["unknown"]):
                await same(world.duban, base, "GET", f"/tasks/{task}", headers)
            for path in ("/tasks/abc", f"/tasks/{task}?as_of=2024-13-01", "/tasks/0"):
                await same(world.duban, base, "GET", path)
                await same(world.duban, base, "GET", path, world.tokens["unknown"])


class TestOverdue:
    async def test_every_units_list_pages_alike_at_several_days(self, world):
        async with baseline(world.dsn) as base:
            for unit in [*world.all_units, 999_999]:
                for as_of in ("2023-01-01", "2025-06-30", "2026-06-30", str(TODAY)):
                    await same(world.duban, base, "GET",
                               f"/units/{unit}/overdue?as_of={as_of}&limit=50")
            for unit in world.units:
                for query in ("as_of=2027-01-01&limit=3", "as_of=2030-01-01&limit=2&role=lead",
                              "limit=4&role=responsible", "as_of=2026-06-30&role=cooperating"):
                    path = f"/units/{unit}/overdue?{query}"
                    while path:
                        page = (await same(world.duban, base, "GET", path)).json()
                        path = page["next_cursor"] and \
                            f"/units/{unit}/overdue?{query}&cursor={page['next_cursor']}"

    async def test_a_unit_token_reads_its_own_list_only_and_bad_requests_are_refused(self, world):
        own, other = world.units[0], world.units[1]
        async with baseline(world.dsn) as base:
            for who, unit in ((own, own), (own, other), (own, 999_999), ("reader", other),
                              ("unit reader", own), ("unit reader", other), ("revoked", own),
                              ("unknown", own)):
                await same(world.duban, base, "GET", f"/units/{unit}/overdue?as_of=2026-06-30",
                           world.tokens[who])
            for query in ("limit=0", "limit=501", "as_of=2026-02-30", "cursor=bm90IGEgY3Vyc29y",
                          "cursor=WzEsMl0", "role=boss"):
                await same(world.duban, base, "GET", f"/units/{own}/overdue?{query}")
                await same(world.duban, base, "GET", f"/units/{own}/overdue?{query}",
                           world.tokens["unknown"])
            await same(world.duban, base, "GET", "/units/999999/overdue?cursor=bad")


class TestDispatch:
    async def test_each_unit_counts_alike_for_months_a_quarter_and_a_year(self, world):
        periods = (P0, P1, P2, P3, f"{P1[:4]}-Q{(int(P1[5:]) + 2) // 3}", P1[:4], "2025-05")
        async with baseline(world.dsn) as base:
            for k, unit in enumerate(dict.fromkeys([*world.units, *world.all_units[:40]])):
                for period in periods:
                    # Days around the due days (20th of P1, else the 25th) and the default.
                    day = (18, 20, 21, 25, 26)[k % 5]
                    for as_of in ("", f"&as_of={period[:4]}-{period[5:7] or '06'}-{day}"):
                        if "Q" in period and as_of:
                            continue
                        await same(world.duban, base, "GET",
                                   f"/dispatch/{period}?unit={unit}{as_of}")
            for period in periods:
                path, query = f"/dispatch/{period}", "limit=7"
                while path:
                    page = (await same(world.duban, base, "GET", f"{path}?{query}")).json()
                    query = page["next_cursor"] and f"limit=7&cursor={page['next_cursor']}"
                    path = query and path

    async def test_tokens_units_and_bad_requests_are_answered_alike(self, world):
        own, other = world.units[0], world.units[1]
        async with baseline(world.dsn) as base:
            for who, query in ((own, ""), (own, f"?unit={own}"), (own, f"?unit={other}"),
                               (own, "?unit=999999"), ("reader", ""), ("reader", f"?unit={own}"),
                               ("unit reader", ""), ("revoked", ""), ("unknown", "")):
                await same(world.duban, base, "GET", f"/dispatch/{P1}{query}", world.tokens[who])
            for path in (f"/dispatch/{P1}?limit=0", "/dispatch/2025-13", "/dispatch/1900",
                         "/dispatch/2025-Q5", f"/dispatch/{P1}?cursor=WyJ4Il0",
                         f"/dispatch/{P1}?as_of=2025-02-30", "/dispatch/" + "9" * 17):
                await same(world.duban, base, "GET", path)


def _report(period: str, progress: int, summary: str = "按计划推进", **extra: Any) -> dict:
    return {"period": period, "progress": progress, "summary": summary, **extra}


class TestReports:
    async def test_reports_answer_and_write_alike(self, world, backend, database):
        unit, other = world.units[0], world.units[1]
        token = world.tokens[unit]
        held = {r["status"]: r for r in await world.sql(
            "SELECT DISTINCT ON (status) status, task_id, id, version FROM assignment "
            "WHERE unit_id = $1 ORDER BY status, task_id", unit)}
        accepted, progressing = held["accepted"]["task_id"], held["in_progress"]["task_id"]
        stranger = (await world.sql("SELECT t.id FROM task t WHERE NOT EXISTS (SELECT 1 FROM "
                                    "assignment a WHERE a.task_id = t.id AND a.unit_id = $1) "
                                    "ORDER BY id LIMIT 1", unit))[0]["id"]
        milestone = (await world.sql(
            "SELECT m.id, m.task_id, a.unit_id FROM milestone m JOIN assignment a "
            "ON a.task_id = m.task_id WHERE a.unit_id = ANY($1) "
            "AND a.status IN ('accepted', 'in_progress') ORDER BY m.id LIMIT 1", world.units))
        tag = f'"assignment-{held["in_progress"]["id"]}-v{held["in_progress"]["version"]}"'
        steps: list[tuple[int, dict, dict]] = [
            (accepted, _report(P1, 10), token),  # a first report: accepted -> in_progress
            (accepted, _report(P1, 15, "更正"), token),  # its correction
            (accepted, _report(P2, 5), token),  # an older month: the obligation stays
            (accepted, _report(P2, 6), token),  # its correction
            (progressing, _report(P0, 70), {**token, "If-Match": tag}),
            (progressing, _report(P0, 71), {**token, "If-Match": tag}),  # now stale: 412
            (progressing, _report(P0, 72), {**token, "If-Match": "*"}),
            (progressing, _report(P3, 1), token),  # a closed period
            (progressing, _report("2999-01", 1), token),  # not begun
            (stranger, _report(P1, 1), token), (999_999, _report(P1, 1), token),
            (accepted, _report(P1, 1, unit=str(other)), token),
            (accepted, _report(P1, 16, unit=str(unit)), token),
            (accepted, _report(P1, 17), world.tokens["reader"]),
            (accepted, _report(P1, 17), world.tokens["revoked"]),
            (accepted, _report(P1, 18, unit=str(unit)), ADMIN),
            (accepted, _report(P1, 18), ADMIN), (accepted, _report(P1, 1, unit="999999"), ADMIN),
            (stranger, _report(P1, 1, unit=str(unit)), ADMIN),
            (999_999, _report(P1, 1, unit=str(unit)), ADMIN),
            (accepted, {"period": P1, "progress": 101, "summary": "x"}, token),
            (accepted, {"period": P1, "progress": 1, "summary": ""}, token),
            (accepted, {"period": P1, "progress": 1, "summary": "x", "extra": 1}, token),
        ]
        for status in ("assigned", "completion_requested", "returned", "closed", "removed"):
            steps.append((held[status]["task_id"], _report(P1, 50), token))
        if milestone:
            task, other_token = milestone[0]["task_id"], world.tokens[milestone[0]["unit_id"]]
            steps += [(task, _report(P1, 30, milestone_values={str(milestone[0]["id"]): "4000根"}),
                       other_token),
                      (task, _report(P1, 31, milestone_values={"999999": 1}), other_token)]
        async with twin(backend, database, world.dsn) as copy, baseline(copy) as base:
            for task, body, headers in steps:
                await same(world.duban, base, "POST", f"/tasks/{task}/reports", headers,
                           stamps=True, json=body)
            for raw, kind in ((b"{", "application/json"), (b"[]", "application/json"),
                              (orjson.dumps(_report(P1, 2)), "text/plain"),
                              (b'{"period": "2025-01", "progress": 1, "summary": "\\u0000"}',
                               "application/json")):
                await same(world.duban, base, "POST", f"/tasks/{accepted}/reports",
                           {**token, "Content-Type": kind}, content=raw, stamps=True)
            await assert_same_tables(world.dsn, copy, WRITTEN_BY_REPORTS)

    async def test_idempotency_keys_replay_the_first_answer_and_refuse_another_body(
            self, world, backend, database):
        unit = world.units[2]
        token = world.tokens[unit]
        task = (await world.sql("SELECT task_id FROM assignment WHERE unit_id = $1 AND status = "
                                "'accepted' ORDER BY task_id LIMIT 1", unit))[0]["task_id"]
        async with twin(backend, database, world.dsn) as copy, baseline(copy) as base:
            for key, body, headers in (
                    ("k-1", _report(P1, 10), token), ("k-1", _report(P1, 10), token),
                    ("k-1", _report(P1, 11), token), ("k-2", _report(P1, 12), token),
                    ("k-2", _report(P1, 12), token), ("k-1", _report(P1, 10), ADMIN),
                    ("k-3", _report(P3, 1), token), ("k-3", _report(P3, 1), token),
                    ("k-4", _report(P1, 13), world.tokens["unknown"]), ("", _report(P1, 1), token),
                    ("k-1", {"period": "bad"}, token), ("k-5", {"period": "bad"}, token)):
                await same(world.duban, base, "POST", f"/tasks/{task}/reports",
                           {**headers, "Idempotency-Key": key}, stamps=True, json=body)
            await assert_same_tables(world.dsn, copy, WRITTEN_BY_REPORTS)


WRITTEN_BY_REPORTS = {"report": "id", "assignment": "id", "audit_log": "id", "event": "id",
                      "delivery": "id", "idempotencyrecord": "id", "reportingperiod": "period"}
WRITTEN_BY_IMPORTS = {"document": "id", "task": "id", "milestone": "id",
                      "assignment": "task_id, unit_id", "unit": "id", "jurisdiction": "id",
                      "indicator": "id", "audit_log": "id",
                      "unitalias": "unit_id, scope, alias"}


class TestImport:
    async def test_new_documents_answer_and_store_the_same_rows(self, world, backend, database):
        texts = [path.read_text("utf-8") for name in ("000", "002", "004")
                 for path in SEED.glob(f"{name}*")]
        first = next(SEED.glob("001*")).read_text("utf-8")
        # Another 赣州 document naming the same units and the group whose members are known.
        texts.append(first.replace("135号", "136号").replace("实施方案", "实施方案(修订)"))
        texts.append(texts[-1])  # the same text again: 200, nothing written
        async with twin(backend, database, world.dsn) as copy, baseline(copy) as base:
            for text in texts:
                await same(world.duban, base, "POST", "/documents",
                           {**ADMIN, "Content-Type": "text/plain"}, content=text.encode())
            for headers in (world.tokens[world.units[0]], world.tokens["unknown"],
                            {**ADMIN, "Content-Type": "application/pdf"}):
                await same(world.duban, base, "POST", "/documents", headers, content=b"x")
            await assert_same_tables(world.dsn, copy, WRITTEN_BY_IMPORTS, unitalias=("id",),
                                     assignment=("id",))
