"""Previewing, importing and reading documents: extraction runs off the event loop;
re-importing the same text changes nothing; a new text of a known document is a revision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from app.auth.principal import Principal
from app.documents import importer, revision
from app.documents.schemas import (
    ChangeSummary,
    DocumentCounts,
    DocumentDetail,
    DocumentItem,
    ImportSummary,
    IndicatorPublic,
    JurisdictionRef,
    PeriodRef,
)
from app.errors import NotFound
from app.extraction import extract_text
from app.extraction.models import Extraction, Rule
from app.extraction.models import Warning as ExtractionWarning
from app.extraction.reader import read_document
from app.models import (
    Assignment,
    Document,
    Indicator,
    Jurisdiction,
    Milestone,
    Task,
    TaskStatus,
)
from app.pagination import Page, decode, next_cursor
from app.query import Query, run_one
from app.tasks import obligations
from app.units import service as units

T = TypeVar("T")
_IN_FORCE = Task.status != TaskStatus.withdrawn
_OBLIGATION = obligations.OWED
_BASE = (Document.id, Document.title, Document.issuer, Document.doc_number, Document.issued_on,
         Document.period_start, Document.period_end, Document.version, Document.created_at,
         Jurisdiction.id.label("jurisdiction_id"), Jurisdiction.name.label("jurisdiction_name"),
         Jurisdiction.level.label("jurisdiction_level"))
# An import's own statements, built once: a burst of imports spent a tenth of its time on the
# service building and compiling them.
_SAME_TEXT = Query(select(Document.id).where(Document.content_hash == bindparam("digest")))
_BY_KEY = Query(select(Document.id, Document.version, Document.content_hash)
                .where(Document.key == bindparam("key")))


def _read(data: bytes, filename: str | None) -> tuple[str, Extraction]:
    decoded = read_document(data, filename)
    return decoded.text, extract_text(decoded.text, fmt=decoded.format, encoding=decoded.encoding)


_EXTRACTING: list[CapacityLimiter] = []


async def extracted(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` off the event loop, one at a time: extraction holds the GIL, so two
    threads at it take no less time than one, and sixteen (a burst of imports) spend theirs
    handing it over."""
    if not _EXTRACTING:
        _EXTRACTING.append(CapacityLimiter(1))  # made in the running loop, as anyio wants
    return await to_thread.run_sync(function, *args, limiter=_EXTRACTING[0])


async def preview(data: bytes, filename: str | None) -> Extraction:
    return (await extracted(_read, data, filename))[1]


async def import_document(session: AsyncSession, principal: Principal | None, data: bytes,
                          filename: str | None) -> ImportSummary:
    """The same text again changes nothing; a new text under a known key (文号, else title
    within the jurisdiction) is a revision of that document."""
    text, extraction = await extracted(_read, data, filename)
    return await import_extraction(session, principal, text, extraction)


async def import_extraction(session: AsyncSession, principal: Principal | None, text: str,
                            extraction: Extraction) -> ImportSummary:
    """Store an extraction of `text`: unchanged, a revision of a known document, or new."""
    digest = importer.content_hash(text)
    same = await run_one(session, _SAME_TEXT, digest=digest)
    if same is not None:
        return await summary(session, same["id"], created=False)
    known = await run_one(session, _BY_KEY, key=importer.document_key(extraction, digest))
    if known is not None:
        changes = await revision.apply(session, principal, known, extraction, text, digest)
        return await summary(session, known["id"], created=False, changes=changes)
    stored = await importer.store(session, principal, extraction, text, digest)
    return await summary(session, stored.document_id, created=True)


def _count(*where: ColumnElement[bool]) -> ScalarSelect[int]:
    return select(func.count()).where(*where).scalar_subquery()


def _task_counts(document_id: int | ColumnElement[int]) -> tuple[ScalarSelect[int], ScalarSelect[int]]:
    return (_count(Task.document_id == document_id, Task.parent_id.is_(None), _IN_FORCE),
            _count(Task.document_id == document_id, Task.parent_id.is_not(None), _IN_FORCE))


def _summary() -> Query:
    document_id = bindparam("document_id")
    tasks, clauses = _task_counts(document_id)
    held = select(func.count()).select_from(Assignment).join(Task, Task.id == Assignment.task_id) \
        .where(Task.document_id == document_id, _OBLIGATION).scalar_subquery()
    return Query(select(Document.id, Document.title, Document.doc_number, Document.version,
                        Document.meta, tasks.label("tasks"), clauses.label("clauses"),
                        held.label("obligations"))
                 .where(Document.id == document_id))


