"""Prebuilt statements: built once, and on PostgreSQL run straight on the driver.

A read that serves every phone and dashboard poll (a task, an overdue page, who a token is), and
each statement of a hot write (a monthly report), costs more in SQLAlchemy's per-execution
machinery than in PostgreSQL. A `Query` compiles its statement once per dialect. `fetch` runs it
outside any transaction on a plain driver connection (app/readpool.py), or inside the request's
transaction when one is open; `run` always runs it inside the request's transaction, beginning
it if need be, so writes go there. On SQLite both go through the session, where the database is
a local call. Rows come back as mappings on both: `row["column"]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

from app.readpool import CONNECTION_LOST

# Where a session finds the plain connections of app/readpool.py (PostgreSQL only).
READERS = "query.readers"


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # in the order of $1, $2, …
    required: frozenset[str]  # the named parameters: a caller must give every one
    literals: dict[str, Any]  # values written into the statement (a status to exclude, say)
    processors: dict[str, Any]
    expanding: bool  # an IN list, sized when run: only SQLAlchemy's execution renders it


class Query:
    __slots__ = ("statement", "_compiled")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Any) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            c = self.statement.compile(dialect=dialect)
            names = tuple(c.positiontup or ())
            found = self._compiled[dialect.name] = _Compiled(
                sql=c.string, names=names,
                # A named parameter never falls back to a value built into the statement: a
                # statement kept for reuse would otherwise answer with another request's value.
                required=frozenset(n for n, b in c.binds.items() if not b.unique),
                literals={n: b.effective_value for n, b in c.binds.items() if b.unique},
                processors={n: p for n in names
                            if (p := c.binds[n].type.bind_processor(dialect)) is not None},
                expanding=any(b.expanding for b in c.binds.values()))
        return found

    def arguments(self, dialect: Any, params: Mapping[str, Any]) -> list[Any]:
        c = self.compiled(dialect)
        check(c, params)
        values = [params[n] if n in c.required else c.literals[n] for n in c.names]
        # As SQLAlchemy does, None goes through the processor too: a JSON column stores JSON null.
        for i, name in enumerate(c.names):
            if name in c.processors:
                values[i] = c.processors[name](values[i])
        return values


def check(compiled: _Compiled, params: Mapping[str, Any]) -> None:
    if not compiled.required <= params.keys():
        raise TypeError(f"Query parameters missing: {sorted(compiled.required - params.keys())}")


async def fetch(session: AsyncSession, query: Query, **params: Any) -> Sequence[Mapping[str, Any]]:
    readers = session.info.get(READERS)
    dialect = session.bind.dialect
    if readers is None or session.in_transaction() or query.compiled(dialect).expanding:
        # Inside a transaction the read sees what the transaction wrote; an IN list is
        # rendered by SQLAlchemy's execution only.
        return await run(session, query, **params)
    arguments = query.arguments(dialect, params)
    sql = query.compiled(dialect).sql
    try:
        async with readers.connection() as driver:
            return await driver.fetch(sql, *arguments)
    except CONNECTION_LOST as exc:
        raise DBAPIError(sql, None, exc, connection_invalidated=True) from exc
    except asyncpg.PostgresError as exc:
        raise _translated(dialect, sql, arguments, exc) from exc


async def run(session: AsyncSession, query: Query, **params: Any) -> Sequence[Mapping[str, Any]]:
    """`query` in the session's transaction, begun here when none is open yet."""
    dialect = session.bind.dialect
    if dialect.name == "sqlite" or query.compiled(dialect).expanding:
        check(query.compiled(dialect), params)
        result = await (await session.connection()).execute(query.statement, params)
        return result.mappings().all() if result.returns_rows else []
    held = _held(session) or await _begin(session)
    return await _on_driver(held[1], held[2], query, params)


