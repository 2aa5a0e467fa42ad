"""The plain connections for single statements (app/readpool.py): bounded, reused, and a
connection that may be left midway (lost, or cancelled mid-statement) never handed out again.

The driver's connections are stood in for: what is under test is the pool's bookkeeping; the
real ones are exercised by every read of the suite, and by the PostgreSQL restart of
tests/faults/test_database_restart.py."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from app.readpool import ReadPool


class Connection:
    made = 0

    def __init__(self) -> None:
        Connection.made += 1
        self.closed = self.in_transaction = False

    def is_closed(self) -> bool:
        return self.closed

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    def terminate(self) -> None:
        self.closed = True

    async def close(self, timeout: float = 0) -> None:
        self.closed = True


@pytest.fixture
def pool() -> ReadPool:
    Connection.made = 0

    async def connect() -> Connection:
        await asyncio.sleep(0)
        return Connection()

    return ReadPool(connect, size=2)


async def test_no_more_connections_than_its_size_however_many_wait(pool):
    busy = peak = 0

    async def use() -> None:
        nonlocal busy, peak
        async with pool.connection():
            busy += 1
            peak = max(peak, busy)
            await asyncio.sleep(0.001)
            busy -= 1

    await asyncio.gather(*(use() for _ in range(20)))
    assert peak == 2 and Connection.made == 2


async def test_the_connection_used_last_is_used_next(pool):
    async with pool.connection() as first:
        pass
    async with pool.connection() as again:
        assert again is first
    assert Connection.made == 1


async def test_a_statement_refused_keeps_its_connection(pool):
    with pytest.raises(asyncpg.UniqueViolationError):
        async with pool.connection() as first:
            raise asyncpg.UniqueViolationError("duplicate key")
    async with pool.connection() as again:
        assert again is first and not first.closed


@pytest.mark.parametrize("lost", [ConnectionResetError("reset"),
                                  asyncpg.ConnectionDoesNotExistError("gone"),
                                  asyncio.CancelledError()])
async def test_a_connection_lost_or_cancelled_midway_is_dropped(pool, lost):
    with pytest.raises(type(lost)):
        async with pool.connection() as first:
            raise lost
    assert first.closed
    async with pool.connection() as fresh:
        assert fresh is not first
    assert Connection.made == 2


async def test_a_connection_left_in_a_transaction_is_not_reused(pool):
    async with pool.connection() as first:
        first.in_transaction = True
    async with pool.connection() as fresh:
        assert fresh is not first and first.closed


async def test_a_failed_connect_frees_its_place(pool):
    async def refused() -> Connection:
        raise ConnectionRefusedError("the server is down")

    down = ReadPool(refused, size=1)
    for _ in range(3):  # each attempt gets the one place back
        with pytest.raises(ConnectionRefusedError):
            async with down.connection():
                pass


async def test_closing_closes_what_is_idle_and_what_comes_back(pool):
    async with pool.connection() as held:
        async with pool.connection() as idle:
            pass
        await pool.close()
        assert idle.closed and not held.closed
    assert held.closed
