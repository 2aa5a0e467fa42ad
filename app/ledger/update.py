"""Re-importing an edited 台账 as an update, keyed by 责任ID (the obligation) and 任务ID.

Three edits are recognised: 完成时限 (the obligation's own deadline, as PATCH sets it),
责任单位 (the obligation moves to the named unit, as an approved responsibility change moves
it) and 本期进展/进度 (the report for `period`, filed or corrected as a unit files it). Each is
made by the workflow's own service, so its rules, audit entries and events hold. A row edited
on an older 版本 than the stored one is a conflict, and is left alone.

Every row is tried in a savepoint, so that one pass finds every row the rules refuse: the
preview then rolls all of it back; an apply keeps it only when no row failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from anyio import to_thread
from pydantic import ValidationError
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.errors import DomainError, InvalidInput, NotFound, PreconditionFailed, UnknownUnit
from app.http import etag
from app.ledger.schemas import (
    FIELD_COLUMNS,
    LedgerApplied,
    LedgerChange,
    LedgerConflict,
    LedgerError,
    LedgerPreview,
)
from app.ledger.sheets import LedgerRow, day, ledger_rows, text_of, whole
from app.models import Assignment, AssignmentStatus, Document, Report, Task, Unit
from app.units import service as units
from app.workflow import assignments, reports
from app.workflow import transitions as tr
from app.workflow.schemas import AssignmentUpdate, ReportCreate

_IDS_PER_QUERY = 1000  # well under SQLite's limit on bound parameters


@dataclass(frozen=True, slots=True)
class Context:
    principal: Principal
    period: str
    today: date
    due_day: int


@dataclass(slots=True)
class Edit:
    """One row's recognised edits, {field: (before, after)}, and what applying them needs."""

    row: int
    assignment_id: int
    task_id: int
    unit_id: int
    version: int
    changes: dict[str, tuple[Any, Any]]
    report_summary: str = ""
    report_progress: int = 0
    new_unit_id: int | None = None
    new_assignment_id: int | None = None


@dataclass
class Plan:
    rows: int = 0
    edits: list[Edit] = field(default_factory=list)
    errors: list[LedgerError] = field(default_factory=list)
    conflicts: list[LedgerConflict] = field(default_factory=list)

    def error(self, row: int, message: str, suggestions: list[str] | None = None) -> None:
        self.errors.append(LedgerError(row=row, message=message, suggestions=suggestions or []))

    def conflict(self, edit: Edit, current: int) -> None:
        self.conflicts.append(LedgerConflict(
            row=edit.row, assignment_id=edit.assignment_id, task_id=edit.task_id,
            version=edit.version, current_version=current, fields=list(edit.changes),
            message=f"Obligation {edit.assignment_id} changed after this sheet was exported "
                    f"(版本 {edit.version}, now {current}): export the ledger again and redo "
                    "this row's edits on it."))

    def answer(self) -> dict[str, Any]:
        changes = [LedgerChange(row=e.row, assignment_id=e.assignment_id, task_id=e.task_id,
                                field=name, column=FIELD_COLUMNS[name], before=before, after=after)
                   for e in self.edits for name, (before, after) in e.changes.items()]
        return {"rows": self.rows, "changes": changes,
                "errors": sorted(self.errors, key=lambda e: e.row),
                "conflicts": sorted(self.conflicts, key=lambda c: c.row)}


async def preview(session: AsyncSession, context: Context, data: bytes,
                  filename: str | None) -> LedgerPreview:
    """What an apply would change, and every row it would refuse. Changes nothing."""
    plan = await _plan(session, data, filename, context.period)
    outer = await session.begin_nested()
    try:
        await _try(session, context, plan)
    finally:
        await outer.rollback()
    return LedgerPreview(**plan.answer())


async def apply(session: AsyncSession, context: Context, data: bytes,
                filename: str | None) -> LedgerApplied:
    """Every edit in one transaction, or none when any row has an error."""
    plan = await _plan(session, data, filename, context.period)
    await _try(session, context, plan)
    if plan.errors:
        listed = [{"field": f"row {e.row}", "type": "ledger_row", **e.model_dump()}
                  for e in sorted(plan.errors, key=lambda e: e.row)]
        raise InvalidInput(f"{len(listed)} row(s) of the sheet cannot be applied, so nothing was: "
                           "fix them (see errors) and send the sheet again.", errors=listed)
    answer = LedgerApplied(**plan.answer(), applied=True)
    await audit.record(session, context.principal, "ledger.applied", "ledger", None, after={
        "file": filename, "period": context.period, "rows": plan.rows,
        "changes": len(answer.changes), "conflicts": [c.row for c in answer.conflicts]})
    return answer


# --- Reading the sheet against what is stored ---------------------------------------------


