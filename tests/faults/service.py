"""The service as it runs in production, a uvicorn process on a free port of 127.0.0.1, so that
a test can SIGKILL it or take its database away while clients talk to it; and the journal each
fault test keeps of every request it sent and the answer it got (or that none came)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import insert, text

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import IdempotencyRecord, utcnow
from tests.api.test_assignments import Flow
from tests.conftest import ROOT
from tests.helpers import ADMIN_TOKEN, Api
from tests.pgcluster import free_port
from tests.receiver import Receiver

# The obligations of the plan's first two tasks (tests/api/test_assignments.PLAN), accepted by
# `office` so that they take reports; and months already over, so that reports are due.
OBLIGATIONS = (("1", "市发改委"), ("1", "市工信局"), ("1", "市科技局"),
               ("2", "市住建局"), ("2", "市发改委"), ("2", "市交通运输局"))
PERIODS = ("2026-01", "2026-02", "2026-03")
# What racing or repeated writes may legitimately be told: a step the state no longer allows,
# a request already pending, a twin with the same Idempotency-Key still running.
REFUSALS = {(409, "invalid_transition"), (409, "conflict"), (409, "idempotency_in_flight")}


class Service:
    def __init__(self, database_url: str, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {**os.environ, "DATABASE_URL": database_url, "DUBAN_ADMIN_TOKEN": ADMIN_TOKEN,
                    "IMPORT_SEED": "false", "RUN_WORKER": "false", **env}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    async def start(self, within: float = 60.0) -> Service:
        """Start (again, on the same port) and wait until /health answers 200."""
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                 "--no-access-log"], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"the service exited:\n{self.tail()}"
                try:
                    if (await client.get(f"{self.url}/api/v1/health")).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        self.stop()
        raise AssertionError(f"the service did not answer within {within:.0f} s:\n{self.tail()}")

    def kill(self) -> None:
        """kill -9: no shutdown, no rollback, no flush; only what the database committed stays."""
        assert self.process is not None and self.process.poll() is None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def tail(self, size: int = 4000) -> str:
        return self.log.read_bytes()[-size:].decode("utf-8", "replace") if self.log.exists() else ""


@asynccontextmanager
async def running(database_url: str, log: Path, **env: str):
    service = await Service(database_url, log, **env).start()
    try:
        yield service
    finally:
        service.stop()


@asynccontextmanager
async def receiving(*script: int | str):
    """A webhook receiver on 127.0.0.1 (tests/receiver.py), stopped however the test ends."""
    receiver = await Receiver(*script).start()
    try:
        yield receiver
    finally:
        await receiver.stop()


@asynccontextmanager
async def office(database_url: str):
    """The plan of tests/api/test_assignments imported, and OBLIGATIONS accepted, through an
    in-process app on the same database: for preparing a scenario and reading its outcome,
    never for the load itself."""
    settings = Settings(database_url=database_url, duban_admin_token=ADMIN_TOKEN,
                        import_seed=False, run_worker=False)
    database = Database.from_settings(settings)
    transport = httpx.ASGITransport(app=create_app(settings, database), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://duban.test") as client:
            flow = await Flow(client, Api(client), database).start()
            for number, unit in OBLIGATIONS:
                await flow.accept(number, unit)
            yield flow
    finally:
        await database.dispose()


@asynccontextmanager
async def key_taken(database: Database, headers: dict, key: str):
    """An open transaction holding the Idempotency-Key `key` of the caller of `headers` (scoped
    as app/uow.py scopes it): a request with that key makes its whole change, then waits at
    the key's row, its locks held, until this block ends and the holder rolls back."""
    scope = hashlib.sha256(headers["Authorization"].encode()).hexdigest()[:32]
    async with database.session() as holder:
        await holder.execute(insert(IdempotencyRecord).values(
            scope=scope, key=key, request_hash="-", status_code=201, body=b"", headers={},
            created_at=utcnow()))
        try:
            yield
        finally:
            await holder.rollback()


async def lock_waits(database: Database, count: int, done: asyncio.Task | None = None) -> None:
    """Until `count` transactions of this database wait for a lock, or `done` has finished."""
    async with asyncio.timeout(10):
        while not (done is not None and done.done()):
            async with database.session(write=False) as s:
                waiting = await s.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"))
                if waiting.scalar() >= count:
                    return
            await asyncio.sleep(0.02)


@dataclass
class Call:
    who: str
    method: str
    path: str
    body: dict | None
    key: str | None
    started: float
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    error: str | None = None
    seconds: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def replayed(self) -> bool:
        return self.headers.get("idempotent-replayed") == "true"

    @property
    def write(self) -> bool:
        return self.method != "GET"

    def json(self) -> Any:
        return orjson.loads(self.content)


class Journal(list[Call]):
    """Every request and its answer, in the order they were sent."""

    async def send(self, client: httpx.AsyncClient, who: str, method: str, path: str,
                   body: dict | None = None, headers: dict | None = None,
                   key: str | None = None) -> Call:
        call = Call(who, method, path, body, key, time.monotonic())
        self.append(call)
        headers = {**(headers or {}), **({"Idempotency-Key": key} if key else {})}
        try:
            response = await client.request(method, "/api/v1" + path, headers=headers,
                                            json=body if method != "GET" else None)
            call.status, call.content = response.status_code, response.content
            call.headers = {k.lower(): v for k, v in response.headers.items()}
        except httpx.HTTPError as exc:
            call.error = f"{type(exc).__name__}: {exc}"
        call.seconds = time.monotonic() - call.started
        return call

    def accepted_writes(self) -> list[Call]:
        return [c for c in self if c.write and c.accepted]
