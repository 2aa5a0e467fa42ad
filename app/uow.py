"""The one place a transaction ends, and the one place Idempotency-Key is honoured.

Every route runs inside `UnitOfWorkRoute`: it opens the request's session, runs the handler,
and commits only when a write answered 2xx. A hot write may instead stage its writes as a
Batch (app/batch.py, through `settle`): the unit of work applies it, with the request's receipt
and its token's check, as one statement on PostgreSQL, and runs the handler again on fresh
reads when a guard of the batch no longer holds. A POST with an Idempotency-Key stores its
answer (the receipt) in the same transaction as its change, so a retry either finds the stored
answer or finds nothing changed; two requests with one key collide on a unique constraint, and
the loser, its own change rolled back, replays the winner's answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, get_args

from fastapi import HTTPException, Request, Response, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import bindparam, exists, insert, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import TOKEN_ROW, confirm, unconfirmed
from app.batch import Batch, Stale
from app.errors import (
    Conflict,
    DomainError,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidInput,
    Unauthorized,
)
from app.models import IdempotencyRecord, utcnow
from app.problems import MEDIA_TYPE, problem
from app.query import Query, fetch_one, run

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REPLAYED_HEADERS = ("content-type", "location", "etag")
_ATTEMPTS = 3
_I = IdempotencyRecord.__table__
_RECEIPT = ("scope", "key", "request_hash", "status_code", "body", "headers", "created_at")
_STORED = Query(select(_I.c.request_hash, _I.c.status_code, _I.c.body, _I.c.headers)
                .where(_I.c.scope == bindparam("scope"), _I.c.key == bindparam("key")))
_STORE = Query(insert(IdempotencyRecord).values({c: bindparam(c) for c in _RECEIPT}).inline())
# A staged write's first guard: its key not used yet. A retry then writes nothing at all (not
# even a sequence value) before it replays; a twin still in flight meets the unique constraint.
_UNUSED = select(literal_column("1")).where(~exists().where(
    _I.c.scope == bindparam("scope"), _I.c.key == bindparam("key")))
# Errors that are answers (4xx and the like): the caller's token is checked before one is sent.
_ANSWERS = (DomainError, RequestValidationError, HTTPException)


class Work:
    """The request's session, made when first asked for (a read served by app/query.py never
    needs one, and making and closing one costs as much as the rest of the framework), and the
    batch a handler staged for it to apply."""

    __slots__ = ("_make", "_session", "write", "staged")

    def __init__(self, make: Callable[[], AsyncSession], write: bool) -> None:
        self._make, self._session, self.write = make, None, write
        self.staged: Batch | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._make()
            self._session.info[_WORK] = self
        return self._session

    def can_stage(self, session: AsyncSession) -> bool:
        # Only a write that has written nothing yet: one begun in a transaction ends in it.
        return self.write and self.staged is None and not session.in_transaction() \
            and session.bind.dialect.name == "postgresql"

    async def rollback(self) -> None:
        self.staged = None
        if self._session is not None and self._session.in_transaction():
            await self._session.rollback()

    async def close(self) -> None:
        # A session out of any transaction (never used, or committed) holds no connection.
        if self._session is not None and self._session.in_transaction():
            # Shielded, as `async with session` does: a client that hangs up mid-close must
            # not leave the connection out of the pool.
            await asyncio.shield(self._session.close())


_WORK = "uow.work"


async def settle(session: AsyncSession, batch: Batch) -> None:
    """Apply `batch` in the session's transaction now, or, for a write that has written nothing
    yet, leave it to the request's unit of work to apply in one statement with its receipt."""
    work: Work | None = session.info.get(_WORK)
    if work is not None and work.can_stage(session):
        work.staged = batch
    else:
        await batch.apply(session)


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        numbers = _integer_params(self)

        async def run(request: Request) -> Response:
            await _refuse_nul(request)
            _ids_in_range(request, numbers)
            db, write = request.app.state.db, request.method in WRITES
            work = request.state.work = Work(db.write_sessions if write else db.sessions, write)
            try:
                key = request.headers.get("idempotency-key")
                if request.method == "POST" and key is not None:
                    return await _idempotent(request, work, handler, key)
                return await _answer(request, work, handler)
            finally:
                await work.close()

        return run


Receipt = Callable[[Response], Mapping[str, Any]]


async def _confirm(request: Request, work: Work) -> None:
    principal = unconfirmed(request)
    if principal is not None:
        await confirm(work.session, principal)


class KeyUsed(Exception):
    """The request's Idempotency-Key has a receipt already: its answer is replayed."""