async def _plan(session: AsyncSession, data: bytes, filename: str | None, period: str) -> Plan:
    rows, unreadable = await to_thread.run_sync(ledger_rows, data, filename)
    plan = Plan(rows=len(rows) + len(unreadable))
    for row, message in unreadable:
        plan.error(row, message)
    stored = await _stored(session, [r.assignment_id for r in rows], period)
    seen: set[int] = set()
    resolved: dict[tuple[str, int | None], Any] = {}
    for row in rows:
        held = stored.get(row.assignment_id)
        if held is None:
            plan.error(row.row, f"责任ID {row.assignment_id} is no obligation: keep the 责任ID "
                                "the export wrote.")
        elif row.assignment_id in seen:
            plan.error(row.row, f"责任ID {row.assignment_id} is on an earlier row too: keep one "
                                "row per obligation.")
        elif row.task_id != held.task_id:
            plan.error(row.row, f"任务ID {row.task_id} is not the task of obligation "
                                f"{row.assignment_id} (task {held.task_id}): restore the row's "
                                "任务ID and 责任ID as exported.")
        else:
            seen.add(row.assignment_id)
            await _compare(session, plan, row, held, resolved)
    return plan


async def _stored(session: AsyncSession, ids: list[int], period: str) -> dict[int, Any]:
    found: dict[int, Any] = {}
    unique = sorted(set(ids))
    for at in range(0, len(unique), _IDS_PER_QUERY):
        found.update((row.id, row) for row in (await session.execute(
            select(Assignment.id, Assignment.task_id, Assignment.unit_id, Assignment.version,
                   Assignment.effective_deadline, Assignment.progress, Unit.short_name,
                   Document.jurisdiction_id, Report.summary,
                   Report.progress.label("report_progress"))
            .join(Unit, Unit.id == Assignment.unit_id)
            .join(Task, Task.id == Assignment.task_id)
            .join(Document, Document.id == Task.document_id)
            .outerjoin(Report, and_(Report.assignment_id == Assignment.id, Report.period == period))
            .where(Assignment.id.in_(unique[at:at + _IDS_PER_QUERY]),
                   Assignment.status != AssignmentStatus.group))).all())
    return found


async def _compare(session: AsyncSession, plan: Plan, row: LedgerRow, held: Any,
                   resolved: dict) -> None:
    changes: dict[str, tuple[Any, Any]] = {}
    problems = _deadline(row.cells, held, changes)
    new_unit = None
    if "unit" in row.cells:
        found = await _new_unit(session, row.cells["unit"], held, resolved, problems)
        if isinstance(found, DomainError):
            plan.error(row.row, f"责任单位: {found.detail}", _hints(found))
            return
        if found is not None:
            changes["unit"], new_unit = (held.short_name, found.short_name), found.id
    problems += _report(row.cells, held, changes)
    if problems:
        plan.error(row.row, " ".join(problems))
        return
    if not changes:
        return
    if row.version is None or row.version > held.version:
        plan.error(row.row, f"版本 is {'empty' if row.version is None else row.version}, not a "
                            f"version of obligation {row.assignment_id}: keep the 版本 the "
                            "export wrote.")
        return
    # A correction keeps the report's own progress; a new report starts from the latest.
    progress = changes["progress"][1] if "progress" in changes else \
        held.report_progress if held.report_progress is not None else held.progress or 0
    summary = changes["summary"][1] if "summary" in changes else held.summary or ""
    edit = Edit(row.row, row.assignment_id, held.task_id, held.unit_id, row.version, changes,
                report_summary=summary, report_progress=progress, new_unit_id=new_unit)
    if row.version < held.version:
        plan.conflict(edit, held.version)
    else:
        plan.edits.append(edit)


def _deadline(cells: dict[str, Any], held: Any, changes: dict) -> list[str]:
    if "deadline" not in cells:
        return []
    try:
        deadline = day(cells["deadline"])
    except ValueError:
        return [f"完成时限 “{text_of(cells['deadline'])}” is not a date: write it as YYYY-MM-DD, "
                "e.g. 2025-12-31."]
    if deadline is None and held.effective_deadline is not None:
        return ["完成时限 is empty: write a date (a unit's own deadline is cleared with PATCH "
                "/api/v1/tasks/{task}/assignments/{id} and deadline null)."]
    if deadline != held.effective_deadline:
        changes["deadline"] = (held.effective_deadline, deadline)
    return []


async def _new_unit(session: AsyncSession, cell: Any, held: Any, resolved: dict,
                    problems: list[str]) -> Any:
    """The unit the row now names when it is another one; None when it is the same."""
    written = units.normalise(text_of(cell))
    if not written:
        problems.append("责任单位 is empty: name the unit that holds the obligation.")
        return None
    if written == units.normalise(held.short_name):
        return None
    found = await _unit(session, written, held.jurisdiction_id, resolved)
    if isinstance(found, DomainError) or found.id == held.unit_id:
        return found if isinstance(found, DomainError) else None
    if found.is_group:
        problems.append(f"责任单位 {found.short_name} is a group: name one of its units.")
        return None
    return found


