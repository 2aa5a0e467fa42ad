"""Fifty clients at once on six obligations, against the service in its own process: units file
and correct reports for the same months and ask to close, the office returns or closes what is
pending, and keyed requests are retried, twice at once and once more. Whatever interleaving the
server chose, what it stored must be what a serial replay of the accepted requests gives. Then
two of those races played out step by step, transactions held at chosen points."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import httpx
import pytest
from sqlalchemy import update

from app.models import CompletionRequest
from tests.conftest import BACKEND
from tests.faults import invariants
from tests.faults.service import (
    OBLIGATIONS,
    PERIODS,
    REFUSALS,
    Journal,
    key_taken,
    lock_waits,
    office,
    running,
)
from tests.helpers import ADMIN

# The step-by-step races hold PostgreSQL row locks at chosen points; SQLite takes one writer at a
# time, so only the fifty-client run applies to it.
row_locks = pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite takes one writer at a "
                               "time: racing writers are PostgreSQL's to serialise")

UNIT_CLIENTS, OFFICE_CLIENTS, ROUNDS = 40, 10, 8


async def unit_client(i: int, url: str, task: int, headers: dict, journal: Journal) -> None:
    rng, who = random.Random(i), f"unit-{i}"
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for n in range(ROUNDS):
            roll = rng.random()
            if roll < 0.12:
                await journal.send(client, who, "POST", f"/tasks/{task}/completion",
                                   {"summary": f"{who}-{n} 完成"}, headers)
            elif roll < 0.2:
                await journal.send(client, who, "GET", f"/tasks/{task}/reports", headers=headers)
            else:
                body = {"period": rng.choice(PERIODS), "progress": rng.randint(0, 100),
                        "summary": f"{who}-{n}"}
                path = f"/tasks/{task}/reports"
                if rng.random() < 0.4:  # a client that lost the answer, retrying with its key
                    key = f"{who}-{n}"
                    await asyncio.gather(*(journal.send(client, who, "POST", path, body,
                                                        headers, key) for _ in range(2)))
                    await journal.send(client, who, "POST", path, body, headers, key)
                else:
                    await journal.send(client, who, "POST", path, body, headers)


async def office_client(j: int, url: str, journal: Journal) -> None:
    rng, who = random.Random(1000 + j), f"office-{j}"
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for n in range(ROUNDS):
            listed = await journal.send(client, who, "GET", "/completion-requests?status=pending",
                                        headers=ADMIN)
            pending = listed.json()["items"] if listed.accepted else []
            if not pending:
                await asyncio.sleep(rng.uniform(0.01, 0.05))
                continue
            asked = rng.choice(pending)
            # Parts close now and then; a whole task rarely, so that the others keep racing.
            approve = rng.random() < (0.3 if asked["scope"] == "part" else 0.05)
            body = {"approved": approve, "comment": f"{who}-{n}", "unit": str(asked["unit_id"])}
            key = f"{who}-{n}" if rng.random() < 0.3 else None
            for _ in range(3 if key else 1):
                await journal.send(client, who, "POST", f"/tasks/{asked['task_id']}/verification",
                                   body, ADMIN, key)


def applied(journal: Journal, ending: str) -> list[dict]:
    """The answers of the writes the server applied: accepted, not replayed."""
    return [c.json() for c in journal if c.write and c.accepted and not c.replayed
            and c.path.endswith(ending)]


def check_keys(journal: Journal) -> int:
    """Each key applied at most once; every other 2xx is a replay of that first answer."""
    by_key = defaultdict(list)
    for c in journal:
        if c.key:
            by_key[(c.who, c.key)].append(c)
    for calls in by_key.values():
        firsts = [c for c in calls if c.accepted and not c.replayed]
        replays = [c for c in calls if c.replayed]
        assert len(firsts) == (1 if replays or firsts else 0), [(c.status, c.content)
                                                                 for c in calls]
        assert all((r.status, r.content) == (firsts[0].status, firsts[0].content) for r in replays)
    return sum(1 for calls in by_key.values() if any(c.accepted for c in calls))


async def test_fifty_clients_on_six_obligations_leave_what_a_serial_replay_gives(
        database_url, tmp_path):
    journal = Journal()
    async with office(database_url) as flow:
        held = [OBLIGATIONS[i % len(OBLIGATIONS)] for i in range(UNIT_CLIENTS)]
        tokens = [await flow.api.mint(str(flow.units[unit])) for _, unit in held]
        async with running(database_url, tmp_path / "service.log") as service, asyncio.timeout(90):
            await asyncio.gather(
                *(unit_client(i, service.url, flow.tasks[number], tokens[i], journal)
                  for i, (number, _) in enumerate(held)),
                *(office_client(j, service.url, journal) for j in range(OFFICE_CLIENTS)))
        state = await invariants.load(flow.database)

    assert [(c.path, c.status, c.error) for c in journal
            if c.status is None or c.status >= 500] == []
    refused = Counter((c.status, c.json()["code"]) for c in journal if not c.accepted)
    assert set(refused) <= REFUSALS, refused
    assert len(state.idempotency) == check_keys(journal)

    reports, stored = defaultdict(list), {r.id: r for r in state.reports}
    for body in applied(journal, "/reports"):
        reports[body["id"]].append(body)
    assert set(reports) == set(stored)
    assert len(stored) == len({(r.assignment_id, r.period) for r in state.reports})
    for report_id, bodies in reports.items():
        # No lost update: each accepted write made its own version, one after the other.
        assert sorted(b["version"] for b in bodies) == list(range(1, len(bodies) + 1)), bodies
        last, row = max(bodies, key=lambda b: b["version"]), stored[report_id]
        assert (row.version, row.progress, row.summary) == \
            (last["version"], last["progress"], last["summary"])

    # One audit entry per accepted write, none for a refused or replayed one.
    assert Counter((e.entity_id, e.after["report"]["version"]) for e in state.audit
                   if e.action.startswith("report.")) == \
        Counter((b["id"], b["version"]) for bodies in reports.values() for b in bodies)
    assert Counter(e.entity_id for e in state.entries("completion.requested")) == \
        Counter(b["id"] for b in applied(journal, "/completion"))
    assert Counter((e.entity_id, e.action) for e in state.audit if e.action.startswith(
        "verification.") and e.after["comment"] != invariants.SETTLED) == \
        Counter((b["request"]["id"], f"verification.{b['request']['status']}")
                for b in applied(journal, "/verification"))
    assert invariants.everything(state) == [], "\n".join(invariants.everything(state))

    writes = [c for c in journal if c.write]
    print(f"\n{UNIT_CLIENTS + OFFICE_CLIENTS} clients, {len(journal)} requests, {len(writes)} "
          f"writes, {len(journal.accepted_writes())} accepted ({sum(c.replayed for c in writes)} "
          f"replays), refused {dict(refused)}, {len(stored)} reports at versions "
          f"{sorted(r.version for r in stored.values())}")


@row_locks
async def test_an_audit_entry_says_what_a_change_began_from_when_it_waited_for_another(
        database_url):
    """A report moves the lead's obligation and is held before it commits (its key is taken);
    a second report on it and the office's approval of the whole task wait for it, then go on
    from what it left. Their audit entries must say they began there, not from what they read
    before waiting."""
    async with office(database_url) as flow:
        unit, task = flow.units["市住建局"], flow.tasks["2"]
        lead, again = await flow.token("市住建局"), await flow.api.mint(str(unit))
        # The month's first report makes its period row, which the others would wait for first.
        assert (await flow.report("2", "市交通运输局", period=PERIODS[0])).status_code == 201
        asked = await flow.post(f"/tasks/{task}/completion", {"summary": "完成"}, lead)
        assert asked.status_code == 201, asked.text
        path, body = f"/tasks/{task}/reports", {"period": PERIODS[0], "progress": 90}
        async with key_taken(flow.database, lead, "held"):
            first = asyncio.create_task(flow.post(path, {**body, "summary": "甲"},
                                                  {**lead, "Idempotency-Key": "held"}))
            await lock_waits(flow.database, 1)
            second = asyncio.create_task(flow.post(path, {**body, "summary": "乙"}, again))
            await lock_waits(flow.database, 2)
            approval = asyncio.create_task(flow.post(f"/tasks/{task}/verification",
                                                     {"approved": True, "unit": str(unit)}))
            await lock_waits(flow.database, 3)
        answers = [(await t).status_code for t in (first, second, approval)]
        state = await invariants.load(flow.database)

    assert answers in ([201, 200, 200], [201, 409, 200]), answers
    moves = [(e.action, e.before, e.after) for e in state.audit if e.unit_id == unit]
    assert invariants.obligation_histories(state) == [], moves
    assert invariants.everything(state) == []


@row_locks
async def test_a_report_and_a_return_on_one_obligation_wait_for_each_other_without_deadlock(
        database_url):
    """The office's return holds the task and waits (its request's row is held); the lead's
    report meanwhile moves the obligation and inserts a report that refers to the task. Once
    the return goes on it needs that obligation: if the report waited for the task, each would
    wait for the other."""
    async with office(database_url) as flow:
        unit, task = flow.units["市住建局"], flow.tasks["2"]
        lead = await flow.token("市住建局")
        asked = await flow.post(f"/tasks/{task}/completion", {"summary": "完成"}, lead)
        assert asked.status_code == 201, asked.text
        async with flow.database.session() as holder:
            await holder.execute(update(CompletionRequest).where(
                CompletionRequest.id == asked.json()["id"]).values(comment="held"))
            returned = asyncio.create_task(flow.post(f"/tasks/{task}/verification",
                                                     {"approved": False, "unit": str(unit)}))
            await lock_waits(flow.database, 1)
            report = asyncio.create_task(flow.post(f"/tasks/{task}/reports", {
                "period": PERIODS[0], "progress": 50, "summary": "补充"}, lead))
            await lock_waits(flow.database, 2, done=report)
            await holder.rollback()
        answers = [await t for t in (report, returned)]
        state = await invariants.load(flow.database)

    assert [a.status_code for a in answers] == [201, 200], [a.text for a in answers]
    assert state.assignments[answers[0].json()["assignment_id"]].status == "returned"
    assert invariants.everything(state) == []
