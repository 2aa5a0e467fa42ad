"""The world the authorization tests attack: two seed documents imported, unit B (赣州市水利局,
in the city plan) holding one of every kind of object, unit A (兴国县林业局, in the county plan)
holding obligations on other tasks only, unit C working on one of B's tasks, and the tokens
that try to reach B's objects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.models import Assignment, AssignmentStatus, Role, Task, Unit
from tests.helpers import ADMIN, bearer

API = "/api/v1"
PERIOD = "2025-06"


@dataclass(frozen=True)
class Actor:
    headers: dict
    writes: bool
    own: dict            # its own task and unit, for paths that mix them with B's ids
    neighbour: bool = False  # on B's task (not its lead): shares the task, not B's objects


@dataclass
class World:
    b: dict                  # B's own token: its objects must read 200 with it
    ids: dict                # B's object of each kind, by name
    titles: list[str]        # B's task titles
    filed: list[str]         # what B wrote (report, requests), its reminder and its token
    names: list[str]         # B's names: public in the registry, secret elsewhere
    b_unit: int
    b_tasks: set[int]
    reader: dict             # a read-only token for everything: reads B's objects, writes nothing
    actors: dict[str, Actor]  # units and a unit's reader that have no right to B's objects
    strangers: dict[str, dict]  # no token, malformed ones, an unknown and a revoked one: 401


async def mint(client, unit_id: int | None, role: str = "unit") -> dict:
    body = {"unit": None if unit_id is None else str(unit_id), "role": role}
    response = await client.post(f"{API}/tokens", headers=ADMIN, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _units(database) -> tuple[dict, list]:
    async with database.session() as s:
        units = {n: (i, full) for i, n, full in (await s.execute(
            select(Unit.id, Unit.short_name, Unit.name).where(
                Unit.short_name.in_(("市水利局", "县林业局"))))).all()}
        held = (await s.execute(select(Assignment.task_id, Assignment.unit_id, Assignment.role,
                                       Task.title)
                                .join(Task, Task.id == Assignment.task_id)
                                .where(Assignment.status != AssignmentStatus.group))).all()
    return units, held


@pytest.fixture
async def world(client, api, database) -> World:
    document = (await api.import_seed("001"))["id"]
    await api.import_seed("002")
    # Subscribed before B acts, so that B's events leave deliveries carrying its texts.
    hook = await ok(await client.post(f"{API}/webhooks", headers=ADMIN, json={
        "url": "http://127.0.0.1:9/hook", "secret": "s" * 20, "events": ["*"]}))
    units, held = await _units(database)
    (b_unit, b_name), (a_unit, a_name) = units["市水利局"], units["县林业局"]
    a_tasks = sorted(t for t, u, _, _ in held if u == a_unit)
    b_held = sorted((t, title) for t, u, _, title in held if u == b_unit and t not in a_tasks)
    assert len(b_held) >= 2 and a_tasks, "the seeds no longer give A and B separate tasks"
    (task, title), (other, other_title) = b_held[:2]
    # C works on B's first task without leading it: it sees the task, not B's part of it.
    c_unit = min(u for t, u, role, _ in held if t == task and u != b_unit and role != Role.lead)
    minted_b = await mint(client, b_unit)
    b = bearer(minted_b["token"])
    revoked = await mint(client, a_unit)
    assert (await client.delete(f"{API}/tokens/{revoked['id']}", headers=ADMIN)).status_code == 204
    mark = uuid.uuid4().hex[:8]
    texts = {k: f"{k}-{mark}-乙方机密" for k in ("report", "extension", "completion", "change", "remind")}

    async def post(path: str, body: dict, headers: dict = b) -> dict:
        return await ok(await client.post(API + path, json=body, headers=headers))

    await post(f"/tasks/{task}/acceptance", {})
    report = await post(f"/tasks/{task}/reports", {"period": PERIOD, "progress": 40,
                                                   "summary": texts["report"]})
    extension = await post(f"/tasks/{task}/extensions", {"deadline": "2031-12-31",
                                                         "reason": texts["extension"]})
    await post(f"/tasks/{task}/completion", {"summary": texts["completion"]})
    change = await post(f"/tasks/{other}/responsibility-changes",
                        {"kind": "remove", "reason": texts["change"]})
    await post("/reminders", {"unit": str(b_unit), "period": PERIOD, "task": task,
                              "message": texts["remind"]}, ADMIN)
    deliveries = (await ok(await client.get(f"{API}/webhooks/{hook['id']}/deliveries",
                                            headers=ADMIN)))["items"]
    assert deliveries, "B's steps left no webhook delivery"
    [assignment] = (await ok(await client.get(f"{API}/tasks/{task}/assignments", headers=b)))["items"]
    ids = {"task": task, "assignment": assignment["id"], "report": report["id"],
           "extension": extension["id"], "change": change["id"], "period": PERIOD,
           "document": document, "unit_name": b_name, "webhook": hook["id"],
           "delivery": deliveries[-1]["id"], "token_id": minted_b["id"], "jurisdiction": "赣州市",
           "title": title}
    return World(
        b=b, ids=ids, titles=[title, other_title],
        filed=[minted_b["token"], *texts.values()], names=[b_name, "市水利局"],
        b_unit=b_unit, b_tasks={task, other},
        reader=bearer((await mint(client, None, "reader"))["token"]),
        actors={
            "unit A": Actor(bearer((await mint(client, a_unit))["token"]), True,
                            {"task_id": a_tasks[0], "unit": a_name}),
            "A's reader": Actor(bearer((await mint(client, a_unit, "reader"))["token"]), False,
                                {"task_id": a_tasks[0], "unit": a_name}),
            "neighbour C": Actor(bearer((await mint(client, c_unit))["token"]), True,
                                 {"task_id": task, "unit": str(c_unit)}, neighbour=True)},
        strangers={"none": {}, "malformed": {"Authorization": "Bearer"},
                   "other scheme": {"Authorization": "Basic YTpi"},
                   "unknown": bearer("dbn_" + uuid.uuid4().hex),
                   "revoked": bearer(revoked["token"])})
