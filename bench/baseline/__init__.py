"""The baseline: Duban's five benchmarked requests as the fastest this stack serves them.

Starlette routes over one asyncpg pool, orjson, no ORM and no validation layer; each route is
one statement where the rules allow it (the token is checked inside it), and answers what
Duban answers for the same request on the same data (tests/bench/test_equal_work.py).

    python -m bench.baseline --dsn postgresql://user@127.0.0.1:5432/db --port 8001 [--admin-token T]
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.baseline import dispatch, documents, reports, tasks
from bench.baseline.common import UNAVAILABLE, Problem, hash_token, ok

log = logging.getLogger("bench.baseline")
Handler = Callable[[Request], Awaitable[Response]]


async def _keep(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection returns to the pool: no route sets session state,
    and asyncpg still rolls back a transaction left open. Its default reset query would cost
    every request one more round trip."""


async def _connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, schema="pg_catalog", encoder=lambda v: v,
                                  decoder=orjson.loads)


def answered(handler: Handler) -> Handler:
    """Render Problems (and a lost database) as Duban's problem+json."""
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Problem as problem:
            return problem.response(request.url.path)
        except (OSError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError):
            log.warning("database unavailable")
            return Problem(UNAVAILABLE, "The service cannot reach its database; retry shortly.",
                           headers={"Retry-After": "5"}).response(request.url.path)
    return run


async def health(request: Request) -> Response:
    try:
        await request.app.state.pool.fetchval("SELECT 1")
    except Exception:  # any failure to reach the database means "not reachable"
        raise Problem(UNAVAILABLE, "The database does not answer; retry shortly.",
                      headers={"Retry-After": "5"}) from None
    return ok({"status": "ok", "database": "reachable"})


def create_app(dsn: str, admin_token: str | None, pool_size: int = 20) -> Starlette:
    """The app; its pool opens with the lifespan (`async with app.router.lifespan_context(app)`
    when driven in-process)."""
    dsn = dsn.replace("postgresql+asyncpg://", "postgresql://")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            dsn, min_size=pool_size, max_size=pool_size, init=_connection, reset=_keep,
            server_settings={"timezone": "UTC"})
        try:
            yield
        finally:
            await app.state.pool.close()

    api = "/api/v1"
    routes = [
        Route(f"{api}/health", answered(health)),
        Route(f"{api}/tasks/{{task_id}}", answered(tasks.task_detail)),
        Route(f"{api}/units/{{unit}}/overdue", answered(tasks.unit_overdue)),
        Route(f"{api}/dispatch/{{period}}", answered(dispatch.dispatch_summary)),
        Route(f"{api}/tasks/{{task_id}}/reports", answered(reports.file_report), methods=["POST"]),
        Route(f"{api}/documents", answered(documents.import_document), methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.admin_digest = hash_token(admin_token) if admin_token else None
    return app