async def _answer(request: Request, work: Work, handler: Callable[[Request], Coroutine[Any, Any, Response]],
                  receipt: Receipt | None = None) -> Response:
    """The handler's answer; for a write that answered 2xx, its change (and `receipt`) committed."""
    for _ in range(_ATTEMPTS):
        try:
            response = await handler(request)
            if not (work.write and response.status_code < 300):
                await work.rollback()
                await _confirm(request, work)
                return response
            await _commit(request, work, receipt(response) if receipt else None)
            return response
        except Stale as stale:
            await work.rollback()
            if stale.step == "token":
                request.state.principal.settle(False)
            if stale.step == "key_unused":
                raise KeyUsed from None
        except _ANSWERS:
            await work.rollback()
            await _confirm(request, work)  # a revoked token learns nothing but 401
            raise
        except BaseException:
            await work.rollback()
            raise
    raise Conflict("What this request was decided from kept changing while it ran; send it again.")


async def _commit(request: Request, work: Work, receipt: Mapping[str, Any] | None) -> None:
    batch, work.staged = work.staged, None
    if batch is None:
        await _confirm(request, work)
        if receipt is not None:
            await run(work.session, _STORE, **receipt)
    else:
        if receipt is not None:
            batch.require("key_unused", _UNUSED, first=True, scope=receipt["scope"], key=receipt["key"])
            batch.insert("receipt", _I, receipt)
        principal = unconfirmed(request)
        if principal is not None:  # checked first: a revoked token is refused, not replayed to
            batch.require("token", TOKEN_ROW, first=True, **principal.live_binds())
        try:
            await batch.apply(work.session)
        except Stale as stale:
            if principal is not None and stale.step not in ("token", "partial"):
                principal.verified = True  # stale past the first guard: the token itself held
            raise
        if principal is not None:
            principal.verified = True
    if work.session.in_transaction():
        await work.session.commit()


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
            # Parsed once: the framework reads the body through Request.json(), which keeps what
            # it parsed in `_json`; this parse is that one, stricter.
            request._json = _strict_json(body)


def _strict_json(body: bytes) -> Any:
    """What the framework's parser lets through or explains poorly, and RFC 8259 does not allow:
    bytes that are not UTF-8, NaN and Infinity, a key given twice (the parser would keep the last
    silently). Answered as the framework answers a body it cannot parse: 422 validation_error,
    field "body", type json_invalid, with a message saying what is wrong where."""
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys,
                          parse_constant=_no_constant)
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
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
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
        if raw is None or (len(raw) < 10 and raw.isascii() and raw.isdigit()):
            continue  # nine digits or fewer: within range (the common case, without a parser)
        try:
            value = _INT.validate_python(raw)
        except ValidationError:
            continue  # not a number at all: the route's own validation says so
        if abs(value) > MAX_ID:
            raise RequestValidationError([{
                "type": "less_than_equal", "loc": (where, name), "input": raw,
                "msg": f"Input should be a whole number from {-MAX_ID} to {MAX_ID}"}])


async def _idempotent(request: Request, work: Work,
                      handler: Callable[[Request], Coroutine[Any, Any, Response]], key: str) -> Response:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1 to 255 printable characters.")
    scope = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()[:32]
    body = await request.body()
    digest = hashlib.sha256(b"\n".join(
        [request.method.encode(), request.url.path.encode(), request.url.query.encode(), body]
    )).hexdigest()

    def receipt(response: Response) -> dict[str, Any]:
        status, stored = response.status_code, bytes(response.body)
        headers = {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS}
        if "no-store" in response.headers.get("cache-control", ""):
            status, stored, headers = _kept_out(request, stored)
        return {"scope": scope, "key": key, "request_hash": digest, "status_code": status,
                "body": stored, "headers": headers, "created_at": utcnow()}

    # The key is looked for only when the request did not go through: a first request (the
    # common case) asks the database nothing more, and its receipt's insert is what finds a key
    # already used (the unique constraint, waiting for a twin still in flight).
    try:
        response = await _answer(request, work, handler, receipt)
    except Unauthorized:
        raise  # a token revoked since gets 401, not the answer stored for it
    except (IntegrityError, KeyUsed):
        found = await _stored(request, work, scope, key)
        if found is None:
            raise IdempotencyInFlight("Retry: a request with this key is in progress.") from None
        return _replay(found, digest)
    except Exception:
        found = await _stored(request, work, scope, key)
        if found is not None:
            return _replay(found, digest)
        raise
    if response.status_code >= 300:
        found = await _stored(request, work, scope, key)
        if found is not None:
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


async def _stored(request: Request, work: Work, scope: str, key: str) -> Mapping[str, Any] | None:
    """The answer kept for the key, for a caller whose token still holds."""
    found = await fetch_one(work.session, _STORED, scope=scope, key=key)
    if found is not None:
        await _confirm(request, work)
    return found


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
