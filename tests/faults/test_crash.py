"""kill -9 of the service in the middle of a stream of writes, then a restart on the same
database: every write that was answered 2xx is there, nothing is half-written, and a keyed
request whose answer the crash swallowed, sent again, is applied once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import orjson
from sqlalchemy import func, select

from app.models import AuditEntry
from tests.faults import invariants
from tests.faults.service import OBLIGATIONS, PERIODS, REFUSALS, Call, Journal, Service, office
from tests.helpers import ADMIN

STREAMS = 3 * len(OBLIGATIONS)  # three clients on each obligation: many writes in flight
WRITES_BEFORE_KILL = 60  # accepted writes to wait for before pulling the plug
ROUNDS, AFTER_RESTART = 400, 6  # writes per unit: at most before the kill, and after the restart
# The office approves this unit's part (one obligation closes) and sends every other request
# back, so that the other streams go on.
CLOSES = "市交通运输局"


async def unit_stream(i: int, url: str, task: int, headers: dict, journal: Journal,
                      rounds: int, tag: str) -> None:
    """Reports, and every sixth write a request to close; two writes in three keyed. Ends at
    the first request that gets no answer: the service is gone."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for n in range(rounds):
            who, key = f"unit-{i}", (f"unit-{i}-{tag}{n}" if n % 3 else None)
            if n % 6 == 5:
                path, body = f"/tasks/{task}/completion", {"summary": f"{who}-{tag}{n} 完成"}
            else:
                path, body = f"/tasks/{task}/reports", {
                    "period": PERIODS[n % len(PERIODS)], "progress": n % 101,
                    "summary": f"{who}-{tag}{n}"}
            if (await journal.send(client, who, "POST", path, body, headers, key)).error:
                return


async def office_stream(url: str, journal: Journal, closes: int, done: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for n in range(ROUNDS):
            listed = await journal.send(client, "office", "GET",
                                        "/completion-requests?status=pending", headers=ADMIN)
            if listed.error or done.is_set():
                return
            for asked in listed.json()["items"] if listed.accepted else []:
                body = {"approved": asked["unit_id"] == closes, "comment": f"office-{n}",
                        "unit": str(asked["unit_id"])}
                path = f"/tasks/{asked['task_id']}/verification"
                if (await journal.send(client, "office", "POST", path, body, ADMIN,
                                       f"office-{n}-{asked['id']}")).error:
                    return
            await asyncio.sleep(0.02)


@asynccontextmanager
async def unread(port: int, journal: Journal, tasks: list[int], tokens: dict, database):
    """Keyed writes sent whole on raw connections whose answers are never read: the service
    commits them, and the kill inside this block swallows their answers for good."""
    streams = [i for i, (_, unit) in enumerate(OBLIGATIONS) if unit != CLOSES]  # still open
    connections = []
    for i in streams:
        body = {"period": PERIODS[0], "progress": 99, "summary": f"unread-{i}"}
        call = Call(f"unit-{i}", "POST", f"/tasks/{tasks[i]}/reports", body, f"unread-{i}",
                    time.monotonic(), error="answer never read")
        raw = orjson.dumps(body)
        head = "".join(f"{k}: {v}\r\n" for k, v in {
            "Host": f"127.0.0.1:{port}", "Content-Type": "application/json",
            "Content-Length": len(raw), "Idempotency-Key": call.key, **tokens[call.who]}.items())
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST /api/v1{call.path} HTTP/1.1\r\n{head}\r\n".encode() + raw)
        await writer.drain()
        connections.append(writer)
        journal.append(call)
    summary = AuditEntry.after["report"]["summary"].as_string()
    for _ in range(300):
        async with database.session(write=False) as s:
            committed = (await s.execute(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action.like("report.%"), summary.like("unread-%")))).scalar()
        if committed == len(streams):
            break
        await asyncio.sleep(0.1)
    assert committed == len(streams), f"{committed} of {len(streams)} writes committed in 30 s"
    try:
        yield
    finally:
        for writer in connections:
            writer.close()


