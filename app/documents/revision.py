"""A new text of a known document. Tasks are matched to the stored ones by number within
their parent; matched tasks take the new wording, deadline and milestones, new tasks are
added, and tasks gone from the text are withdrawn. A document obligation lasts while the text
names its unit; what the office decided and every report filed stay as they are."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.documents import importer
from app.documents.schemas import ChangeSummary
from app.errors import Conflict
from app.extraction.models import Extraction, UnitMention
from app.extraction.models import Task as Extracted
from app.models import (
    Assignment,
    AssignmentStatus,
    Document,
    Indicator,
    Milestone,
    Role,
    Task,
    TaskStatus,
    utcnow,
)
from app.tasks import obligations

_CONTENT = ("kind", "title", "text", "section_path", "deadline", "deadline_text",
            "deadline_source", "ongoing", "detail")
_MILESTONE = ("text", "due", "due_text", "metric", "target", "target_stretch", "optional")
_HELD = obligations.OPEN | {AssignmentStatus.group}  # what a unit loses when no longer named
_TASK_COLUMNS = (Task.id, Task.parent_id, Task.number, Task.ordinal, Task.status, Task.source,
                 *(getattr(Task, name) for name in _CONTENT))


@dataclass
class _Plan:
    matched: list[tuple[Any, Extracted, tuple[UnitMention, ...]]] = field(default_factory=list)
    fresh: list[tuple[int | None, list[Extracted], tuple[UnitMention, ...]]] = field(default_factory=list)


async def apply(session: AsyncSession, principal: Principal | None, document: Mapping[str, Any],
                extraction: Extraction, text: str, digest: str) -> ChangeSummary:
    """`document`: the stored row's id, version and content_hash."""
    document_id = document["id"]
    own, parent = await importer.jurisdiction_ids(session, extraction)
    # Claimed first: a concurrent revision of the same document waits on this row, then
    # finds the version moved and is told to retry instead of interleaving with this one.
    claimed = await session.execute(
        update(Document).where(Document.id == document_id, Document.version == document["version"])
        .values(content_hash=digest, text=text, version=document["version"] + 1, updated_at=utcnow(),
                **importer.document_values(extraction, own)))
    if not claimed.rowcount:
        raise Conflict("The document was revised by another request meanwhile; send it again.")
    unit_ids = await importer.ensure_units(session, extraction, own, parent)
    before = await _open_obligations(session, document_id)
    stored = (await session.execute(
        select(*_TASK_COLUMNS).where(Task.document_id == document_id, Task.status != TaskStatus.withdrawn)
        .order_by(Task.ordinal))).all()
    children: dict[int | None, list[Any]] = defaultdict(list)
    for row in stored:
        children[row.parent_id].append(row)
    plan = _Plan()
    _match(children, extraction.tasks, None, (), plan)
    changes = ChangeSummary()
    touched = await _reconcile_obligations(session, document_id, plan, children, unit_ids)
    touched |= await _replace_milestones(session, document_id, plan)
    changes.tasks_updated = await _update_tasks(session, document_id, plan, touched)
    matched = {row.id for row, _, _ in plan.matched}
    changes.tasks_withdrawn = await _withdraw(session, [row.id for row in stored if row.id not in matched])
    changes.tasks_added = await _add(session, document_id, plan, unit_ids)
    await session.execute(delete(Indicator).where(Indicator.document_id == document_id))
    await importer.add_indicators(session, document_id, extraction)
    await importer.expand_named_groups(session, extraction, unit_ids)
    await obligations.start_clocks(session, document_id, importer.clock_start(extraction))
    after = await _open_obligations(session, document_id)
    changes.obligations_added, changes.obligations_removed = len(after - before), len(before - after)
    await audit.record(session, principal, "document.revised", "document", document_id,
                       before={"version": document["version"], "hash": document["content_hash"]},
                       after={"version": document["version"] + 1, "hash": digest,
                              **changes.model_dump()})
    return changes


def _match(children: dict[int | None, list[Any]], tasks: list[Extracted], parent_id: int | None,
           implied: tuple[UnitMention, ...], plan: _Plan) -> None:
    pairs, fresh = pair(children.get(parent_id, []), tasks)
    if fresh:
        plan.fresh.append((parent_id, fresh, implied))
    for row, task in pairs:
        plan.matched.append((row, task, implied))
        inherited = tuple(u for u in task.units if u.implied_by_rule)
        _match(children, task.subtasks, row.id, inherited, plan)


