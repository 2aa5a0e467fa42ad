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
import json
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, get_args

from fastapi import Request, Response, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import bindparam, insert, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import TOKEN_COLUMNS, TOKEN_OF, bearer_digest, current_principal, found_with
from app.errors import IdempotencyInFlight, IdempotencyKeyReused, InvalidInput
from app.models import ApiToken, IdempotencyRecord, utcnow
from app.problems import MEDIA_TYPE, problem
from app.query import Query, run, run_one

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REPLAYED_HEADERS = ("content-type", "location", "etag")
_I = IdempotencyRecord.__table__
_STORED = Query(select(_I.c.request_hash, _I.c.status_code, _I.c.body, _I.c.headers)
                .where(_I.c.scope == bindparam("scope"), _I.c.key == bindparam("key")))
# The same lookup and, in the same round trip, the caller's token (a row even when neither is
# found): a keyed write, the hot path of every script and phone, asks the database once less.
_ONE = select(literal_column("1").label("one")).subquery("one")
_STORED_AND_TOKEN = Query(
    select(_I.c.request_hash, _I.c.status_code, _I.c.body, _I.c.headers, *TOKEN_COLUMNS)
    .select_from(_ONE.outerjoin(_I, (_I.c.scope == bindparam("scope"))
                                & (_I.c.key == bindparam("key")))
                 .outerjoin(ApiToken.__table__, TOKEN_OF)))
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
        numbers = _integer_params(self)

        async def run(request: Request) -> Response:
            await _refuse_nul(request)
            _ids_in_range(request, numbers)
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
        body = await request.body()
        if b"\\u0000" in body:
            raise InvalidInput("The JSON body contains a NUL character (\\u0000); remove it.")
        if body:
            _strict_json(body)


def _strict_json(body: bytes) -> None:
    """What the framework's parser lets through or explains poorly, and RFC 8259 does not allow:
    bytes that are not UTF-8, NaN and Infinity, a key given twice (the parser would keep the last
    silently). Answered as the framework answers a body it cannot parse: 422 validation_error,
    field "body", type json_invalid, with a message saying what is wrong where."""
    try:
        json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError as e:
        raise _invalid_json(f"The body is not UTF-8 (byte {e.start} cannot be decoded); "
                            "send the JSON encoded as UTF-8") from None
    except json.JSONDecodeError as e:
        raise _invalid_json(f"The body is not valid JSON ({e.msg} at line {e.lineno}, column "
                            f"{e.colno}); send one JSON object") from None
    except RecursionError:
        raise _invalid_json("The JSON body is nested too deeply; send a flat JSON object") from None


def _invalid_json(message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": message,
                                    "input": None}])


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    twice = [k for k, n in Counter(k for k, _ in pairs).items() if n > 1]
    if twice:
        raise _invalid_json(f"The JSON body gives {', '.join(map(repr, twice))} more than once; "
                            "send each key once")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise _invalid_json(f"{name} is not a JSON number; send a number or null")


# Ids are INTEGER columns: a larger number must not reach the database, where SQLite overflows
# and PostgreSQL refuses the statement (each a 500 once it got there).
MAX_ID = 2**31 - 1
_INT = TypeAdapter(int)


def _integer_params(route: APIRoute) -> tuple[tuple[str, str], ...]:
    kinds = ((params.Path, "path"), (params.Query, "query"))
    return tuple((where, f.alias) for f in get_flat_params(route.dependant)
                 for kind, where in kinds if isinstance(f.field_info, kind)
                 and int in (f.field_info.annotation, *get_args(f.field_info.annotation)))


def _ids_in_range(request: Request, numbers: tuple[tuple[str, str], ...]) -> None:
    for where, name in numbers:
        raw = (request.path_params if where == "path" else request.query_params).get(name)
        if raw is None:
            continue
        try:
            value = _INT.validate_python(raw)
        except ValidationError:
            continue  # not a number at all: the route's own validation says so
        if abs(value) > MAX_ID:
            raise RequestValidationError([{
                "type": "less_than_equal", "loc": (where, name), "input": raw,
                "msg": f"Input should be a whole number from {-MAX_ID} to {MAX_ID}"}])


async def _idempotent(request: Request, session: AsyncSession,
                      handler: Callable[[Request], Coroutine[Any, Any, Response]], key: str) -> Response:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1 to 255 printable characters.")
    scope = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()[:32]
    body = await request.body()
    digest = hashlib.sha256(b"\n".join(
        [request.method.encode(), request.url.path.encode(), request.url.query.encode(), body]
    )).hexdigest()
    token = bearer_digest(request)
    if token is None:
        found = await _stored(session, scope, key)
    else:
        row = await run_one(session, _STORED_AND_TOKEN, scope=scope, key=key, digest=token)
        found_with(request, row)
        found = row if row["request_hash"] is not None else None
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
    status, stored = response.status_code, bytes(response.body)
    headers = {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS}
    if "no-store" in response.headers.get("cache-control", ""):
        status, stored, headers = _kept_out(request, stored)
    try:
        # The insert itself may meet the racing twin's row (PostgreSQL waits, then refuses).
        await run(session, _STORE, v_scope=scope, v_key=key, v_request_hash=digest,
                  v_status_code=status, v_body=stored, v_headers=headers, v_created_at=utcnow())
        await session.commit()
    except IntegrityError:
        # Another request with this key committed first: this one's change is rolled back.
        await session.rollback()
        found = await _stored(session, scope, key)
        if found is None:
            raise IdempotencyInFlight("Retry: a request with this key is in progress.") from None
        return _replay(found, digest)
    return response


def _kept_out(request: Request, body: bytes) -> tuple[int, bytes, dict[str, str]]:
    """What a retry gets in place of an answer that held a secret shown once (a minted token,
    marked Cache-Control: no-store): the database keeps no copy of the secret."""
    made = json.loads(body).get("id") if body.startswith(b"{") else None
    answer = problem(409, "secret_shown_once", "The first answer held a secret shown only once",
                     "The first request with this Idempotency-Key succeeded"
                     + (f" and made {made}" if made is not None else "") + "; its answer held a "
                     "secret that is shown once and never stored. If that answer was lost, revoke "
                     "what it made and send a new request with a new key.", request, id=made)
    return 409, bytes(answer.body), {"content-type": MEDIA_TYPE}


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
