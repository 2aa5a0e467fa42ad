"""Hot reads: statements built once, and on PostgreSQL run straight on the driver.

A read that serves every phone and dashboard poll (a task, an overdue page, who a token is)
costs more in SQLAlchemy's per-execution machinery than in PostgreSQL. A `Query` compiles its
statement once per dialect; `fetch` runs it on the asyncpg connection underneath SQLAlchemy's
pool (same pool, same connections), or through the session on SQLite, where the database is a
local call. Rows come back as mappings on both: `row["column"]`.

Only reads go through here: writes stay in the session, inside the request's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

# The connection is gone (server restarted or shut down, socket closed), not the statement wrong.
_CONNECTION_LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                    asyncpg.exceptions.OperatorInterventionError, OSError)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # in the order of $1, $2, …
    required: frozenset[str]  # the named parameters: a caller must give every one
    literals: dict[str, Any]  # values written into the statement (a status to exclude, say)
    processors: dict[str, Any]


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
                            if (p := c.binds[n].type.bind_processor(dialect)) is not None})
        return found

    def arguments(self, dialect: Any, params: Mapping[str, Any]) -> list[Any]:
        c = self.compiled(dialect)
        check(c, params)
        values = [params[n] if n in c.required else c.literals[n] for n in c.names]
        for i, name in enumerate(c.names):
            if name in c.processors and values[i] is not None:
                values[i] = c.processors[name](values[i])
        return values


def check(compiled: _Compiled, params: Mapping[str, Any]) -> None:
    if not compiled.required <= params.keys():
        raise TypeError(f"Query parameters missing: {sorted(compiled.required - params.keys())}")


async def fetch(session: AsyncSession, query: Query, **params: Any) -> Sequence[Mapping[str, Any]]:
    engine = session.bind
    if engine.dialect.name == "sqlite" or session.in_transaction():
        # Inside a transaction the read sees what the transaction wrote; and a request never
        # holds two connections at once, so a full pool cannot deadlock on itself.
        check(query.compiled(engine.dialect), params)
        result = await (await session.connection()).execute(query.statement, params)
        return result.mappings().all()
    arguments = query.arguments(engine.dialect, params)
    sql = query.compiled(engine.dialect).sql
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        try:
            return await driver.fetch(sql, *arguments)
        except _CONNECTION_LOST as exc:
            # SQLAlchemy never saw this error: tell its pool the connection is gone, and
            # raise what its own path would have raised (rendered 503 by app/problems.py).
            await connection.invalidate(exc)
            raise DBAPIError(sql, None, exc, connection_invalidated=True) from exc


async def fetch_one(session: AsyncSession, query: Query, **params: Any) -> Mapping[str, Any] | None:
    rows = await fetch(session, query, **params)
    return rows[0] if rows else None
