"""The one place a transaction ends, and the one place Idempotency-Key is honoured.

Every route runs inside `UnitOfWorkRoute`: it opens the request's session, runs the handler,
and commits only when a write answered 2xx. A POST with an Idempotency-Key stores its answer
in the same transaction as its change, so a retry either finds the stored answer or finds
nothing changed; two racing requests with one key collide on a unique constraint and the
loser replays the winner's answer.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import current_principal
from app.errors import IdempotencyInFlight, IdempotencyKeyReused, InvalidInput
from app.models import IdempotencyRecord, utcnow
from app.query import Query, run, run_one

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REPLAYED_HEADERS = ("content-type", "location", "etag")
_I = IdempotencyRecord.__table__
_STORED = Query(select(_I.c.request_hash, _I.c.status_code, _I.c.body, _I.c.headers)
                .where(_I.c.scope == bindparam("scope"), _I.c.key == bindparam("key")))
_STORE = Query(insert(IdempotencyRecord).values(
    {c: bindparam(f"v_{c}") for c in ("scope", "key", "request_hash", "status_code", "body",
                                      "headers", "created_at")}).inline())


class Work:
    """The request's session, made when first asked for: a read served by app/query.py never
    needs one, and making and closing one costs as much as the rest of the framework."""

    __slots__ = ("_make", "_session")

    def __init__(self, make: Callable[[], AsyncSession]) -> None:
        self._make, self._session = make, None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._make()
        return self._session

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        # A session out of any transaction (never used, or committed) holds no connection.
        if self._session is not None and self._session.in_transaction():
            # Shielded, as `async with session` does: a client that hangs up mid-close must
            # not leave the connection out of the pool.
            await asyncio.shield(self._session.close())


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            await _refuse_nul(request)
            db, write = request.app.state.db, request.method in WRITES
            work = request.state.work = Work(db.write_sessions if write else db.sessions)
            try:
                key = request.headers.get("idempotency-key")
                if request.method == "POST" and key is not None:
                    return await _idempotent(request, work.session, handler, key)
                try:
                    response = await handler(request)
                except BaseException:
                    await work.rollback()
                    raise
                if write and response.status_code < 300:
                    await work.session.commit()
                return response
            finally:
                await work.close()

        return run


async def _refuse_nul(request: Request) -> None:
    """NUL is no text a government system sends; PostgreSQL cannot store it in a string."""
    raw = request.scope.get("raw_path", b"") + b"?" + request.scope.get("query_string", b"")
    if b"%00" in raw or b"\x00" in raw:
        raise InvalidInput("The path or query contains a NUL character; remove it.")
    if request.method in WRITES and "json" in request.headers.get("content-type", ""):
        if b"\\u0000" in await request.body():
            raise InvalidInput("The JSON body contains a NUL character (\\u0000); remove it.")


async def _idempotent(request: Request, session: AsyncSession,
                      handler: Callable[[Request], Coroutine[Any, Any, Response]], key: str) -> Response:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1 to 255 printable characters.")
    scope = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()[:32]
    body = await request.body()
    digest = hashlib.sha256(b"\n".join(
        [request.method.encode(), request.url.path.encode(), request.url.query.encode(), body]
    )).hexdigest()
    found = await _stored(session, scope, key)
    if found is not None:
        # A replay skips the route and its token check: a token revoked since gets 401, not
        # the answer stored for it.
        await current_principal(request, session)
        return _replay(found, digest)
    try:
        response = await handler(request)
    except BaseException:
        await session.rollback()
        raise
    if response.status_code >= 300:
        await session.rollback()
        return response
    headers = {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS}
    try:
        # The insert itself may meet the racing twin's row (PostgreSQL waits, then refuses).
        await run(session, _STORE, v_scope=scope, v_key=key, v_request_hash=digest,
                  v_status_code=response.status_code, v_body=bytes(response.body),
                  v_headers=headers, v_created_at=utcnow())
        await session.commit()
    except IntegrityError:
        # Another request with this key committed first: this one's change is rolled back.
        await session.rollback()
        found = await _stored(session, scope, key)
        if found is None:
            raise IdempotencyInFlight("Retry: a request with this key is in progress.") from None
        return _replay(found, digest)
    return response


async def _stored(session: AsyncSession, scope: str, key: str) -> Mapping[str, Any] | None:
    # The request's first statement: it begins the transaction the change and its answer share.
    return await run_one(session, _STORED, scope=scope, key=key)


def _replay(record: Mapping[str, Any], digest: str) -> Response:
    if record["request_hash"] != digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different method, path or body; "
            "use a new key for a new request.")
    headers = dict(record["headers"] or {})
    headers["idempotent-replayed"] = "true"
    media = headers.pop("content-type", "application/json")
    return Response(bytes(record["body"]), status_code=record["status_code"], headers=headers,
                    media_type=media)