async def resend(url: str, journal: Journal, lost: list[Call], headers: dict[str, dict]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for c in lost:
            await journal.send(client, c.who, c.method, c.path, c.body, headers[c.who], c.key)


async def test_a_service_killed_mid_stream_keeps_every_answered_write_and_no_half_of_any(
        database_url, tmp_path):
    journal = Journal()
    async with office(database_url) as flow:
        hook = await flow.post("/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["*"],
                                             "secret": "whsec-0123456789abcdef"})
        assert hook.status_code == 201, hook.text
        held = [OBLIGATIONS[i % len(OBLIGATIONS)] for i in range(STREAMS)]
        tokens = {f"unit-{i}": await flow.api.mint(str(flow.units[unit]))
                  for i, (_, unit) in enumerate(held)}
        tasks, closes = [flow.tasks[number] for number, _ in held], flow.units[CLOSES]
        service = await Service(database_url, tmp_path / "service.log").start()

        def streams(rounds: int, tag: str, done: asyncio.Event) -> list[asyncio.Task]:
            return [asyncio.create_task(office_stream(service.url, journal, closes, done)),
                    *(asyncio.create_task(unit_stream(i, service.url, tasks[i],
                                                      tokens[f"unit-{i}"], journal, rounds, tag))
                      for i in range(STREAMS))]
        try:
            async with asyncio.timeout(120):
                running = streams(ROUNDS, "a", asyncio.Event())
                while len(journal.accepted_writes()) < WRITES_BEFORE_KILL:
                    assert not all(s.done() for s in running), service.tail()
                    await asyncio.sleep(0.005)
                async with unread(service.port, journal, tasks, tokens, flow.database):
                    service.kill()
                killed_at = datetime.now(UTC)
                await asyncio.gather(*running)
                unanswered, before_restart = [c for c in journal if c.error], len(journal)
                await service.start()
                await resend(service.url, journal, [c for c in unanswered if c.key],
                             {**tokens, "office": ADMIN})
                retried = journal[before_restart:]
                done = asyncio.Event()
                office_again, *units_again = streams(AFTER_RESTART, "b", done)
                await asyncio.gather(*units_again)
                done.set()
                await office_again
        finally:
            service.stop()
        state = await invariants.load(flow.database)

    assert [c for c in journal[before_restart:] if c.status is None] == []
    refused = Counter((c.status, c.json()["code"]) for c in journal if c.status and not c.accepted)
    assert set(refused) <= REFUSALS, refused

    # A unit's write (its summary is unique) is applied at most once; exactly once when any
    # of its sendings was answered 2xx, before the kill or after; and when its first answer was
    # lost with the process, the resent key replays it if, and only if, it had committed.
    applied, first = Counter(), {}
    for e in state.audit:
        summary = (e.after["report"]["summary"] if e.action.startswith("report.")
                   else e.after["summary"] if e.action == "completion.requested" else None)
        if summary is not None:
            applied[summary] += 1
            first.setdefault(summary, e.at)
    decided = {e.entity_id for e in state.audit if e.action.startswith("verification.")}
    assert set(applied.values()) == {1}
    lost = [c for c in journal.accepted_writes() if applied[c.body.get("summary")] != 1
            and c.json().get("request", {}).get("id") not in decided]
    assert lost == []
    for c in retried:
        if "summary" in c.body:
            committed = first.get(c.body["summary"], killed_at) < killed_at
            assert (c.accepted, c.replayed) == (True, committed) or not (c.accepted or committed), c
            assert c.replayed or not c.body["summary"].startswith("unread-")
    assert invariants.everything(state) == [], "\n".join(invariants.everything(state))
    print(f"\n{STREAMS + 1} clients, {len(journal)} requests, "
          f"{len(journal.accepted_writes())} accepted writes, 1 SIGKILL with {len(unanswered)} "
          f"unanswered ({len(retried)} keyed and resent, {sum(c.replayed for c in retried)} of "
          f"them replayed), {len(state.reports)} reports, refused {dict(refused)}, "
          f"lost writes {len(lost)}")
