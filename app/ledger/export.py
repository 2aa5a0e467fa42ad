"""The 台账 export: one row per obligation, as XLSX or CSV, in bounded memory.

Rows come from one server-side streaming query in partitions; each partition costs one more
query (the lead units of its tasks). An obligation's values are those GET /dispatch/{period}/
assignments answers: the same scope (app/dispatch/window.py), the same SQL facts and the same
light (app/dispatch/lights.py). The XLSX is written row by row to a temporary file
(rust_xlsxwriter, app/ledger/xlsx.py) and then streamed; the CSV is streamed as it is read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from anyio import to_thread
from sqlalchemy import case, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings
from app.db import Database
from app.dispatch import lights, window
from app.dispatch.facts import COUNTS, A, Facts
from app.dispatch.summary import units_in_play
from app.errors import NotFound
from app.ledger.schemas import COLUMNS, HEADERS, LIGHT_LABELS, ROLE_LABELS, STATUS_LABELS
from app.ledger.xlsx import BookWriter
from app.models import AssignmentStatus, Document, Role, Task, Unit
from app.tasks import obligations

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
_BATCH = 2000
_CHUNK = 256 * 1024
_NUMBERS = frozenset(i for i, h in enumerate(HEADERS) if h in ("序号", "进度", "逾期天数", "任务ID",
                                                               "责任ID", "版本"))
_ROLE_ORDER = case({role.value: rank for role, rank in obligations.ROLE_RANK.items()}, value=A.role)


@dataclass(frozen=True, slots=True)
class Download:
    chunks: AsyncIterator[bytes]
    filename: str
    media_type: str


@dataclass(frozen=True, slots=True)
class Ledger:
    facts: Facts
    where: list[Any]

    @property
    def period(self) -> str:
        return self.facts.scope.window.period


async def prepare(session: AsyncSession, principal: Principal, period: str, *, unit: str | None,
                  jurisdiction: str | None, document: int | None, as_of: date | None,
                  today: date, settings: Settings) -> Ledger:
    """Everything that can fail is decided here, before the first byte is sent."""
    scope = await window.resolve(session, period, as_of, today, settings)
    where = [COUNTS, *await units_in_play(session, principal, unit, jurisdiction)]
    if document is not None:
        if (await session.execute(select(Document.id).where(Document.id == document))).first() is None:
            raise NotFound(f"No document {document}.")
        where.append(Task.document_id == document)
    return Ledger(Facts(scope, session.bind.dialect.name), where)


async def download(session: AsyncSession, principal: Principal, period: str, fmt: str, *,
                   unit: str | None, jurisdiction: str | None, document: int | None,
                   as_of: date | None, today: date, settings: Settings, db: Database) -> Download:
    ledger = await prepare(session, principal, period, unit=unit, jurisdiction=jurisdiction,
                           document=document, as_of=as_of, today=today, settings=settings)
    return await xlsx(db, ledger) if fmt == "xlsx" else csv_download(db, ledger)


def statement(ledger: Ledger) -> Any:
    f = ledger.facts
    current = f.scope.current
    owes = f.expected(current) if current is not None else literal(False)
    summaries = [report.summary.label(f"summary_{i}") for i, (_, report) in enumerate(f.reports)]
    query = (select(A.id, A.task_id, A.role, A.status, A.is_open, A.effective_deadline,
                    A.starts_on, A.created_at, A.closed_at, A.progress, A.version,
                    Task.number, Task.title, Document.title.label("document"),
                    Document.doc_number, Unit.short_name, owes.label("owes"), *summaries)
             .select_from(A))
    return (f.with_reports(query)
            .join(Task, Task.id == A.task_id).join(Document, Document.id == Task.document_id)
            .join(Unit, Unit.id == A.unit_id)
            .where(*ledger.where)
            .order_by(Task.document_id, Task.ordinal, _ROLE_ORDER, A.unit_id))


async def partitions(session: AsyncSession, ledger: Ledger) -> AsyncIterator[list[tuple]]:
    """The ledger's rows as cell tuples, `_BATCH` at a time, numbered from 1."""
    result = await session.stream(statement(ledger).execution_options(yield_per=_BATCH))
    judge = Judge.of(ledger.facts)
    number = 0
    async for part in result.partitions():
        leads = await _leads(session, {row.task_id for row in part})
        rows = []
        for row in part:
            number += 1
            rows.append(cells(row, leads.get(row.task_id, ""), number, judge))
        yield rows


