"""The database: one async engine per process, sessions opened per request by the route
class in app/uow.py, and the SQLite settings that make the embedded default safe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings


class Database:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_folder(url)
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=0)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # pysqlite begins a transaction at the first write only, so a savepoint opened
            # before any write would be the transaction and releasing it would commit;
            # SQLAlchemy emits BEGIN itself instead (its documented recipe).
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        else:
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False,
                connect_args={"server_settings": {"timezone": "UTC"}})
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # A write takes SQLite's write lock when it begins (waiting its turn under the busy
        # timeout), so two writers never both read and then collide at their first write.
        writer = self.engine.execution_options(sqlite_immediate=True)
        self.write_sessions = async_sessionmaker(writer, expire_on_commit=False, autoflush=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.database_url, settings.db_pool_size)

    @asynccontextmanager
    async def session(self, write: bool = True) -> AsyncIterator[AsyncSession]:
        async with (self.write_sessions if write else self.sessions)() as session:
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:  # any failure to reach the database means "not reachable"
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


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


def get_session(request: Request) -> AsyncSession:
    return request.state.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
