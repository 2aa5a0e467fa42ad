"""The hot reads use their indexes on PostgreSQL at the benchmark's scale M (100k tasks, 400k
obligations, ~560k reports): a unit's overdue page walks the partial index of open obligations
by unit and deadline, and a unit's dispatch reads its obligations by unit and each month's
report by obligation. On a table of a few rows the planner rightly scans; at M a sequential
scan of assignment or report is a regression that no functional test would notice.

Loads scale M once for the module (bench/generate.py, about a minute), on the test cluster.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from app.auth.principal import Principal
from app.config import Settings
from app.db import Database
from app.dispatch import summary, window
from app.models import TokenRole
from app.tasks import view
from app.tasks.overdue import unit_statement
from bench.generate import Manifest, generate
from tests.conftest import BACKEND, _admin_sql

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's planner is the subject")
HOT_TABLES = {"assignment", "report", "task"}


@pytest.fixture(scope="module")
async def scale_m(backend) -> AsyncIterator[tuple[Database, Manifest]]:
    name = f"plans_{uuid.uuid4().hex[:8]}"
    await _admin_sql(backend, f'CREATE DATABASE "{name}"')
    url = f"{backend.dsn_base}/{name}"
    try:
        manifest = await generate(url, "M", log=lambda *_: None)
        database = Database(url)
        yield database, manifest
        await database.dispose()
    finally:
        await _admin_sql(backend, f'DROP DATABASE "{name}" WITH (FORCE)')


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


async def explain(database: Database, statement: Any) -> list[dict[str, Any]]:
    sql = str(statement.compile(dialect=database.engine.dialect, compile_kwargs={"literal_binds": True}))
    async with database.engine.connect() as conn:
        found = (await conn.execute(text("EXPLAIN (FORMAT JSON) " + sql))).scalar_one()
    plan = found if isinstance(found, list) else json.loads(found)
    return list(nodes(plan[0]["Plan"]))


def scans(plan: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Relation -> how the plan reads it ("Seq Scan", or the index names)."""
    read: dict[str, set[str]] = {}
    for node in plan:
        if "Relation Name" not in node:
            continue
        if node["Node Type"] == "Bitmap Heap Scan":  # the indexes are its children's
            how = {n["Index Name"] for n in nodes(node) if "Index Name" in n}
        else:
            how = {node.get("Index Name") or node["Node Type"]}
        read.setdefault(node["Relation Name"], set()).update(how)
    return read


async def test_a_units_overdue_page_walks_the_open_obligations_index(scale_m) -> None:
    database, manifest = scale_m
    o = manifest.overdue
    plan = await explain(database, unit_statement(o["unit_id"], date.fromisoformat(o["as_of"]),
                                                  limit=o["limit"]))
    read = scans(plan)
    assert read["assignment"] == {"ix_assignment_open_by_unit"}, read
    assert not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") in HOT_TABLES
                   for n in plan), read


async def test_a_units_dispatch_reads_its_obligations_and_reports_by_index(scale_m) -> None:
    database, manifest = scale_m
    d = manifest.dispatch
    as_of = date.fromisoformat(d["as_of"])
    async with database.sessions() as session:
        scope = await window.resolve(session, d["period"], as_of, as_of, Settings())
        statement = summary.per_unit(summary.facts(session, scope),
                                     *summary.Audience(unit_id=d["unit_id"]).where())
    read = scans(await explain(database, statement))
    seq = {t for t, how in read.items() if t in HOT_TABLES and "Seq Scan" in how}
    assert not seq, read
    assert read["assignment"] & {"ix_assignment_unit_id_task_id", "ix_assignment_open_by_unit"}, read
    assert read["report"] <= {"uq_report_assignment_id_period"}, read


async def test_a_task_view_reads_its_obligations_by_index(scale_m) -> None:
    database, manifest = scale_m
    task_id = manifest.get_task["task_ids"][0]
    for viewer in (None, manifest.overdue["unit_id"]):
        # A unit's token as the cache gives it: the statement checks it against the table too.
        caller = Principal(TokenRole.unit, viewer, 1, verified=False, digest="0" * 64)
        plan = await explain(database, view.STATEMENT.params(task_id=task_id, viewer=viewer,
                                                             **caller.live_binds()))
        read = scans(plan)
        assert not {t for t, how in read.items() if t in HOT_TABLES and "Seq Scan" in how}, read
        assert read["assignment"] & {"ix_assignment_task_id", "ix_assignment_unit_id_task_id"}, read
