"""Storing an extraction: the document, its units, tasks, milestones, indicators and the
obligations the document assigns. Bulk statements, one round trip per table.

Obligations sit on the tasks where work is reported: a task read as clauses (subtasks) gets
its obligations on the clauses, and the task itself rolls them up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.dbutil import dialect_insert, insert_rows, insert_rows_with_ids
from app.errors import Conflict
from app.extraction.models import Extraction, Task, UnitMention
from app.models import Assignment, Document, GroupMember, Indicator, Milestone, Role, utcnow
from app.models import Task as TaskRow
from app.tasks import obligations
from app.units import service as units

_LEVEL_OF_PREFIX = {"省": "province", "市": "city", "县": "county", "区": "district"}


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_key(extraction: Extraction, digest: str) -> str:
    """What makes a later text a revision of this document: its 文号, else its title within
    its jurisdiction, else (no title either) the text itself."""
    meta = extraction.document
    if meta.doc_number:
        return f"no:{meta.doc_number}"[:256]
    if meta.title:
        place = meta.jurisdiction.name if meta.jurisdiction and meta.jurisdiction.name else ""
        return f"title:{place}:{meta.title}"[:256]
    return f"hash:{digest}"


@dataclass
class Imported:
    document_id: int
    tasks: int = 0
    obligations: int = 0
    units: set[str] = field(default_factory=set)


async def jurisdiction_ids(session: AsyncSession, extraction: Extraction) -> tuple[int | None, int | None]:
    jur = extraction.document.jurisdiction
    if jur is None or not jur.name:
        return None, None
    parent_id = None
    if jur.parent:
        parent_level = _LEVEL_OF_PREFIX.get(jur.parent[-1], "city")
        parent_id = await units.ensure_jurisdiction(session, jur.parent, parent_level)
    own = await units.ensure_jurisdiction(session, jur.name, jur.level, parent_id)
    return own, parent_id


async def ensure_units(session: AsyncSession, extraction: Extraction, own: int | None,
                       parent: int | None) -> dict[str, int]:
    jur = extraction.document.jurisdiction
    wanted: dict[str, dict] = {}
    for task in walk(extraction.tasks):
        for m in task.units:
            scope = parent if (jur and jur.parent and m.canonical.startswith(jur.parent)
                               and not (jur.name and m.canonical.startswith(jur.name))) else own
            entry = wanted.setdefault(m.canonical, {"name": m.canonical, "short_name": m.name,
                                                    "jurisdiction_id": scope, "is_group": m.group,
                                                    "aliases": set()})
            entry["aliases"] |= {m.name, m.as_written}
    return await units.ensure_units(session, list(wanted.values()))


async def store(session: AsyncSession, principal: Principal | None, extraction: Extraction,
                text: str, digest: str) -> Imported:
    """A new document and everything in it. `principal` None is the system (seed import)."""
    own, parent = await jurisdiction_ids(session, extraction)
    meta = extraction.document
    key = document_key(extraction, digest)
    # Two imports of one new document race on its key: the loser inserts nothing and is
    # told to retry, when it will find the winner's document instead of failing with a 500.
    document_id = (await session.execute(
        dialect_insert(session, Document)
        .values(key=key, content_hash=digest, text=text, **document_values(extraction, own))
        .on_conflict_do_nothing(index_elements=["key"]).returning(Document.id))).scalar()
    if document_id is None:
        raise Conflict("Another request is importing this document right now; send it again.")
    unit_ids = await ensure_units(session, extraction, own, parent)
    result = Imported(document_id, units=set(unit_ids))
    # Its obligations start when the document does (序时进度 counts from it): written so, not
    # updated after (the update rewrote every row just inserted, with its five indexes).
    await add_tasks(session, document_id, extraction.tasks, unit_ids, result, start=0,
                    starts_on=clock_start(extraction))
    await add_indicators(session, document_id, extraction)
    await expand_named_groups(session, extraction, unit_ids)
    await audit.record(session, principal, "document.imported", "document", document_id,
                       after={"title": meta.title, "hash": digest, "tasks": result.tasks,
                              "obligations": result.obligations})
    return result


def document_values(extraction: Extraction, jurisdiction_id: int | None) -> dict:
    """The document row's columns that come from the extraction (a revision rewrites them)."""
    meta = extraction.document
    return {"title": _cut(meta.title, 256), "issuer": _cut(meta.issuer, 256),
            "doc_number": _cut(meta.doc_number, 128),
            "issued_on": meta.issued_on,
            "period_start": meta.period.start if meta.period else None,
            "period_end": meta.period.end if meta.period else None,
            "jurisdiction_id": jurisdiction_id, "format": meta.format, "encoding": meta.encoding,
            "meta": describe(extraction)}


async def expand_named_groups(session: AsyncSession, extraction: Extraction,
                              unit_ids: dict[str, int]) -> None:
    """A group named here whose members are already known owes through them at once."""
    groups = {unit_ids[m.canonical] for task in walk(extraction.tasks) for m in task.units if m.group}
    if not groups:
        return
    known = (await session.execute(select(GroupMember.group_id).distinct()
                                   .where(GroupMember.group_id.in_(groups)))).scalars()
    for group_id in sorted(known):
        # No member "joins" on an import: an obligation the office removed stays removed.
        await obligations.expand_group(session, group_id, joined=())


