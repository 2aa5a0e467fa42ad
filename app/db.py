"""The database: one async engine per process, sessions opened per request by the route
class in app/uow.py, and the SQLite settings that make the embedded default safe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Request
from sqlalchemy import URL, event, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.query import READERS
from app.readpool import ReadPool


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns and JSON built by the database decode through orjson: several times the
# standard library's speed on the task view's arrays.
_JSON = {"json_serializer": dumps, "json_deserializer": orjson.loads}


class Database:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.readers: ReadPool | None = None
        if self.is_sqlite:
            _ensure_folder(url)
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=0, **_JSON)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # pysqlite begins a transaction at the first write only, so a savepoint opened
            # before any write would be the transaction and releasing it would commit;
            # SQLAlchemy emits BEGIN itself instead (its documented recipe).
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        else:
            # No overflow: a connection opened beyond the pool is closed again on return, and
            # under load that meant a new connection for every other request. Past the pool's
            # size a request waits for a free connection instead.
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=0, pool_pre_ping=False,
                connect_args={"server_settings": _SERVER}, **_JSON)
            # Statements outside transactions (app/query.py) have connections of their own.
            driver_url = make_url(url).set(drivername="postgresql")
            self.readers = ReadPool(lambda: _connect(driver_url), pool_size)
        # Sessions find the readers through their info (fetch in app/query.py); a snapshot's
        # reads must stay inside its transaction, so it has none.
        shared = {"info": {READERS: self.readers}} if self.readers is not None else {}
        # On PostgreSQL reads run without a transaction: no BEGIN and no ROLLBACK round trips
        # around them. (SQLite's reads are local calls, and its BEGIN recipe above must hold.)
        reader = self.engine if self.is_sqlite else \
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessions = async_sessionmaker(reader, expire_on_commit=False, autoflush=False, **shared)
        # A write takes SQLite's write lock when it begins (waiting its turn under the busy
        # timeout), so two writers never both read and then collide at their first write.
        writer = self.engine.execution_options(sqlite_immediate=True)
        self.write_sessions = async_sessionmaker(writer, expire_on_commit=False, autoflush=False,
                                                 **shared)
        # A long read (an export) sees one state of the database throughout, and takes no lock.
        snapshot = self.engine if self.is_sqlite else \
            self.engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        self.snapshot_sessions = async_sessionmaker(snapshot, expire_on_commit=False, autoflush=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.database_url, settings.db_pool_size)

    @asynccontextmanager
    async def session(self, write: bool = True) -> AsyncIterator[AsyncSession]:
        async with (self.write_sessions if write else self.sessions)() as session:
            yield session

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        async with self.snapshot_sessions() as session:
            yield session

    async def ping(self) -> bool:
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
            return True
        except Exception:  # any failure to reach the database means "not reachable"
            return False

    async def dispose(self) -> None:
        if self.readers is not None:
            await self.readers.close()
        await self.engine.dispose()


_SERVER = {"timezone": "UTC"}


async def _connect(url: URL) -> asyncpg.Connection:
    conn = await asyncpg.connect(url.render_as_string(hide_password=False), server_settings=_SERVER)
    # JSON as SQLAlchemy's own connections read and write it: bound as text its JSON types made,
    # read through orjson.
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, schema="pg_catalog", encoder=str, decoder=orjson.loads)
    return conn


def _ensure_folder(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get("sqlite_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer commits; the busy timeout makes a second
    # writer wait for the first instead of failing at once.
    dbapi_connection.isolation_level = None  # the driver's own BEGIN is off (see "begin")
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def get_session(request: Request) -> AsyncSession:
    return request.state.work.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
