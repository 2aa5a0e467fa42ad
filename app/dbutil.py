"""Statements that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


async def insert_ignore(session: AsyncSession, table: Any, rows: list[dict], keys: list[str]) -> None:
    """Insert rows, skipping any whose `keys` already exist (INSERT … ON CONFLICT DO NOTHING)."""
    if rows:
        stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=keys)
        await session.execute(stmt, rows)
