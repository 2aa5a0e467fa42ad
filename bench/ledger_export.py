"""Time the 台账 export of a generated ledger and measure the serving process's peak memory.

    python bench/ledger_export.py [ROWS]          (default 100000)

Generates ROWS obligations with bulk inserts in a fresh SQLite database (or in the PostgreSQL
database DATABASE_URL names, which must be migrated and empty), then, for XLSX and for CSV, starts
a fresh uvicorn worker on that database (127.0.0.1, a free port), downloads the export over HTTP,
reading it as a stream, and prints: rows, bytes, seconds, the worker's resident memory after start
and its peak (VmHWM) by the end of the download. The export is measured in the process that
serves it: an in-process client (httpx over ASGI) holds the whole body, and would count it.
Targets: 100k rows in under 10 s, peak memory under 200 MB.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from alembic import command
from alembic.config import Config
from sqlalchemy import insert, literal, select

from app.config import Settings
from app.db import Database
from app.models import Assignment, AssignmentStatus, Document, Report, Role, Task, Unit

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-admin-token-0123456789"
PERIOD = "2025-06"
UNITS, PER_TASK, BATCH = 1000, 20, 5000
SUMMARY = "本月完成项目前期工作，正在推进施工招标，预计下月开工建设。"
_STATUSES = [AssignmentStatus.in_progress] * 6 + [AssignmentStatus.accepted,
                                                  AssignmentStatus.assigned, AssignmentStatus.closed]


async def generate(session, rows: int) -> None:
    """`rows` obligations on rows/20 tasks of one document, 20 units a task; two in three of
    them reported for 2025-06. Bulk statements only: the API is not what is measured here."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    document = (await session.execute(insert(Document).values(
        key="bench:ledger", title="台账基准测试文件", content_hash="0" * 64, text="",
        format="table").returning(Document.id))).scalar_one()
    await session.execute(insert(Unit.__table__), [{"name": f"基准市第{i:04d}局", "short_name": f"市第{i:04d}局"}
                                         for i in range(UNITS)])
    unit_ids = list((await session.execute(
        select(Unit.id).where(Unit.name.like("基准市第%")).order_by(Unit.name))).scalars())
    tasks = -(-rows // PER_TASK)
    for at in range(0, tasks, BATCH):
        await session.execute(insert(Task.__table__), [
            {"document_id": document, "ordinal": t, "number": str(t + 1),
             "title": f"第{t + 1}项重点任务：推进生态环境保护和绿色低碳发展",
             "text": "推进生态环境保护和绿色低碳发展。", "deadline": _deadline(t)}
            for t in range(at, min(at + BATCH, tasks))])
    task_ids = list((await session.execute(
        select(Task.id).where(Task.document_id == document).order_by(Task.ordinal))).scalars())
    for at in range(0, rows, BATCH):
        await session.execute(insert(Assignment.__table__), [_obligation(n, task_ids, unit_ids, start)
                                                   for n in range(at, min(at + BATCH, rows))])
    reported = (select(Assignment.id, Assignment.task_id, Assignment.unit_id, literal(PERIOD),
                       Assignment.progress, literal(SUMMARY))
                .join(Task, Task.id == Assignment.task_id)
                .where(Task.document_id == document, Assignment.progress.is_not(None)))
    await session.execute(insert(Report).from_select(
        ["assignment_id", "task_id", "unit_id", "period", "progress", "summary"], reported))


def _deadline(task: int) -> date:
    return date(2025, 1, 1) + timedelta(days=task % 700)


def _obligation(n: int, task_ids: list[int], unit_ids: list[int], start: datetime) -> dict:
    t, k = divmod(n, PER_TASK)
    status = _STATUSES[n % len(_STATUSES)]
    return {"task_id": task_ids[t], "unit_id": unit_ids[(t * PER_TASK + k) % UNITS],
            "role": Role.lead if k == 0 else Role.responsible if k < 5 else Role.cooperating,
            "origin": "document", "task_deadline": _deadline(t), "effective_deadline": _deadline(t),
            "status": status, "is_open": status is not AssignmentStatus.closed,
            "starts_on": start.date(), "progress": (n * 7) % 101 if n % 3 else None,
            "last_period": PERIOD if n % 3 else None, "created_at": start,
            "closed_at": start + timedelta(days=100) if status is AssignmentStatus.closed else None}


def _memory_mb(pid: int, field: str) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith(field))
    return round(int(line.split()[1]) / 1024, 1)


async def export(url: str, suffix: str) -> dict:
    """One export from a worker of its own: started, measured, stopped (only this process)."""
    with socket.socket() as probe:  # a port free on 127.0.0.1 now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": url, "DUBAN_ADMIN_TOKEN": TOKEN, "RUN_WORKER": "false",
           "IMPORT_SEED": "false"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log",
         "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for _ in range(300):
                try:
                    if (await client.get("/api/v1/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            started = _memory_mb(worker.pid, "VmRSS:")
            began, size = time.perf_counter(), 0
            async with client.stream("GET", f"/api/v1/dispatch/{PERIOD}/ledger.{suffix}",
                                     params={"as_of": "2025-06-30"},
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                assert response.status_code == 200, await response.aread()
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
            seconds = time.perf_counter() - began
            return {"format": suffix, "bytes": size, "seconds": round(seconds, 2),
                    "rss_after_start_mb": started, "peak_rss_mb": _memory_mb(worker.pid, "VmHWM:")}
    finally:
        worker.terminate()
        worker.wait(30)


async def main(rows: int) -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["url"] = url
        await asyncio.to_thread(command.upgrade, config, "head")
    settings = Settings(database_url=url, duban_admin_token=TOKEN, import_seed=False,
                        run_worker=False)
    database = Database.from_settings(settings)
    began = time.perf_counter()
    async with database.session() as session:
        await generate(session, rows)
        await session.commit()
    await database.dispose()
    print(f"generated {rows} obligations in {time.perf_counter() - began:.1f} s ({url.split(':')[0]})")
    for suffix in ("xlsx", "csv"):
        print({"rows": rows, **await export(url, suffix)})


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
