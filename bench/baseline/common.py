"""What every route of the baseline shares: the caller, problem+json, query values, JSON.

Statuses, codes, titles and details are Duban's own (app/errors.py, app/problems.py), so an
error answers the same body from both services.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response

TZ = ZoneInfo("Asia/Shanghai")
DUE_DAY = 25  # Settings.report_due_day
PAGE_MAX = 500
JSON = "application/json"
PROBLEM = "application/problem+json"
BAD_CURSOR = "The cursor is not valid: pass next_cursor from the previous page unchanged."

NOT_FOUND = (404, "not_found", "Not found")
INVALID = (422, "invalid_input", "Invalid input")
VALIDATION = (422, "validation_error", "The request is not valid")
UNAUTHORIZED = (401, "unauthorized", "Authentication required")
FORBIDDEN = (403, "forbidden", "Not allowed")
CONFLICT = (409, "conflict", "Conflict")
TRANSITION = (409, "invalid_transition", "Not allowed in the current state")
PERIOD_CLOSED = (409, "period_closed", "The reporting period is closed")
IN_FLIGHT = (409, "idempotency_in_flight",
             "A request with this Idempotency-Key is still being processed")
KEY_REUSED = (422, "idempotency_key_reused", "This Idempotency-Key was used for a different request")
PRECONDITION = (412, "precondition_failed", "The resource has changed since you read it")
TOO_LARGE = (413, "payload_too_large", "Request body too large")
UNSUPPORTED = (415, "unsupported_media_type", "Unsupported media type")
UNAVAILABLE = (503, "database_unavailable", "The database is unavailable")
NOT_SERVED = (501, "not_served", "Not served by the baseline")


class Problem(Exception):
    def __init__(self, kind: tuple[int, str, str], detail: str, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.title = kind
        self.detail, self.headers, self.extra = detail, headers, extra

    def response(self, path: str) -> Response:
        body = {"type": f"urn:duban:problem:{self.code}", "title": self.title,
                "status": self.status, "detail": self.detail, "code": self.code,
                "instance": path, **self.extra}
        return Response(orjson.dumps(body, default=str), status_code=self.status,
                        headers=self.headers, media_type=PROBLEM)


def invalid_field(field: str, message: str, kind: str) -> Problem:
    """A 422 in the shape of Duban's RequestValidationError answer."""
    return Problem(VALIDATION, f"Fix these fields and send again: {field}.",
                   errors=[{"field": field, "message": message, "type": kind}])


def dumps(value: Any) -> bytes:
    # OPT_UTC_Z writes instants as Pydantic does ("…Z"), so a body hashes as Duban's.
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


def ok(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(value), status_code=status, headers=headers, media_type=JSON)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(request: Request) -> str | None:
    """The SHA-256 of the caller's token, or None for the office's admin token (the one
    token no table holds). The stored tokens are checked by each route's own statement."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(UNAUTHORIZED, "Send Authorization: Bearer <token>.",
                      headers={"WWW-Authenticate": "Bearer"})
    digest = hash_token(token.strip())
    admin = request.app.state.admin_digest
    if admin is not None and hmac.compare_digest(digest, admin):
        return None
    return digest


def unknown_token() -> Problem:
    return Problem(UNAUTHORIZED, "The token is unknown or revoked.",
                   headers={"WWW-Authenticate": "Bearer"})


async def principal(request: Request, digest: str | None) -> tuple[str, int | None, int | None]:
    """(role, unit id, token id) on the way to an error answer: 401 comes first, as in Duban."""
    if digest is None:
        return "admin", None, None
    row = await request.app.state.pool.fetchrow(
        "SELECT id, role, unit_id FROM apitoken WHERE token_hash = $1 AND revoked_at IS NULL",
        digest)
    if row is None:
        raise unknown_token()
    return row["role"], row["unit_id"], row["id"]


def today() -> date:
    return datetime.now(TZ).date()


def as_of_param(request: Request, name: str = "as_of") -> date | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> date:
    raise invalid_field(f"query.{name}", "Input should be a valid date", "date_from_datetime_parsing")


def limit_param(request: Request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit():
        raise invalid_field("query.limit", "Input should be a valid integer", "int_parsing")
    value = int(raw)
    if value < 1:
        raise invalid_field("query.limit", "Input should be greater than or equal to 1",
                            "greater_than_equal")
    if value > PAGE_MAX:
        raise invalid_field("query.limit", f"Input should be less than or equal to {PAGE_MAX}",
                            "less_than_equal")
    return value


def text_param(request: Request, name: str, size: int) -> str | None:
    raw = request.query_params.get(name)
    if raw is not None and len(raw) > size:
        raise invalid_field(f"query.{name}", f"String should have at most {size} characters",
                            "string_too_long")
    return raw


def int_path(request: Request, name: str) -> int:
    raw = request.path_params[name]
    if not raw.lstrip("-").isdigit():
        raise invalid_field(f"path.{name}", "Input should be a valid integer", "int_parsing")
    return int(raw)


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise Problem(INVALID, BAD_CURSOR)
    return values


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def unit_ref(raw: str) -> int:
    """Units are named by id here: the benchmark's requests do, and names and aliases would
    need the registry's fuzzy resolution, which is not what is being measured."""
    text = "".join(raw.split())
    if not text:
        raise Problem((422, "unknown_unit", "Unknown unit"), "A unit name or id is required.",
                      suggestions=[])
    if not text.isdigit():
        raise Problem(NOT_SERVED, "The baseline takes unit ids only; Duban also resolves names.")
    if int(text) > 2**31 - 1:
        raise Problem(NOT_FOUND, f"No unit with id {text}.")
    return int(text)