_SUMMARY = _summary()


async def summary(session: AsyncSession, document_id: int, *, created: bool,
                  changes: ChangeSummary | None = None) -> ImportSummary:
    row = await run_one(session, _SUMMARY, document_id=document_id)
    assert row is not None  # the caller has just found or written it, in this transaction
    return ImportSummary(id=row["id"], title=row["title"], doc_number=row["doc_number"],
                         version=row["version"], tasks=row["tasks"], clauses=row["clauses"],
                         obligations=row["obligations"], created=created, changes=changes,
                         warnings=(row["meta"] or {}).get("warnings", []))


async def listing(session: AsyncSession, *, jurisdiction: str | None, q: str | None, limit: int,
                  cursor: str | None) -> Page[DocumentItem]:
    tasks = _count(Task.document_id == Document.id, Task.parent_id.is_(None), _IN_FORCE)
    query = (select(*_BASE, tasks.label("tasks"))
             .outerjoin(Jurisdiction, Jurisdiction.id == Document.jurisdiction_id)
             .order_by(Document.id).limit(limit + 1))
    if jurisdiction:
        query = query.where(Document.jurisdiction_id == await units.jurisdiction_id(session, jurisdiction))
    if q:
        query = query.where(Document.title.contains(q.strip(), autoescape=True))
    after = decode(cursor, 1)
    if after is not None:
        query = query.where(Document.id > int(after[0]))
    rows = (await session.execute(query)).all()
    return Page[DocumentItem](items=[DocumentItem(**_base(r), tasks=r.tasks) for r in rows[:limit]],
                              next_cursor=next_cursor(rows, limit, lambda r: [r.id]))


async def detail(session: AsyncSession, document_id: int) -> DocumentDetail:
    tasks, clauses = _task_counts(Document.id)
    counts = (
        tasks.label("tasks"), clauses.label("clauses"),
        _count(Task.document_id == Document.id, Task.status == TaskStatus.withdrawn).label("withdrawn"),
        select(func.count()).select_from(Assignment).join(Task, Task.id == Assignment.task_id)
        .where(Task.document_id == Document.id, _OBLIGATION).scalar_subquery().label("obligations"),
        select(func.count()).select_from(Milestone).join(Task, Task.id == Milestone.task_id)
        .where(Task.document_id == Document.id, _IN_FORCE).scalar_subquery().label("milestones"))
    row = (await session.execute(
        select(*_BASE, Document.format, Document.encoding, Document.content_hash,
               Document.updated_at, Document.meta, *counts)
        .outerjoin(Jurisdiction, Jurisdiction.id == Document.jurisdiction_id)
        .where(Document.id == document_id))).first()
    if row is None:
        raise NotFound(f"No document {document_id}.")
    indicators = (await session.execute(
        select(Indicator.id, Indicator.number, Indicator.name, Indicator.unit, Indicator.standard,
               Indicator.baseline, Indicator.baseline_year, Indicator.targets, Indicator.attribute,
               Indicator.detail)
        .where(Indicator.document_id == document_id).order_by(Indicator.ordinal))).all()
    meta = row.meta or {}
    return DocumentDetail(
        **_base(row), format=row.format, encoding=row.encoding, content_hash=row.content_hash,
        updated_at=row.updated_at,
        rules=[Rule.model_validate(r) for r in meta.get("rules", [])],
        warnings=[ExtractionWarning.model_validate(w) for w in meta.get("warnings", [])],
        indicators=[IndicatorPublic(
            id=i.id, number=i.number, name=i.name, unit=i.unit, standard=i.standard,
            baseline=i.baseline, baseline_year=i.baseline_year, targets=i.targets or {},
            attribute=i.attribute, **(i.detail or {})) for i in indicators],
        counts=DocumentCounts(tasks=row.tasks, clauses=row.clauses, withdrawn=row.withdrawn,
                              obligations=row.obligations, milestones=row.milestones))


def _base(row) -> dict:
    return {"id": row.id, "title": row.title, "issuer": row.issuer, "doc_number": row.doc_number,
            "issued_on": row.issued_on, "version": row.version, "created_at": row.created_at,
            "period": PeriodRef(start=row.period_start, end=row.period_end)
            if row.period_start is not None and row.period_end is not None else None,
            "jurisdiction": JurisdictionRef(id=row.jurisdiction_id, name=row.jurisdiction_name,
                                            level=row.jurisdiction_level)
            if row.jurisdiction_id is not None else None}