def _report(cells: dict[str, Any], held: Any, changes: dict) -> list[str]:
    problems = []
    if "summary" in cells:
        raw = cells["summary"]
        text = raw.replace("\r\n", "\n").strip() if isinstance(raw, str) else text_of(raw)
        if text and text != (held.summary or "").strip():
            changes["summary"] = (held.summary, text)
        elif not text and held.summary:
            problems.append(f"本期进展 is empty but the period's report says “{held.summary[:40]}”: "
                            "a report is corrected, never deleted.")
    if "progress" in cells and text_of(cells["progress"]):
        value = whole(cells["progress"])
        if value is None or not 0 <= value <= 100:
            problems.append(f"进度 “{text_of(cells['progress'])}” is not a whole number from 0 "
                            "to 100.")
        elif value != held.progress:
            changes["progress"] = (held.progress, value)
    if "unit" in changes and ("summary" in changes or "progress" in changes):
        problems.append("责任单位 and 本期进展/进度 both changed: the new unit files its own "
                        "reports. Apply the move, export again, then report.")
    if "progress" in changes and "summary" not in changes and not held.summary:
        problems.append("进度 changed but 本期进展 is empty: a report needs its text.")
    return problems


async def _unit(session: AsyncSession, written: str, scope: int | None, resolved: dict) -> Any:
    """The unit a name means within the document's jurisdiction, else anywhere; or the error."""
    key = (written, scope)
    if key not in resolved:
        resolved[key] = await _resolve(session, written, scope)
        if scope is not None and isinstance(resolved[key], UnknownUnit | NotFound):
            anywhere = await _resolve(session, written, None)
            if not isinstance(anywhere, UnknownUnit | NotFound):
                resolved[key] = anywhere
    return resolved[key]


async def _resolve(session: AsyncSession, written: str, scope: int | None) -> Any:
    try:
        return await units.resolve(session, written, scope)
    except (InvalidInput, NotFound) as exc:  # unknown or ambiguous: the row says so
        return exc


def _hints(error: DomainError) -> list[str]:
    return list(error.extra.get("suggestions") or error.extra.get("candidates") or [])


# --- Applying a row through the workflow --------------------------------------------------


async def _try(session: AsyncSession, context: Context, plan: Plan) -> None:
    applied = []
    for edit in plan.edits:
        savepoint = await session.begin_nested()
        try:
            await _apply(session, context, edit)
        except PreconditionFailed:
            # Changed between our read and our write: as stale as an old 版本.
            await savepoint.rollback()
            plan.conflict(edit, (await tr.by_id(session, edit.assignment_id)).version)
        except DomainError as exc:
            await savepoint.rollback()
            columns = "、".join(FIELD_COLUMNS[name] for name in edit.changes)
            plan.error(edit.row, f"{columns}: {exc.detail}", _hints(exc))
        else:
            await savepoint.commit()
            applied.append(edit)
    plan.edits = applied


async def _apply(session: AsyncSession, context: Context, edit: Edit) -> None:
    """Deadline, then report, then unit. The first step names the 版本 the sheet was read at
    (If-Match): a change made since the plan was read is caught even now."""
    principal, read = context.principal, etag("assignment", edit.assignment_id, edit.version)
    changes = edit.changes
    if "deadline" in changes:
        await assignments.update(session, principal, edit.task_id, edit.assignment_id,
                                 AssignmentUpdate(deadline=changes["deadline"][1]), read)
        read = None
        await _record(session, context, edit, "deadline")
    if "summary" in changes or "progress" in changes:
        try:
            body = ReportCreate(unit=str(edit.unit_id), period=context.period,
                                progress=edit.report_progress, summary=edit.report_summary)
        except ValidationError as exc:
            raise InvalidInput("; ".join(e["msg"] for e in exc.errors())) from None
        await reports.file(session, principal, edit.task_id, body, read, context.today,
                           context.due_day)
        read = None
        for name in ("summary", "progress"):
            if name in changes:
                await _record(session, context, edit, name)
    if "unit" in changes:
        # What an approved responsibility change of kind replace does (workflow/requests.py).
        current = await tr.by_id(session, edit.assignment_id)
        removed = await tr.move(session, principal, current, "remove", if_match=read,
                                record="assignment.removed")
        await tr.settle(session, principal, [current.id], "the ledger moved the obligation")
        placed = await assignments.place(
            session, principal, edit.task_id, edit.new_unit_id, removed.role,
            task_deadline=removed.task_deadline, own_deadline=removed.own_deadline,
            extended_to=removed.extended_to)
        edit.new_assignment_id = placed.id
        await _record(session, context, edit, "unit")


async def _record(session: AsyncSession, context: Context, edit: Edit, name: str) -> None:
    before, after = edit.changes[name]
    moved = {"unit_id": edit.new_unit_id, "assignment_id": edit.new_assignment_id} \
        if name == "unit" else {}
    await audit.record(session, context.principal, f"ledger.{name}", "assignment",
                       edit.assignment_id, task_id=edit.task_id, unit_id=edit.unit_id,
                       before={name: before, "row": edit.row, "version": edit.version},
                       after={name: after, "period": context.period, **moved})
