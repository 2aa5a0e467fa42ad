"""PostgreSQL stopped under load and started again, the service left running: while the
database is away every request is told 503 problem+json with Retry-After, promptly; once it is
back the service recovers by itself, its webhook worker too, and no accepted write is lost."""

from __future__ import annotations

import asyncio
import shlex
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import BACKEND, _admin_sql, migrated_cluster
from tests.faults import invariants
from tests.faults.service import (
    OBLIGATIONS,
    PERIODS,
    REFUSALS,
    Journal,
    office,
    receiving,
    running,
)
from tests.helpers import ADMIN
from tests.pgcluster import Cluster

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="a database server to stop and "
                                "start again is PostgreSQL's; SQLite is a file in the process")

UP, DOWN, RECOVERY, SLOWEST = 1.5, 3.0, 20.0, 5.0  # seconds
WORKER = {"RUN_WORKER": "true", "WORKER_POLL_SECONDS": "0.1", "WEBHOOK_RETRY_BASE_SECONDS": "0.1",
          "WEBHOOK_RETRY_MAX_SECONDS": "1", "WEBHOOK_MAX_ATTEMPTS": "100",
          "WEBHOOK_LEASE_SECONDS": "5"}


class OwnCluster(Cluster):
    """A cluster of this module's own, so that stopping it breaks no other test; durable, so that
    an immediate stop (a crash) keeps every commit it acknowledged."""

    def halt(self, mode: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def resume(self) -> None:
        # The options it last started with: the same port, socket folder and settings.
        options = shlex.split((self.data / "postmaster.opts").read_text())[1:]
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", shlex.join(options),
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")


@pytest.fixture(scope="module")
def cluster():
    with migrated_cluster(OwnCluster(durable=True), "template_restart") as own:
        yield own


async def client_loop(who: str, url: str, journal: Journal, stop: asyncio.Event, requests) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=SLOWEST * 3) as client:
        n = 0
        while not stop.is_set():
            method, path, body, headers, key = requests(n)
            await journal.send(client, who, method, path, body, headers, key)
            n += 1
            await asyncio.sleep(0.02)


def writer(i: int, task: int, headers: dict):
    def request(n: int):
        body = {"period": PERIODS[n % len(PERIODS)], "progress": n % 101, "summary": f"w{i}-{n}"}
        return "POST", f"/tasks/{task}/reports", body, headers, (f"w{i}-{n}" if n % 2 else None)
    return request


def reader(task: int, headers: dict):
    paths = (f"/tasks/{task}", f"/tasks/{task}/reports", "/health", "/audit?limit=5")
    return lambda n: ("GET", paths[n % len(paths)], None, ADMIN if "audit" in paths[n % 4]
                      else headers, None)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_the_service_answers_503_while_postgresql_is_down_and_recovers_by_itself(
        cluster, mode, tmp_path):
    name = f"restart_{uuid.uuid4().hex[:8]}"
    await _admin_sql(cluster, f'CREATE DATABASE "{name}" TEMPLATE "template_restart"')
    url, journal, stop = f"{cluster.dsn_base}/{name}", Journal(), asyncio.Event()
    async with receiving() as receiver, office(url) as flow:
        hook = await flow.post("/webhooks", {"url": receiver.url, "events": ["report.submitted"],
                                             "secret": "whsec-0123456789abcdef"})
        assert hook.status_code == 201, hook.text
        tokens = [await flow.api.mint(str(flow.units[unit])) for _, unit in OBLIGATIONS]
        tasks = [flow.tasks[number] for number, _ in OBLIGATIONS]
        await flow.database.dispose()  # the test's own pool must not outlive the restart
        async with running(url, tmp_path / "service.log", **WORKER) as service, \
                asyncio.timeout(120):
            loops = [asyncio.create_task(client_loop(f"w{i}", service.url, journal, stop, make))
                     for i, make in enumerate([writer(i, tasks[i], tokens[i]) for i in range(6)]
                                              + [reader(tasks[i], tokens[i]) for i in range(4)])]
            await asyncio.sleep(UP)
            down = time.monotonic()
            await asyncio.to_thread(cluster.halt, mode)
            stopped = time.monotonic()
            await asyncio.sleep(DOWN)
            restarting = time.monotonic()
            await asyncio.to_thread(cluster.resume)
            back = time.monotonic()
            while not any(c.accepted and c.write and c.started > back for c in journal):
                assert time.monotonic() - back < RECOVERY, service.tail()
                await asyncio.sleep(0.05)
            recovered = time.monotonic()
            await asyncio.sleep(UP)
            stop.set()
            await asyncio.gather(*loops)
            # Keyed writes told 503: sent again, each is applied once (replayed if it had been).
            resent, resending = Journal(), datetime.now(UTC)
            async with httpx.AsyncClient(base_url=service.url, timeout=SLOWEST * 3) as client:
                for c in [c for c in journal if c.key and c.status == 503]:
                    await resent.send(client, c.who, c.method, c.path, c.body,
                                      tokens[int(c.who[1:])], c.key)
            state = await invariants.load(flow.database)
            await receiver.wait_for(len(state.entries("report.created"))
                                    + len(state.entries("report.corrected")), timeout=RECOVERY)
    await _admin_sql(cluster, f'DROP DATABASE "{name}" WITH (FORCE)')

    assert [(c.path, c.error) for c in journal + resent if c.status is None] == []
    assert max(c.seconds for c in journal) < SLOWEST
    failed = [c for c in journal if not c.accepted
              and (c.status, c.json().get("code")) not in REFUSALS]
    assert {(c.status, c.headers["content-type"], c.json()["code"], c.headers.get("retry-after"))
            for c in failed} == {(503, "application/problem+json", "database_unavailable", "5")}
    # Every request sent while the database was away was told so, and nothing was answered
    # 503 once it had recovered.
    assert [(c.path, c.status, c.content[:200]) for c in journal if stopped < c.started
            and c.started + c.seconds < restarting and c.status != 503] == []
    assert sum(c.status == 503 for c in journal if c.started > stopped) >= 20
    assert not [c for c in journal if c.started > recovered and c.status == 503]

    applied, first = Counter(), {}
    for e in state.audit:
        if e.action.startswith("report."):
            applied[e.after["report"]["summary"]] += 1
            first.setdefault(e.after["report"]["summary"], e.at)
    assert set(applied.values()) == {1}
    assert [(c.body, c.status, c.replayed) for c in resent if not c.accepted
            or c.replayed != (first[c.body["summary"]] < resending)] == []
    lost = [c for c in journal + resent if c.accepted and c.write
            and applied[c.body["summary"]] != 1]
    assert lost == []
    assert invariants.everything(state) == [], "\n".join(invariants.everything(state))
    # The worker lived through it: every report's event delivered once, in order per task.
    got = [r.json() for r in receiver.delivered]
    assert sorted(e["id"] for e in got) == [e.id for e in state.events
                                            if e.type == "report.submitted"]
    for task in set(tasks):
        ids = [e["id"] for e in got if e["data"]["task"]["id"] == task]
        assert ids == sorted(ids), f"task {task}: {ids}"
    print(f"\n[{mode}] 10 clients, {len(journal) + len(resent)} requests, "
          f"{sum(c.accepted and c.write for c in journal + resent)} accepted writes, "
          f"{sum(c.status == 503 for c in journal)} answered 503 while down "
          f"({len(resent)} keyed resent, {sum(c.replayed for c in resent)} replayed), recovered "
          f"{recovered - back:.2f} s after the restart (stop took {stopped - down:.2f} s), "
          f"lost writes {len(lost)}, {len(receiver.delivered)} webhooks delivered")
