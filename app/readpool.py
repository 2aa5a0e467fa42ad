"""Connections for what PostgreSQL runs outside any transaction: the hot reads and the staged
writes of app/query.py and app/batch.py, each one statement.

SQLAlchemy's pool serves the sessions' transactions, and asyncpg's pool serves any use; either
costs more to check a connection out and in (60-110 µs: events, greenlet switches, a task per
release) than the statement's round trip does. A statement outside a transaction needs none of
that: a bounded set of plain driver connections, the most recently used first, a broken one
dropped and replaced on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

# The connection is gone (server restarted or shut down, socket closed), not the statement wrong.
# InternalClientError too: a pooled connection that received the server's shutdown notice while
# idle is left mid-protocol ("cannot switch to state 12; another operation (2) is in progress").
CONNECTION_LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                   asyncpg.exceptions.OperatorInterventionError, asyncpg.InternalClientError,
                   OSError)


class ReadPool:
    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._connect = connect
        self._slots = asyncio.Semaphore(size)  # waiters are served in turn
        self._idle: list[asyncpg.Connection] = []
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        await self._slots.acquire()
        conn = None
        try:
            conn = self._reuse() or await self._connect()
            yield conn
        except asyncpg.PostgresError as exc:
            if isinstance(exc, CONNECTION_LOST) and conn is not None:
                conn.terminate()
            raise  # a statement refused (a unique key taken, …): the connection serves on
        except BaseException:
            # Lost, or cancelled mid-statement (a client that hung up): the protocol may be
            # midway, so the connection is not given out again.
            if conn is not None:
                conn.terminate()
            raise
        finally:
            if conn is not None and not conn.is_closed():
                if self._closed or conn.is_in_transaction():
                    conn.terminate()  # nothing here opens one: a statement that did is not reused
                else:
                    self._idle.append(conn)
            self._slots.release()

    def _reuse(self) -> asyncpg.Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
        return None

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(c.close(timeout=5) for c in idle), return_exceptions=True)
