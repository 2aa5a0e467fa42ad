"""The audit log: who did what, when, with the state before and after. Append-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.models import AuditEntry, utcnow
from app.query import Query, run

_NAMES = ("at", "actor", "actor_unit_id", "action", "entity", "entity_id", "task_id", "unit_id",
          "before", "after")
# Every write records one entry: the statement is built once.
_ONE = Query(insert(AuditEntry).values({n: bindparam(f"v_{n}") for n in _NAMES}).inline())


async def record(session: AsyncSession, principal: Principal | None, action: str, entity: str,
                 entity_id: int | None, *, task_id: int | None = None, unit_id: int | None = None,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    values = entry(principal, action, entity, entity_id, task_id=task_id, unit_id=unit_id,
                   before=before, after=after)
    await run(session, _ONE, **{f"v_{k}": v for k, v in values.items()})


def entry(principal: Principal | None, action: str, entity: str, entity_id: int | None, *,
          task_id: int | None = None, unit_id: int | None = None,
          before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> dict[str, Any]:
    """The row `record` writes, for a write staged in a batch (app/batch.py)."""
    return {"at": utcnow(), "actor": principal.actor if principal else "system",
            "actor_unit_id": principal.unit_id if principal else None, "action": action,
            "entity": entity, "entity_id": entity_id, "task_id": task_id, "unit_id": unit_id,
            "before": _plain(before), "after": _plain(after)}


async def record_many(session: AsyncSession, principal: Principal | None, action: str, entity: str,
                      rows: list[dict[str, Any]]) -> None:
    """One statement for many entries of one action (a month's reminders can reach every unit)."""
    if rows:
        await session.execute(insert(AuditEntry), [{
            "actor": principal.actor if principal else "system",
            "actor_unit_id": principal.unit_id if principal else None, "action": action,
            "entity": entity, "entity_id": r.get("entity_id"), "task_id": r.get("task_id"),
            "unit_id": r.get("unit_id"), "before": _plain(r.get("before")),
            "after": _plain(r.get("after"))} for r in rows])


def _plain(value: Any) -> Any:
    """JSON-safe copies of dates and enums for the before/after columns."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value