def clock_start(extraction: Extraction) -> date:
    """When a document's obligations start: its issue date, else its plan's first day, else today."""
    meta = extraction.document
    if meta.issued_on:
        return meta.issued_on
    return date(meta.period.start, 1, 1) if meta.period else utcnow().date()


def describe(extraction: Extraction) -> dict:
    return {"document": extraction.document.model_dump(mode="json"),
            "rules": [r.model_dump(mode="json") for r in extraction.rules],
            "warnings": [w.model_dump(mode="json") for w in extraction.warnings]}


async def add_tasks(session: AsyncSession, document_id: int, tasks: list[Task],
                    unit_ids: dict[str, int], result: Imported, *, start: int,
                    parent_id: int | None = None, implied: tuple[UnitMention, ...] = (),
                    starts_on: date | None = None) -> int:
    """Insert `tasks` (then their subtasks) from ordinal `start`; returns the next ordinal.
    `implied`: units a document-wide rule put on the parent, owed on each of its clauses;
    `starts_on`: when their obligations start (None: when they are made)."""
    rows, ordinal = [], start
    for task in tasks:
        rows.append(task_row(document_id, task, ordinal, parent_id, implied))
        ordinal += 1
    if not rows:
        return ordinal
    ids = await insert_rows_with_ids(session, TaskRow.__table__, rows)
    result.tasks += len(ids)
    milestones, assignments = [], {}
    for task_id, task in zip(ids, tasks, strict=True):
        milestones += [milestone_row(task_id, k, m) for k, m in enumerate(task.milestones)]
        if not task.subtasks:
            # Two names the registry knows as one unit owe once, as first named.
            for row in obligation_rows(task_id, task, unit_ids, implied, starts_on):
                assignments.setdefault((task_id, row["unit_id"]), row)
    # The tasks are new: nothing here can meet an existing row.
    await insert_rows(session, Milestone.__table__, milestones)
    await insert_rows(session, Assignment.__table__, list(assignments.values()))
    result.obligations += len(assignments)
    for task_id, task in zip(ids, tasks, strict=True):
        if task.subtasks:
            inherited = tuple(u for u in task.units if u.implied_by_rule)
            ordinal = await add_tasks(session, document_id, task.subtasks, unit_ids, result,
                                      start=ordinal, parent_id=task_id, implied=inherited,
                                      starts_on=starts_on)
    return ordinal


def task_row(document_id: int, task: Task, ordinal: int, parent_id: int | None,
             implied: tuple[UnitMention, ...] = ()) -> dict:
    # "named" keeps what this text says of the units, so a revision can tell a unit the
    # document names anew from one the office took off while the document still named it.
    named = [[name, m.role] for name, m in named_units(task, implied).items()]
    return {
        "document_id": document_id, "parent_id": parent_id, "ordinal": ordinal,
        "number": task.number[:32], "kind": task.kind, "title": task.title, "text": task.text,
        "section_path": task.section_path, "deadline": task.deadline,
        "deadline_text": (task.deadline_text or "")[:64] or None,
        "deadline_source": task.deadline_source, "ongoing": task.ongoing,
        "source": task.source.model_dump() if task.source else None,
        "detail": {"units_text": task.units_text,
                   "leaders": [leader.model_dump(exclude={"source"}) for leader in task.leaders],
                   "period": task.period.model_dump() if task.period else None,
                   "named": named},
    }


def milestone_row(task_id: int, ordinal: int, m) -> dict:
    return {"task_id": task_id, "ordinal": ordinal, "text": m.text, "due": m.due,
            "due_text": (m.due_text or "")[:64] or None, "metric": m.metric, "target": m.target[:128],
            "target_stretch": _cut(m.target_stretch, 128), "optional": m.optional,
            "source": m.source.model_dump() if m.source else None}


def obligation_rows(task_id: int, task: Task, unit_ids: dict[str, int],
                    implied: tuple[UnitMention, ...] = (), starts_on: date | None = None) -> list[dict]:
    """One obligation per unit named on the task, in its strongest role."""
    return [obligations.row(task_id, unit_ids[name], Role(m.role), task_deadline=task.deadline,
                            group=m.group, starts_on=starts_on)
            for name, m in named_units(task, implied).items()]


def named_units(task: Task, implied: tuple[UnitMention, ...] = ()) -> dict[str, UnitMention]:
    """Each unit the task names (or a rule implies), by canonical name, in its strongest role."""
    best: dict[str, UnitMention] = {}
    rank = obligations.ROLE_RANK  # keyed by StrEnums, which a role's plain string finds
    for m in [*task.units, *implied]:
        held = best.get(m.canonical)
        if held is None or rank[m.role] < rank[held.role]:
            best[m.canonical] = m
    return best


async def add_indicators(session: AsyncSession, document_id: int, extraction: Extraction) -> None:
    rows = [{"document_id": document_id, "ordinal": k, "number": i.number, "name": i.name,
             "unit": i.unit, "standard": i.standard, "baseline": i.baseline,
             "baseline_year": i.baseline_year, "targets": i.targets, "attribute": i.attribute,
             "detail": i.model_dump(mode="json", include={"domain", "category", "sub_indicators",
                                                         "standard_by_region", "source"})}
            for k, i in enumerate(extraction.indicators)]
    if rows:
        await session.execute(insert(Indicator), rows)


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


def walk(tasks: list[Task]):
    for task in tasks:
        yield task
        yield from walk(task.subtasks)