def pair(rows: list[Any], tasks: list[Extracted]) -> tuple[list[tuple[Any, Extracted]], list[Extracted]]:
    """Stored siblings to new ones by number: first within the same section (a plan can
    restart its numbering in every section), then by number alone, in reading order."""
    keys: list[Callable[[str, list | None], Any]] = [
        lambda number, section: (number[:32], tuple(section or ())),
        lambda number, section: number[:32]]
    pairs: list[tuple[Any, Extracted]] = []
    left_rows, left_tasks = list(rows), list(tasks)
    for key in keys:
        waiting: dict[Any, deque] = defaultdict(deque)
        for row in left_rows:
            waiting[key(row.number, row.section_path)].append(row)
        unpaired = []
        for task in left_tasks:
            queue = waiting.get(key(task.number, task.section_path))
            if queue:
                pairs.append((queue.popleft(), task))
            else:
                unpaired.append(task)
        left_rows, left_tasks = [r for q in waiting.values() for r in q], unpaired
    return pairs, left_tasks


async def _open_obligations(session: AsyncSession, document_id: int) -> set[tuple[int, int]]:
    rows = await session.execute(
        select(Assignment.task_id, Assignment.unit_id).join(Task, Task.id == Assignment.task_id)
        .where(Task.document_id == document_id, Assignment.is_open.is_(True)))
    return {(r.task_id, r.unit_id) for r in rows}


async def _reconcile_obligations(session: AsyncSession, document_id: int, plan: _Plan,
                                 children: dict[int | None, list[Any]],
                                 unit_ids: dict[str, int]) -> set[int]:
    """Obligations of matched tasks follow the units the new text names; returns the tasks
    whose obligations changed."""
    held: dict[int, dict[int, Any]] = defaultdict(dict)
    for r in await session.execute(
            select(Assignment.id, Assignment.task_id, Assignment.unit_id, Assignment.role,
                   Assignment.origin, Assignment.status)
            .join(Task, Task.id == Assignment.task_id).where(Task.document_id == document_id)):
        held[r.task_id][r.unit_id] = r
    inserts, changed, removals, touched = [], [], [], set()
    for row, task, implied in plan.matched:
        # Obligations sit on the tasks without clauses, as at import; a closed task gains none.
        wanted = {} if task.subtasks else {
            unit_ids[name]: m for name, m in importer.named_units(task, implied).items()}
        named_before = set() if children.get(row.id) else \
            {name for name, _ in (row.detail or {}).get("named", [])}
        on_task = held.get(row.id, {})
        for unit_id, mention in wanted.items():
            found, role = on_task.get(unit_id), Role(mention.role)
            if row.status == TaskStatus.closed and (found is None or found.status not in _HELD):
                continue
            if found is None:
                inserts.append(obligations.row(row.id, unit_id, role, task_deadline=task.deadline,
                                               group=mention.group))
            elif found.origin != "document":
                continue
            elif found.status == AssignmentStatus.removed and mention.canonical not in named_before:
                # Named anew: an obligation this text once dropped comes back. One the office
                # removed while the text still named the unit stays removed.
                status = AssignmentStatus.group if mention.group else AssignmentStatus.assigned
                changed.append({"b_id": found.id, "b_role": role, "b_status": status,
                                "b_open": not mention.group})
            elif found.status in _HELD and found.role != role:
                changed.append({"b_id": found.id, "b_role": role, "b_status": found.status,
                                "b_open": found.status in obligations.OPEN})
            else:
                continue
            touched.add(row.id)
        gone = [f.id for unit_id, f in on_task.items()
                if unit_id not in wanted and f.origin == "document" and f.status in _HELD]
        if gone:
            removals += gone
            touched.add(row.id)
    await obligations.create(session, inserts)
    if changed:
        table = Assignment.__table__
        await session.execute(
            update(table).where(table.c.id == bindparam("b_id"))
            .values(role=bindparam("b_role"), status=bindparam("b_status"), is_open=bindparam("b_open"),
                    version=table.c.version + 1, updated_at=utcnow()), changed)
    if removals:
        await _remove(session, Assignment.id.in_(removals))
    return touched


