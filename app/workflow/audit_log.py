"""Reading the audit log, oldest first: a client tails it by passing next_cursor back. Nothing
here, or anywhere in the API, changes or deletes an entry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEntry
from app.units import service as units
from app.workflow import transitions as tr
from app.workflow.schemas import AuditOut


async def entries(session: AsyncSession, *, task: int | None, unit: str | None, action: str | None,
                  entity: str | None, limit: int, cursor: str | None) -> tuple[list[AuditOut], str | None]:
    query = select(*AuditEntry.__table__.c)
    if task is not None:
        query = query.where(AuditEntry.task_id == task)
    if unit is not None:
        query = query.where(AuditEntry.unit_id == (await units.resolve(session, unit)).id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    rows, next_page = await tr.keyset(session, query, AuditEntry.id, limit, cursor)
    return [AuditOut.model_validate(r, from_attributes=True) for r in rows], next_page
