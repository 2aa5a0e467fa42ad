"""RFC 9457 problem+json: one renderer for every error, and its schema for the OpenAPI."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.errors import DomainError

log = logging.getLogger("duban")
MEDIA_TYPE = "application/problem+json"
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_error"}


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str
    title: str
    status: int
    detail: str | None = None
    code: str
    instance: str | None = None
    errors: list[FieldError] | None = None


def problem(status: int, code: str, title: str, detail: str | None, request: Request | None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body = {"type": f"urn:duban:problem:{code}", "title": title, "status": status,
            "detail": detail, "code": code,
            "instance": request.url.path if request is not None else None, **extra}
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=MEDIA_TYPE,
                    headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route can answer with."""
    return {s: {"model": Problem, "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                "description": _HTTP_CODES.get(s, "error").replace("_", " ")} for s in statuses}


async def _domain(request: Request, exc: DomainError) -> Response:
    headers = exc.headers or ({"Retry-After": "5"} if exc.status_code == 503 else None)
    return problem(exc.status_code, exc.code, exc.title, exc.detail, request, headers, **exc.extra)


async def _validation(request: Request, exc: RequestValidationError) -> Response:
    errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
               "message": e.get("msg", "invalid"), "type": e.get("type", "invalid")}
              for e in exc.errors()]
    fields = ", ".join(e["field"] for e in errors[:5])
    return problem(422, "validation_error", "The request is not valid",
                   f"Fix these fields and send again: {fields}.", request, errors=errors)


async def _http(request: Request, exc: StarletteHTTPException) -> Response:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return problem(exc.status_code, code, code.replace("_", " ").capitalize(), str(exc.detail),
                   request, dict(exc.headers or {}))


# SQLSTATEs of a server that is away rather than a statement that is wrong: class 08 (connection
# exception), 57P01-57P03 (shutting down, crashed, starting up), 53300 (too many connections).
# asyncpg's driver raises them as a plain DBAPIError when a new connection is refused.
_AWAY = ("08", "57P01", "57P02", "57P03", "53300")


async def _database(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DBAPIError) and not exc.connection_invalidated \
            and not isinstance(exc, OperationalError | InterfaceError) \
            and not (getattr(exc.orig, "sqlstate", None) or "").startswith(_AWAY):
        return await _unexpected(request, exc)
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem(503, "database_unavailable", "The database is unavailable",
                   "The service cannot reach its database; retry shortly.", request,
                   {"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", "Internal error",
                   "The request failed on our side; nothing was saved.", request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(ConnectionError, _database)
    app.add_exception_handler(OSError, _database)
    app.add_exception_handler(Exception, _unexpected)