async def _leads(session: AsyncSession, task_ids: set[int]) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for task_id, name in (await session.execute(
            select(A.task_id, Unit.short_name).join(Unit, Unit.id == A.unit_id)
            .where(A.task_id.in_(task_ids), A.role == Role.lead,
                   A.status != AssignmentStatus.removed)
            .order_by(A.task_id, A.unit_id))).all():
        found.setdefault(task_id, []).append(name)
    return {task_id: "、".join(names) for task_id, names in found.items()}


@dataclass(frozen=True, slots=True)
class Judge:
    """What every row is judged by, worked out once per export."""

    as_of: date
    tz: ZoneInfo
    due: date | None  # the current month's report due date
    yellow_days: int
    lag_margin: int

    @classmethod
    def of(cls, f: Facts) -> Judge:
        s, current = f.scope, f.scope.current
        return cls(s.as_of, s.tz, current.due_date if current else None, s.yellow_days,
                   s.lag_margin)


def cells(row: Any, leads: str, number: int, j: Judge) -> tuple:
    """One ledger row; the rules are those of app/dispatch/listing.py's obligation view."""
    (ident, task_id, role, status, is_open, deadline, starts_on, created_at, _closed_at, progress,
     version, task_number, title, document, doc_number, unit, owes, *filed) = row
    is_open = bool(is_open)
    summary = next((text for text in reversed(filed) if text is not None), "")
    missing = bool(owes) and bool(filed) and filed[-1] is None
    lagging = is_open and lights.is_lagging(progress, j.as_of,
                                            starts_on or created_at.astimezone(j.tz).date(),
                                            deadline, j.lag_margin)
    overdue = lights.is_overdue(is_open, deadline, j.as_of)
    light = lights.light(is_open=is_open, deadline=deadline, as_of=j.as_of,
                         yellow_days=j.yellow_days, lagging=lagging,
                         late_report=lights.report_late(missing, j.as_of, j.due))
    return (number, document or doc_number or "", task_number, title, leads, unit,
            ROLE_LABELS[role], deadline.isoformat() if deadline else "", summary, progress,
            STATUS_LABELS[status], obligations.days_overdue(deadline, j.as_of) if overdue else 0,
            LIGHT_LABELS[light], task_id, ident, version)


def filename(ledger: Ledger, suffix: str) -> str:
    return f"台账-{ledger.period}.{suffix}"


# --- XLSX ------------------------------------------------------------------------------------


async def xlsx(db: Database, ledger: Ledger) -> Download:
    """Built before the answer starts, so that a failure is an error response, not a cut file."""
    writer = BookWriter(COLUMNS, _NUMBERS)
    try:
        async with db.snapshot() as session:
            async for rows in partitions(session, ledger):
                await writer.send(rows)
        await writer.finish()
        handle = open(writer.path, "rb")  # noqa: SIM115 (closed by _read_out)
    except BaseException:
        writer.abort()
        raise
    writer.discard()  # the open handle keeps the file readable until it is closed
    return Download(_read_out(handle), filename(ledger, "xlsx"), XLSX_TYPE)


async def _read_out(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await to_thread.run_sync(handle.read, _CHUNK):
            yield chunk
    finally:
        handle.close()


# --- CSV -------------------------------------------------------------------------------------


def csv_download(db: Database, ledger: Ledger) -> Download:
    return Download(_csv_chunks(db, ledger), filename(ledger, "csv"), CSV_TYPE)


async def _csv_chunks(db: Database, ledger: Ledger) -> AsyncIterator[bytes]:
    # The request's session has ended when the body is sent: the rows are read in their own.
    yield ("\ufeff" + _csv_text([HEADERS])).encode("utf-8")
    async with db.snapshot() as session:
        async for rows in partitions(session, ledger):
            yield _csv_text(rows).encode("utf-8")


def _csv_text(rows: list[tuple]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()