def _raw(connection: AsyncConnection) -> Any:
    # The pooled connection of an AsyncConnection already started: get_raw_connection() reads
    # the same attribute through a greenlet switch, which is all it adds.
    return connection.sync_connection.connection


async def _begin(session: AsyncSession) -> tuple:
    connection = await session.connection()
    adapted = _raw(connection).dbapi_connection
    if adapted._transaction is None:
        # SQLAlchemy's adapter sends BEGIN with its first statement; this one bypasses it, so
        # it begins the transaction the session will commit or roll back (under the adapter's
        # lock, as the adapter's own statements are).
        try:
            async with adapted._execute_mutex:
                if adapted._transaction is None:
                    await adapted._start_transaction()
        except adapted.dbapi.Error as exc:
            # The adapter raises its driver-level error here, which no handler knows: raise
            # what SQLAlchemy's own BEGIN would, the connection invalidated if it is gone (503).
            lost = adapted.driver_connection.is_closed()
            if lost:
                await connection.invalidate(exc)
            raise DBAPIError("BEGIN", None, exc, connection_invalidated=lost) from exc
    held = session.info[_HELD] = (session.sync_session.get_transaction(), connection,
                                  adapted.driver_connection)
    return held


# Asking the session for its connection costs a greenlet switch and a proxy lookup each time:
# the connection of the transaction in progress is kept with the session, and forgotten when
# another transaction (after a commit or rollback) has begun.
_HELD = "query.held"


def _held(session: AsyncSession) -> tuple | None:
    held = session.info.get(_HELD)
    if held is not None and held[0] is session.sync_session.get_transaction() \
            and held[2].is_in_transaction():
        return held
    return None


async def _on_driver(connection: AsyncConnection, driver: Any, query: Query,
                     params: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    arguments = query.arguments(connection.dialect, params)
    sql = query.compiled(connection.dialect).sql
    try:
        return await driver.fetch(sql, *arguments)
    except CONNECTION_LOST as exc:
        # SQLAlchemy never saw this error: tell its pool the connection is gone, and
        # raise what its own path would have raised (rendered 503 by app/problems.py).
        await connection.invalidate(exc)
        raise DBAPIError(sql, None, exc, connection_invalidated=True) from exc
    except asyncpg.PostgresError as exc:
        raise _translated(connection.dialect, sql, arguments, exc) from exc


def _translated(dialect: Any, sql: str, arguments: list[Any], exc: Exception) -> Exception:
    """The exception SQLAlchemy's path raises (IntegrityError for a unique violation, …), so
    callers catch one kind whichever path ran."""
    dbapi = dialect.loaded_dbapi
    for kind in type(exc).__mro__:
        if kind in dbapi._asyncpg_error_translate:
            orig = dbapi._asyncpg_error_translate[kind](exc.args[0] if exc.args else str(exc), exc)
            return DBAPIError.instance(sql, arguments, orig, dbapi.Error, dialect=dialect)
    return exc


async def copy(session: AsyncSession, table: str, columns: list[str], records: list[tuple]) -> None:
    """COPY `records` into `table` in the session's transaction (PostgreSQL), beginning it if
    need be; errors are raised as SQLAlchemy's own, as `run`'s are."""
    _, connection, driver = _held(session) or await _begin(session)
    try:
        await driver.copy_records_to_table(table, records=records, columns=columns)
    except CONNECTION_LOST as exc:
        await connection.invalidate(exc)
        raise DBAPIError(f"COPY {table}", None, exc, connection_invalidated=True) from exc
    except asyncpg.PostgresError as exc:
        raise _translated(connection.dialect, f"COPY {table}", [], exc) from exc


async def fetch_one(session: AsyncSession, query: Query, **params: Any) -> Mapping[str, Any] | None:
    rows = await fetch(session, query, **params)
    return rows[0] if rows else None


async def run_one(session: AsyncSession, query: Query, **params: Any) -> Mapping[str, Any] | None:
    rows = await run(session, query, **params)
    return rows[0] if rows else None
