"""Migrations on a database that holds data, on its own database (a new one on the test
cluster, or a new SQLite file): upgrade from empty to head, fill it through the API (a seed
document, tokens, reports, an extension, a reminder, a webhook and its delivery), then
downgrade one revision and upgrade again. Every row of every table the lower revision keeps
survives both steps column for column, and the app works on the result."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.conftest import ROOT, scratch_database
from tests.helpers import ADMIN, ADMIN_TOKEN, Api
from tests.pgcluster import Cluster


def alembic(url: str, action: str, revision: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    getattr(command, action)(config, revision)


async def migrate(url: str, action: str, revision: str) -> None:
    # migrations/env.py runs its own event loop: not inside this test's.
    await asyncio.to_thread(alembic, url, action, revision)


def revisions() -> list[str]:
    """Base first, head last."""
    script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    return [s.revision for s in reversed(list(script.walk_revisions()))]


@pytest.fixture
async def blank(backend, tmp_path: Path) -> AsyncIterator[str]:
    if isinstance(backend, Cluster):
        async with scratch_database(backend, "m") as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"


async def dump(url: str) -> dict[str, list[dict]]:
    """Every table the database has now, read by reflection (not the app's models, which
    describe head only), rows in primary-key order."""
    engine = create_async_engine(url)

    def read(sync) -> dict[str, list[dict]]:
        meta = MetaData()
        meta.reflect(sync)
        return {t.name: [dict(r) for r in sync.execute(
                    select(t).order_by(*(list(t.primary_key.columns) or list(t.columns)))).mappings()]
                for t in meta.sorted_tables if t.name != "alembic_version"}
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def with_app(url: str, work) -> None:
    settings = Settings(database_url=url, duban_admin_token=ADMIN_TOKEN, import_seed=False,
                        run_worker=False)
    database = Database.from_settings(settings)
    transport = httpx.ASGITransport(app=create_app(settings, database), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://duban.test") as client:
            await work(client, Api(client))
    finally:
        await database.dispose()


async def fill(client: httpx.AsyncClient, api: Api) -> None:
    await api.import_seed("001")
    tasks = (await client.get("/api/v1/tasks", params={"limit": 5}, headers=ADMIN)).json()["items"]
    for task in tasks[:3]:
        held = (await client.get(f"/api/v1/tasks/{task['id']}/assignments", headers=ADMIN)).json()["items"][0]
        unit = await api.mint(str(held["unit"]["id"]))
        steps = ((f"/tasks/{task['id']}/acceptance", {}),
                 (f"/tasks/{task['id']}/reports", {"period": "2025-03", "progress": 20, "summary": "推进中"}),
                 (f"/tasks/{task['id']}/extensions", {"deadline": "2030-06-30", "reason": "资金"}))
        for path, body in steps:
            response = await client.post("/api/v1" + path, json=body, headers=unit)
            assert response.status_code in (200, 201), response.text
    hook = await client.post("/api/v1/webhooks", headers=ADMIN, json={
        "url": "http://127.0.0.1:9/h", "secret": "s" * 16, "events": ["*"]})
    assert (await client.post(f"/api/v1/webhooks/{hook.json()['id']}/test", headers=ADMIN)).status_code < 300
    assert (await client.post("/api/v1/reminders", json={"unit": str(held["unit"]["id"])},
                              headers=ADMIN)).status_code == 201


def kept(before: dict[str, list[dict]], after: dict[str, list[dict]]) -> None:
    """Every row of every table both have, equal on the columns both have."""
    for table in before.keys() & after.keys():
        rows = after[table]
        assert len(rows) == len(before[table]), (table, len(before[table]), len(rows))
        columns = set(rows[0]) & set(before[table][0]) if rows else set()
        for old, new in zip(before[table], rows, strict=True):
            assert {c: old[c] for c in columns} == {c: new[c] for c in columns}, (table, old, new)


class TestMigrations:
    async def test_down_one_revision_and_up_again_keeps_every_row_the_lower_revision_has(self, blank):
        *_, previous, head = ["base", *revisions()]
        await migrate(blank, "upgrade", head)
        await with_app(blank, fill)
        at_head = await dump(blank)
        assert sum(map(len, at_head.values())) > 400
        assert not [t for t in ("report", "extensionrequest", "event", "delivery", "reminder",
                                "audit_log", "webhook", "apitoken") if not at_head[t]]

        await migrate(blank, "downgrade", previous)
        lower = await dump(blank)
        assert set(at_head) - set(lower) == {"event", "webhook", "delivery", "reminder"}
        kept(at_head, lower)
        assert "starts_on" not in lower["assignment"][0]

        await migrate(blank, "upgrade", head)
        again = await dump(blank)
        assert set(again) == set(at_head)
        assert not again["event"] and not again["reminder"], "a downgrade drops what it drops"
        kept(lower, again)
        # The dropped column is rebuilt from what it was derived from: the document's issue day.
        issued = {t["id"]: t["document_id"] for t in again["task"]}
        days = {d["id"]: d["issued_on"] for d in again["document"]}
        assert all(a["starts_on"] == (days[issued[a["task_id"]]] or a["created_at"].date())
                   for a in again["assignment"])
        assert [a["starts_on"] for a in again["assignment"]] == [a["starts_on"] for a in at_head["assignment"]]

        async def more(client: httpx.AsyncClient, api: Api) -> None:
            # New rows take new ids on every table, the recreated ones included.
            for task_id, unit_id in {(a["task_id"], a["unit_id"]) for a in again["report"]}:
                response = await client.post(f"/api/v1/tasks/{task_id}/reports", headers=await api.mint(
                    str(unit_id)), json={"period": "2025-04", "progress": 30, "summary": "继续推进"})
                assert response.status_code == 201, response.text
            assert (await client.post("/api/v1/reminders", json={"missing_for": "2025-04"},
                                      headers=ADMIN)).status_code in (200, 201)
        await with_app(blank, more)
        after = await dump(blank)
        assert len(after["report"]) == 2 * len(at_head["report"]) and len(after["event"]) > 0
