"""POST /documents: the same extraction engine in a thread (app.extraction is shared: the
benchmark measures the service around it), then app/documents/importer.py's rows stored with
asyncpg in one transaction: the jurisdictions, the units and their aliases, then one statement
for the document, its tasks (ids drawn from the sequence so that clauses can name their
parent), milestones, obligations, indicators and the audit entry.

A new document answers 201, the same text again 200 (one statement); a new text under a known
文号 or title is a revision, which the baseline does not serve (501).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import anyio
import asyncpg
import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from app.errors import DomainError
from app.extraction import extract_text
from app.extraction.models import Extraction, Task, UnitMention
from app.extraction.reader import read_document
from app.extraction.text import fold
from bench.baseline import documents_sql as sql
from bench.baseline.common import (
    CONFLICT,
    FORBIDDEN,
    INVALID,
    NOT_SERVED,
    TOO_LARGE,
    UNSUPPORTED,
    Problem,
    bearer,
    ok,
    principal,
)

UPLOAD_LIMIT = 20_000_000  # Settings.max_document_bytes
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RAW_TYPES = ("text/plain", "text/html", DOCX, "application/octet-stream")
LEVEL_OF_PREFIX = {"省": "province", "市": "city", "县": "county", "区": "district"}
RANK = {"lead": 0, "responsible": 1, "cooperating": 2}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


def _read(data: bytes, filename: str | None) -> tuple[str, Extraction]:
    decoded = read_document(data, filename)
    return decoded.text, extract_text(decoded.text, fmt=decoded.format, encoding=decoded.encoding)


async def import_document(request: Request) -> Response:
    digest = bearer(request)
    if digest is not None:
        await principal(request, digest)
        raise Problem(FORBIDDEN, "Only the supervising office (admin token) may do this.")
    data, filename = await _upload(request)
    try:
        text, extraction = await anyio.to_thread.run_sync(_read, data, filename)
    except DomainError as exc:
        raise Problem((exc.status_code, exc.code, exc.title), exc.detail, **exc.extra) from None
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    pool = request.app.state.pool
    found = await pool.fetchrow(sql.LOOKUP, content_hash, document_key(extraction, content_hash))
    if found["id"] is not None:
        return ok(_summary(found, created=False))
    if found["known"] is not None:
        raise Problem(NOT_SERVED, "The baseline does not apply revisions of a known document.")
    stored = Stored(extraction, text, content_hash)
    async with pool.acquire() as conn, conn.transaction():
        try:
            row = await stored.save(conn)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "uq_document_key":
                raise
            raise Problem(CONFLICT, "Another request is importing this document right now; "
                          "send it again.") from None
    return ok(_summary(row, created=True), status=201,
              headers={"Location": f"/api/v1/documents/{row['id']}"})


async def _upload(request: Request) -> tuple[bytes, str | None]:
    declared = request.headers.get("content-length", "")
    too_large = Problem(TOO_LARGE, f"The body is larger than {UPLOAD_LIMIT} bytes; send a "
                        "smaller one.")
    if declared.isdigit() and int(declared) > UPLOAD_LIMIT:
        raise too_large
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise Problem(INVALID, 'Send the document as the multipart part named "file".')
            return await part.read(), part.filename
    if kind not in RAW_TYPES:
        raise Problem(UNSUPPORTED, f"Content-Type {kind or '(none)'} is not accepted. Send the "
                      f"document as the body with Content-Type {', '.join(RAW_TYPES)}, or as "
                      "multipart/form-data with a part named \"file\".")
    data = await request.body()
    if len(data) > UPLOAD_LIMIT:
        raise too_large
    return data, None


def _summary(row: Any, *, created: bool) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "doc_number": row["doc_number"],
            "version": row["version"], "tasks": row["tasks"], "clauses": row["clauses"],
            "obligations": row["obligations"], "warnings": row["warnings"],
            "created": created, "changes": None}


def document_key(extraction: Extraction, digest: str) -> str:
    meta = extraction.document
    if meta.doc_number:
        return f"no:{meta.doc_number}"[:256]
    if meta.title:
        place = meta.jurisdiction.name if meta.jurisdiction and meta.jurisdiction.name else ""
        return f"title:{place}:{meta.title}"[:256]
    return f"hash:{digest}"


def walk(tasks: list[Task]):
    for task in tasks:
        yield task
        yield from walk(task.subtasks)


def named_units(task: Task, implied: tuple[UnitMention, ...]) -> dict[str, UnitMention]:
    best: dict[str, UnitMention] = {}
    for m in [*task.units, *implied]:
        held = best.get(m.canonical)
        if held is None or RANK[m.role] < RANK[held.role]:
            best[m.canonical] = m
    return best


class Stored:
    """An extraction as the columns of the rows it becomes, in the order Duban inserts them
    (a task level, then each task's clauses), so that ids follow the same order."""

    def __init__(self, extraction: Extraction, text: str, content_hash: str) -> None:
        self.extraction, self.text, self.hash = extraction, text, content_hash
        self.tasks: list[list[Any]] = []  # one list per column, as unnest() reads them
        self.milestones: list[list[Any]] = []
        self.obligations: list[list[Any]] = []
        self.top = 0
        self._level(extraction.tasks, start=0, parent=None, implied=())
        self.groups = sorted({m.canonical for t in walk(extraction.tasks) for m in t.units if m.group})

    def _level(self, tasks: list[Task], *, start: int, parent: int | None,
               implied: tuple[UnitMention, ...]) -> int:
        ordinal = start
        mine = []
        for task in tasks:
            mine.append((ordinal, task))
            self._task(task, ordinal, parent, implied)
            ordinal += 1
        if parent is None:
            self.top = len(tasks)
        for own, task in mine:
            if task.subtasks:
                inherited = tuple(u for u in task.units if u.implied_by_rule)
                ordinal = self._level(task.subtasks, start=ordinal, parent=own, implied=inherited)
        return ordinal

    def _task(self, task: Task, ordinal: int, parent: int | None,
              implied: tuple[UnitMention, ...]) -> None:
        named = named_units(task, implied)
        detail = {"units_text": task.units_text,
                  "leaders": [leader.model_dump(exclude={"source"}) for leader in task.leaders],
                  "period": task.period.model_dump() if task.period else None,
                  "named": [[name, m.role] for name, m in named.items()]}
        self.tasks.append([
            ordinal, parent, task.number[:32], task.kind, task.title, task.text,
            _json(task.section_path), task.deadline, (task.deadline_text or "")[:64] or None,
            task.deadline_source, task.ongoing,
            _json(task.source.model_dump() if task.source else None), _json(detail)])
        for k, m in enumerate(task.milestones):
            self.milestones.append([
                ordinal, k, m.text, m.due, (m.due_text or "")[:64] or None, m.metric,
                m.target[:128], _cut(m.target_stretch, 128), m.optional,
                _json(m.source.model_dump() if m.source else None)])
        if not task.subtasks:
            self.obligations += [[ordinal, name, m.role, task.deadline, m.group]
                                 for name, m in named.items()]

    def units(self, own: int | None, parent: int | None) -> tuple[list[list[Any]], list[list[Any]]]:
        """importer.ensure_units: (unit columns, alias columns) for the units named."""
        jur = self.extraction.document.jurisdiction
        wanted: dict[str, dict] = {}
        for task in walk(self.extraction.tasks):
            for m in task.units:
                scope = parent if (jur and jur.parent and m.canonical.startswith(jur.parent)
                                   and not (jur.name and m.canonical.startswith(jur.name))) else own
                entry = wanted.setdefault(m.canonical, {
                    "name": m.canonical, "short_name": m.name, "jurisdiction_id": scope,
                    "is_group": m.group, "aliases": set()})
                entry["aliases"] |= {m.name, m.as_written}
        aliases = {(w["jurisdiction_id"] or 0, "".join(fold(a).split())): w["name"]
                   for w in wanted.values()
                   for a in {w["name"], w["short_name"], *w["aliases"]} if a}
        units = [[w["name"], w["short_name"], w["jurisdiction_id"], w["is_group"]]
                 for w in wanted.values()]
        return units, [[name, scope, alias] for (scope, alias), name in aliases.items()]

    async def save(self, conn: asyncpg.Connection) -> Any:
        meta = self.extraction.document
        jur = meta.jurisdiction
        own = parent = None
        if jur is not None and jur.name:
            level = LEVEL_OF_PREFIX.get(jur.parent[-1], "city") if jur.parent else None
            # A concurrent import may create the same place: read it again once it committed.
            for _ in range(3):
                row = await conn.fetchrow(sql.JURISDICTIONS, jur.parent, level, jur.name, jur.level)
                parent, own = row["parent"], row["own"]
                if own is not None and (parent is not None or not jur.parent):
                    break
        units, aliases = self.units(own, parent)
        for _ in range(3):
            rows = await conn.fetch(sql.UNITS, *_columns(units, 4), *_columns(aliases, 3),
                                    self.groups)
            ids = {r["name"]: r["id"] for r in rows}
            if len(ids) == len(units):
                break
        expanding = sorted(r["id"] for r in rows if r["expands"])
        clock = meta.issued_on or (date(meta.period.start, 1, 1) if meta.period
                                   else datetime.now(UTC).date())
        obligations = [[o, ids[name], role, deadline, group]
                       for o, name, role, deadline, group in self.obligations]
        describe = {"document": meta.model_dump(mode="json"),
                    "rules": [r.model_dump(mode="json") for r in self.extraction.rules],
                    "warnings": [w.model_dump(mode="json") for w in self.extraction.warnings]}
        after = {"title": meta.title, "hash": self.hash, "tasks": len(self.tasks),
                 "obligations": len(self.obligations)}
        row = await conn.fetchrow(
            sql.STORE, document_key(self.extraction, self.hash), self.hash, self.text,
            _cut(meta.title, 256), _cut(meta.issuer, 256), _cut(meta.doc_number, 128),
            meta.issued_on, meta.period.start if meta.period else None,
            meta.period.end if meta.period else None, own, meta.format, meta.encoding,
            _json(describe), *_columns(self.tasks, 13), *_columns(self.milestones, 10),
            *_columns(obligations, 5), clock, *_columns(self._indicators(), 10), _json(after),
            self.top, len(self.tasks) - self.top)
        if expanding:
            for group_id in expanding:  # a group whose members are known owes through them
                await conn.execute(sql.EXPAND, group_id)
            row = await conn.fetchrow(sql.SUMMARY, row["id"])
        return row

    def _indicators(self) -> list[list[Any]]:
        return [[k, i.number, i.name, i.unit, i.standard, i.baseline, i.baseline_year,
                 _json(i.targets), i.attribute,
                 _json(i.model_dump(mode="json", include={
                     "domain", "category", "sub_indicators", "standard_by_region", "source"}))]
                for k, i in enumerate(self.extraction.indicators)]


def _columns(rows: list[list[Any]], width: int) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width
