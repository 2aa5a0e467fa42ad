"""Statements that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


async def insert_ignore(session: AsyncSession, table: Any, rows: list[dict], keys: list[str]) -> None:
    """Insert rows, skipping any whose `keys` already exist (INSERT … ON CONFLICT DO NOTHING)."""
    if rows:
        stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=keys)
        await session.execute(stmt, rows)


class _next_id(GenericFunction):  # noqa: N801 (a SQL function's name)
    type = Integer()
    inherit_cache = True


@compiles(_next_id, "postgresql")
def _pg_next_id(element: Any, compiler: Any, **kw: Any) -> str:
    return f"nextval(pg_get_serial_sequence('{compiler.process(element.clauses, **kw)}', 'id'))"


@compiles(_next_id, "sqlite")
def _sqlite_next_id(element: Any, compiler: Any, **kw: Any) -> str:
    # The rowid SQLite gives the next row; drawn inside the write transaction, which SQLite
    # holds alone, it is the one the insert will get.
    return f"(SELECT coalesce(max(id), 0) + 1 FROM {compiler.process(element.clauses, **kw)})"


def next_id(table: Any) -> Any:
    """The id the next row of `table` takes, drawn before the row is written (its answer can then
    be written in the same statement as the row)."""
    return _next_id(literal_column(table.name))


class days_between(GenericFunction):  # noqa: N801
    """Whole days from the second date to the first (dates as SQLite stores them: ISO text)."""

    type = Integer()
    inherit_cache = True


@compiles(days_between, "postgresql")
def _pg_days(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"({later} - {earlier})"


@compiles(days_between, "sqlite")
def _sqlite_days(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