async def _remove(session: AsyncSession, where: Any) -> None:
    await session.execute(
        update(Assignment).where(where, Assignment.status.in_(_HELD))
        .values(status=AssignmentStatus.removed, is_open=False, version=Assignment.version + 1,
                updated_at=utcnow()))


async def _replace_milestones(session: AsyncSession, document_id: int, plan: _Plan) -> set[int]:
    """Milestones whose wording changed are replaced; ones that only moved in the text keep
    their ids and get the new position. Returns the tasks whose milestones changed."""
    old: dict[int, list[Any]] = defaultdict(list)
    for m in await session.execute(
            select(Milestone.id, Milestone.task_id, Milestone.source,
                   *(getattr(Milestone, name) for name in _MILESTONE))
            .join(Task, Task.id == Milestone.task_id).where(Task.document_id == document_id)
            .order_by(Milestone.task_id, Milestone.ordinal)):
        old[m.task_id].append(m)
    stale, fresh, moved, touched = [], [], [], set()
    for row, task, _ in plan.matched:
        new = [importer.milestone_row(row.id, k, m) for k, m in enumerate(task.milestones)]
        had = old.get(row.id, [])
        if [tuple(getattr(m, f) for f in _MILESTONE) for m in had] != \
                [tuple(m[f] for f in _MILESTONE) for m in new]:
            stale += [m.id for m in had]
            fresh += new
            touched.add(row.id)
        else:
            moved += [{"b_id": m.id, "b_source": n["source"]} for m, n in zip(had, new, strict=True)
                      if m.source != n["source"]]
    if stale:
        await session.execute(delete(Milestone).where(Milestone.id.in_(stale)))
    if fresh:
        await session.execute(insert(Milestone), fresh)
    if moved:
        table = Milestone.__table__
        await session.execute(update(table).where(table.c.id == bindparam("b_id"))
                              .values(source=bindparam("b_source")), moved)
    return touched


async def _update_tasks(session: AsyncSession, document_id: int, plan: _Plan, touched: set[int]) -> int:
    """Matched tasks take the new text. A task whose only change is its position in the text
    keeps its version: nothing a unit relies on changed, so its ETag stays valid."""
    params, deadlines = [], []
    for row, task, implied in plan.matched:
        new = importer.task_row(document_id, task, row.ordinal, row.parent_id, implied)
        changed = row.id in touched or any(getattr(row, f) != new[f] for f in _CONTENT)
        if changed or row.source != new["source"]:
            params.append({"b_id": row.id, "b_bump": int(changed), "b_source": new["source"],
                           **{f"b_{f}": new[f] for f in _CONTENT}})
        if row.deadline != new["deadline"]:
            deadlines.append((row.id, new["deadline"]))
    if params:
        table = Task.__table__
        await session.execute(
            update(table).where(table.c.id == bindparam("b_id"))
            .values(version=table.c.version + bindparam("b_bump"), updated_at=utcnow(),
                    source=bindparam("b_source"), **{f: bindparam(f"b_{f}") for f in _CONTENT}),
            params)
    for task_id, deadline in deadlines:
        await obligations.set_task_deadline(session, task_id, deadline)
    return sum(p["b_bump"] for p in params)


async def _withdraw(session: AsyncSession, task_ids: list[int]) -> int:
    if not task_ids:
        return 0
    await session.execute(
        update(Task).where(Task.id.in_(task_ids))
        .values(status=TaskStatus.withdrawn, version=Task.version + 1, updated_at=utcnow()))
    # Group placeholders go too, so a later expansion of the group skips these tasks.
    await _remove(session, Assignment.task_id.in_(task_ids))
    return len(task_ids)


async def _add(session: AsyncSession, document_id: int, plan: _Plan, unit_ids: dict[str, int]) -> int:
    result = importer.Imported(document_id)
    last = (await session.execute(
        select(Task.ordinal).where(Task.document_id == document_id)
        .order_by(Task.ordinal.desc()).limit(1))).scalar()
    ordinal = 0 if last is None else last + 1
    for parent_id, tasks, implied in plan.fresh:
        ordinal = await importer.add_tasks(session, document_id, tasks, unit_ids, result,
                                           start=ordinal, parent_id=parent_id, implied=implied)
    return result.tasks
