"""The world the equal-work tests run on, made through Duban's API: two seed documents, unit
tokens (and a reader's, a revoked and an unknown one), acceptances, reports and corrections, an
approved extension, completion requests verified and returned, a removed obligation, office
assignments, group members, deadlines moved around today, a period closed and one with its own
due day, reminders and webhooks; then creation, closing and filing dates spread over the last
months, so that the dispatch has something to count in each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.helpers import ADMIN, Api, bearer

API = "/api/v1"
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def months_back(n: int) -> date:
    day = TODAY.replace(day=1)
    for _ in range(n):
        day = (day - timedelta(days=1)).replace(day=1)
    return day


P0, P1, P2, P3 = (f"{months_back(n):%Y-%m}" for n in range(4))


@dataclass
class World:
    duban: httpx.AsyncClient
    dsn: str
    units: list[int] = field(default_factory=list)  # the busiest units, each with a token
    tokens: dict[Any, dict] = field(default_factory=dict)  # unit id, "reader", "revoked", …
    tasks: list[int] = field(default_factory=list)
    all_units: list[int] = field(default_factory=list)

    async def post(self, path: str, body: Any = None, headers: dict | None = None) -> Any:
        return await self.duban.post(API + path, json=body or {}, headers=headers or ADMIN)

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()


async def build(client: httpx.AsyncClient, api: Api, database_url: str) -> World:
    w = World(client, database_url.replace("+asyncpg", ""))
    await api.import_seed("001")
    await api.import_seed("003")
    w.units = [r["unit_id"] for r in await w.sql(
        "SELECT unit_id FROM assignment WHERE status = 'assigned' GROUP BY unit_id "
        "ORDER BY count(*) DESC, unit_id LIMIT 6")]
    for unit in w.units:
        w.tokens[unit] = await api.mint(str(unit))
    w.tokens["reader"] = await api.mint(None, role="reader")
    w.tokens["unit reader"] = await api.mint(str(w.units[0]), role="reader")
    minted = (await w.post("/tokens", {"unit": str(w.units[1]), "role": "unit"})).json()
    assert (await w.duban.delete(f"{API}/tokens/{minted['id']}", headers=ADMIN)).status_code == 204
    w.tokens["revoked"] = bearer(minted["token"])
    w.tokens["unknown"] = bearer("dbn_nobody")
    await _workflow(w)
    await _backdate(w)
    w.tasks = [r["id"] for r in await w.sql("SELECT id FROM task ORDER BY id")]
    w.all_units = [r["unit_id"] for r in await w.sql(
        "SELECT DISTINCT unit_id FROM assignment WHERE status <> 'group' ORDER BY unit_id")]
    return w


# What each of a unit's first obligations goes through, on tasks no two units share.
PLAN = ({"accept", "report"}, {"accept", "report"}, {"accept"}, {"accept", "extend"}, set(),
        {"accept", "ask", "close"}, {"accept", "ask", "return"}, {"remove"}, {"accept", "ask"})


async def _shared(w: World) -> None:
    """Two more units report on a task the first one reported on: the roll-up's mean of three
    then has decimals to round."""
    task = (await w.sql("SELECT task_id, progress FROM assignment WHERE unit_id = $1 "
                        "AND progress IS NOT NULL ORDER BY task_id LIMIT 1", w.units[0]))[0]
    others = await w.sql("SELECT unit_id FROM assignment WHERE task_id = $1 AND status = "
                         "'assigned' ORDER BY unit_id LIMIT 2", task["task_id"])
    assert len(others) == 2
    for progress, other in zip((10, 20 + (1 - task["progress"] - 30) % 3), others, strict=True):
        minted = await w.post("/tokens", {"unit": str(other["unit_id"]), "role": "unit"})
        token = bearer(minted.json()["token"])
        path = f"/tasks/{task['task_id']}"
        assert (await w.post(f"{path}/acceptance", {}, token)).status_code == 200
        assert (await w.post(f"{path}/reports", {"period": P1, "progress": progress,
                                                 "summary": "协同推进"}, token)).status_code == 201


async def _obligation(w: World, token: dict, unit: int, row: asyncpg.Record,
                      steps: set[str]) -> None:
    task = row["task_id"]
    if "accept" in steps:
        assert (await w.post(f"/tasks/{task}/acceptance", {}, token)).status_code == 200
    if "report" in steps:
        for period, progress in ((P2, 20), (P1, 40 + task % 50), (P1, 45 + task % 50)):
            response = await w.post(f"/tasks/{task}/reports", {
                "period": period, "progress": progress, "summary": f"任务{task}进展"}, token)
            assert response.status_code in (200, 201), response.text
    if "extend" in steps and row["effective_deadline"] is not None:
        asked = await w.post(f"/tasks/{task}/extensions", {
            "deadline": str(row["effective_deadline"] + timedelta(days=400)),
            "reason": "资金未到位"}, token)
        assert asked.status_code == 201, asked.text
        decided = await w.post(f"/extensions/{asked.json()['id']}/decision", {"approved": True})
        assert decided.status_code == 200
    if "ask" in steps:
        asked = await w.post(f"/tasks/{task}/completion", {"summary": "已完成"}, token)
        assert asked.status_code == 201, asked.text
    if steps & {"close", "return"}:
        verdict = {"approved": "close" in steps, "comment": "核查"}
        if row["role"] != "lead":
            verdict["unit"] = str(unit)
        verified = await w.post(f"/tasks/{task}/verification", verdict)
        assert verified.status_code == 200, verified.text
    if "remove" in steps:
        removed = await w.duban.delete(f"{API}/tasks/{task}/assignments/{row['id']}",
                                       headers=ADMIN)
        assert removed.status_code == 204


async def _workflow(w: World) -> None:
    """Every state an obligation can be in, and the registry, periods and webhooks around them."""
    group, a, b = (r["id"] for r in await w.sql(
        "(SELECT id FROM unit WHERE is_group ORDER BY id LIMIT 1) UNION ALL "
        "(SELECT id FROM unit WHERE NOT is_group ORDER BY id DESC LIMIT 2)"))
    assert (await w.duban.put(f"{API}/units/{group}/members", json={"members": [a, b]},
                              headers=ADMIN)).status_code == 200
    used: set[int] = set()
    for unit in w.units:
        held = [r for r in await w.sql(
            "SELECT id, task_id, role, effective_deadline FROM assignment "
            "WHERE unit_id = $1 AND status = 'assigned' ORDER BY task_id", unit)
            if r["task_id"] not in used][:len(PLAN)]
        used |= {r["task_id"] for r in held}
        for steps, row in zip(PLAN, held, strict=False):
            if "extend" in steps and unit != w.units[0]:
                steps = steps | {"ask", "close"}  # closed after an extension
            await _obligation(w, w.tokens[unit], unit, row, steps)
    await _shared(w)
    free = await w.sql("SELECT t.id FROM task t WHERE NOT EXISTS (SELECT 1 FROM assignment a "
                       "WHERE a.task_id = t.id AND a.unit_id = $1) ORDER BY t.id LIMIT 2",
                       w.units[0])
    # Deadlines around today, so that the dispatch sees obligations due soon and lagging too.
    for k, row in enumerate(await w.sql("SELECT id FROM task WHERE id % 3 = 0 ORDER BY id")):
        deadline = TODAY + timedelta(days=37 * (k % 9) - 20)
        assert (await w.duban.patch(f"{API}/tasks/{row['id']}", json={"deadline": str(deadline)},
                                    headers=ADMIN)).status_code == 200
    for row, deadline in zip(free, ("2024-03-31", None), strict=True):
        assert (await w.post(f"/tasks/{row['id']}/assignments", {
            "unit": str(w.units[0]), "role": "cooperating", "deadline": deadline})).status_code == 201
    assert (await w.duban.put(f"{API}/periods/{P1}", json={"due_day": 20},
                              headers=ADMIN)).status_code == 200
    assert (await w.post(f"/periods/{P3}/close")).status_code == 200
    assert (await w.post("/reminders", {"units": [str(u) for u in w.units[:3]],
                                        "period": P1})).status_code == 201
    for events in (["report.submitted"], ["*"], ["task.closed"]):
        assert (await w.post("/webhooks", {"url": "https://hooks.example.org/duban",
                                           "secret": "s" * 20, "events": events})).status_code == 201
    states = {r["status"] for r in await w.sql("SELECT DISTINCT status FROM assignment")}
    assert states == {"assigned", "accepted", "in_progress", "completion_requested", "returned",
                      "closed", "removed", "group"}


async def _backdate(w: World) -> None:
    """Spread creation, closing and filing over the last months: the dispatch counts by them."""
    start = datetime.combine(months_back(4), datetime.min.time())
    await w.sql("UPDATE assignment SET created_at = $1::timestamp + (id % 75) * interval '1 day'"
                " + (id % 24) * interval '1 hour'", start)
    # Without a start of its own an obligation's clock starts when it was created (local day).
    await w.sql("UPDATE assignment SET starts_on = NULL WHERE id % 4 = 0")
    await w.sql("UPDATE assignment SET closed_at = $1::timestamp + (id % 20) * interval '1 day' "
                "WHERE closed_at IS NOT NULL", datetime.combine(months_back(1), datetime.min.time()))
    # Some reports on their due day (Asia/Shanghai), some the day after.
    await w.sql("UPDATE report r SET created_at = (to_date(r.period || '-01', 'YYYY-MM-DD') "
                "+ CASE r.id % 5 WHEN 0 THEN d.due_day - 1 WHEN 1 THEN d.due_day "
                "ELSE (r.id * 5) % 28 END + time '08:00')::timestamp AT TIME ZONE 'Asia/Shanghai' "
                "+ (r.id % 24) * interval '1 hour' "
                "FROM (SELECT p.period, coalesce((SELECT due_day FROM reportingperiod q "
                "WHERE q.period = p.period), 25) AS due_day FROM report p) d "
                "WHERE d.period = r.period")
    await w.sql("UPDATE reminder SET created_at = $1::timestamp + interval '3 days'",
                datetime.combine(months_back(1), datetime.min.time()))
