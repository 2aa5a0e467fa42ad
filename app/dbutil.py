"""Statements that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from collections.abc import Collection
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from app.db import dumps
from app.query import Query, copy, run


def on_postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    return (postgresql.insert if on_postgresql(session) else sqlite.insert)(table)


def one_of(session: AsyncSession, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN values`. On PostgreSQL one array parameter (= ANY): the statement's text is
    the same for any number of values, so it is compiled and prepared once; an expanded IN is
    another statement for every count (an import's hundred-odd unit names), each compiled and
    prepared anew."""
    if on_postgresql(session):
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


async def insert_rows(session: AsyncSession, table: Table, rows: list[dict]) -> None:
    """New rows of one table that no key of theirs can meet (ids the caller just drew, children
    of them): COPY on PostgreSQL, a fraction of the cost of an INSERT a row; SQLAlchemy's own
    executemany on SQLite. A column a row leaves out takes its model default, else NULL."""
    if not rows:
        return
    if not on_postgresql(session):
        await session.execute(insert(table), rows)
        return
    given = rows[0].keys()
    columns = [c for c in table.columns if c.name in given or c.default is not None]
    fill = {c.name: _default(c) for c in columns if c.name not in given}
    rows = [{**fill, **row} for row in rows]
    for name in (c.name for c in columns if isinstance(c.type, JSON)):
        for row in rows:
            if row[name] is not None:
                row[name] = dumps(row[name])  # JSON goes to the driver as its text
    names = [c.name for c in columns]
    records = list(map(itemgetter(*names), rows)) if len(names) > 1 else [(r[names[0]],) for r in rows]
    await copy(session, table.name, names, records)


def _default(column: Any) -> Any:
    default = column.default
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a callable default to take a context
    return getattr(default.arg, "value", default.arg)  # an enum member as its value


# Ids drawn ahead of a COPY (PostgreSQL): the next `n` of a table's sequence, in one statement.
_IDS = Query(select(func.nextval(func.pg_get_serial_sequence(bindparam("table"), literal("id"))))
             .select_from(func.generate_series(1, bindparam("n", type_=Integer))))


async def insert_rows_with_ids(session: AsyncSession, table: Table, rows: list[dict]) -> list[int]:
    """`insert_rows` for rows whose new ids the caller needs, in the rows' order."""
    if not rows:
        return []
    if not on_postgresql(session):
        done = await session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return list(done.scalars())
    ids = [r[0] for r in await run(session, _IDS, table=table.name, n=len(rows))]
    await insert_rows(session, table, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


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
