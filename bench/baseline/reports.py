"""POST /tasks/{id}/reports: app/workflow/reports.py and the Idempotency-Key handling of
app/uow.py as ONE statement of data-modifying CTEs, so one round trip and one implicit
transaction: the token, the stored answer for the key, the obligation (locked), the period
(locked, created if new), the state change, the report upsert, the audit entry, the outbox
event and its deliveries, and the stored answer for the key, which the statement writes as
JSON itself so that a replay returns the very bytes first sent.

A request that breaks a rule writes nothing (every write hangs off `ok`); the answer is then
decided in Duban's order from what the statement read.
"""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response

from bench.baseline.common import (
    CONFLICT,
    DUE_DAY,
    FORBIDDEN,
    IN_FLIGHT,
    INVALID,
    JSON,
    KEY_REUSED,
    NOT_FOUND,
    NOT_SERVED,
    PERIOD_CLOSED,
    PRECONDITION,
    TOO_LARGE,
    TRANSITION,
    Problem,
    bearer,
    int_path,
    invalid_field,
    principal,
    today,
    unit_ref,
    unknown_token,
)
from bench.baseline.workflow_sql import FILE_REPORT, STORED

JSON_LIMIT = 1_000_000  # Settings.max_json_bytes
FIELDS = {"unit", "jurisdiction", "period", "progress", "summary", "milestone_values"}
_WHY = {
    "assigned": "it has not been accepted yet: accept it first (POST /api/v1/tasks/{task}/acceptance)",
    "accepted": "it is accepted and has no report yet",
    "completion_requested": "its completion request waits for the office's verification",
    "closed": "it is closed (销号)",
    "removed": "it was taken off the task",
    "group": "it is a group placeholder, a label: act on its members' obligations",
}
_REPORTABLE = ("accepted", "in_progress", "returned", "completion_requested")
_ATTEMPTS = 3


async def file_report(request: Request) -> Response:
    pool = request.app.state.pool
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > JSON_LIMIT:
        raise Problem(TOO_LARGE, f"The body is larger than {JSON_LIMIT} bytes; send a smaller one.")
    raw = await request.body()
    if len(raw) > JSON_LIMIT:
        raise Problem(TOO_LARGE, f"The body is larger than {JSON_LIMIT} bytes; send a smaller one.")
    _refuse_nul(request, raw)
    key, scope, request_hash = _idempotency(request, raw)
    try:
        data = _parse(raw, request.headers.get("content-type"))
    except Problem as refused:  # FastAPI answers a malformed body before it asks who calls
        return await _before_refusal(request, scope, key, request_hash, refused, auth=False)
    try:
        task_id, body = int_path(request, "task_id"), _body(data)
    except Problem as refused:
        return await _before_refusal(request, scope, key, request_hash, refused)
    digest = bearer(request)
    given = body.get("unit")
    now_month = f"{today():%Y-%m}"
    try:
        if body["period"] > now_month:
            raise Problem(INVALID, f"Period {body['period']} has not begun: report for "
                                   f"{now_month} or earlier.")
        if body.get("jurisdiction") is not None:
            raise Problem(NOT_SERVED, "The baseline does not resolve jurisdiction=.")
        unit_id = None if given is None else unit_ref(given)
        if digest is None and unit_id is None:
            raise Problem(INVALID, "The office acts for a unit here: give \"unit\".")
    except Problem as refused:
        return await _before_refusal(request, scope, key, request_hash, refused)
    values = body.get("milestone_values") or None
    args = [digest, unit_id, task_id, body["period"], body["progress"], body["summary"],
            orjson.dumps({str(k): v for k, v in values.items()} if values else None).decode(),
            sorted(values) if values else [], scope, key, request_hash, DUE_DAY,
            _if_match(request.headers.get("if-match"))]
    for _ in range(_ATTEMPTS):
        try:
            row = await pool.fetchrow(FILE_REPORT, *args)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "uq_idempotencyrecord_scope_key":
                raise
            # A racing twin with this key committed first: this statement changed nothing.
            stored = await pool.fetchrow(STORED, scope, key)
            if stored is None:
                raise Problem(IN_FLIGHT, "Retry: a request with this key is in progress.") from None
            return _replay(stored, request_hash)
        if row["idem_status_code"] is not None:
            return _replay(row, request_hash, prefix="idem_")
        _refuse(row, digest, unit_id, task_id, body, values)
        if row["report_id"] is not None:
            return Response(row["json"].encode(), status_code=201 if row["created"] else 200,
                            headers={"Location": f"/api/v1/reports/{row['report_id']}"},
                            media_type=JSON)
        # The first report of the period was inserted by a concurrent request: try again.
    raise Problem(CONFLICT, "The report kept changing while this request ran; send it again.")


def _refuse(row: Any, digest: str | None, unit_id: int | None, task_id: int, body: dict,
            values: dict | None) -> None:
    """Raise the answer Duban gives when the statement found a rule broken."""
    if digest is not None and row["token_id"] is None:
        raise unknown_token()
    if digest is not None and row["token_role"] != "unit":
        raise Problem(FORBIDDEN, "This token is read-only.")
    if unit_id is not None and not row["unit_exists"]:
        raise Problem(NOT_FOUND, f"No unit with id {unit_id}.")
    if unit_id is not None and row["token_unit"] is not None and row["token_unit"] != unit_id:
        raise Problem(FORBIDDEN, "A unit token acts for its own unit only.")
    if row["cur_id"] is None:
        if digest is not None:
            raise Problem(NOT_FOUND, f"No task {task_id} with an obligation of your unit.")
        if not row["task_exists"]:
            raise Problem(NOT_FOUND, f"No task {task_id}.")
        raise Problem(NOT_FOUND, f"Task {task_id} has no obligation for unit {unit_id}.")
    known = sorted(row["known"] or [])
    unknown = sorted(set(values or ()) - set(known))
    if unknown:
        raise Problem(INVALID, f"Milestones {unknown} are not milestones of task {task_id}; its "
                      f"milestones are {known or 'none'}.", milestones=known)
    if row["closed_at"] is not None:
        raise Problem(PERIOD_CLOSED, f"Period {body['period']} was closed on "
                      f"{row['closed_at']:%Y-%m-%d}: its reports can no longer be filed or "
                      "corrected.", period=body["period"])
    current = f'"assignment-{row["cur_id"]}-v{row["cur_version"]}"'
    if not row["tag_ok"]:
        raise Problem(PRECONDITION, "The resource changed since you read it: fetch it again, "
                      "re-apply your change, and send it with the new ETag.", current_etag=current)
    status = row["cur_status"]
    if status not in _REPORTABLE:
        why = _WHY.get(status, f"it is {status}").format(task=task_id)
        raise Problem(TRANSITION, f"Obligation {row['cur_id']} cannot do this now: {why}.",
                      current=status, assignment_id=row["cur_id"])


def _refuse_nul(request: Request, raw: bytes) -> None:
    path = request.scope.get("raw_path", b"") + b"?" + request.scope.get("query_string", b"")
    if b"%00" in path or b"\x00" in path:
        raise Problem(INVALID, "The path or query contains a NUL character; remove it.")
    if "json" in request.headers.get("content-type", "") and b"\\u0000" in raw:
        raise Problem(INVALID, "The JSON body contains a NUL character (\\u0000); remove it.")


def _idempotency(request: Request, raw: bytes) -> tuple[str | None, str | None, str | None]:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None, None, None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise Problem(INVALID, "Idempotency-Key must be 1 to 255 printable characters.")
    scope = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()[:32]
    digest = hashlib.sha256(b"\n".join([
        b"POST", request.scope["path"].encode(), request.scope["query_string"], raw])).hexdigest()
    return key, scope, digest


async def _before_refusal(request: Request, scope: str | None, key: str | None,
                          request_hash: str | None, refused: Problem, auth: bool = True) -> Response:
    """What precedes an error answer in Duban: a stored answer for the key (app/uow.py), then
    the caller's 401 and a reader's 403 (the Writer dependency)."""
    if key is not None:
        stored = await request.app.state.pool.fetchrow(STORED, scope, key)
        if stored is not None:
            return _replay(stored, request_hash)
    if auth:
        role, _, _ = await principal(request, bearer(request))
        if role not in ("admin", "unit"):
            raise Problem(FORBIDDEN, "This token is read-only.")
    raise refused


def _replay(row: Any, request_hash: str | None, prefix: str = "") -> Response:
    if row[f"{prefix}request_hash"] != request_hash:
        raise Problem(KEY_REUSED, "This Idempotency-Key was already used with a different "
                      "method, path or body; use a new key for a new request.")
    headers = dict(row[f"{prefix}headers"] or {})
    headers["idempotent-replayed"] = "true"
    media = headers.pop("content-type", JSON)
    return Response(bytes(row[f"{prefix}body"]), status_code=row[f"{prefix}status_code"],
                    headers=headers, media_type=media)


def _if_match(wanted: str | None) -> list[str] | None:
    if wanted is None or wanted.strip() == "*":
        return None
    return [t.strip().removeprefix("W/").strip('"') for t in wanted.split(",")]


def _parse(raw: bytes, content_type: str | None) -> Any:
    """The body as FastAPI reads it: JSON when the type says so or says nothing."""
    kind = (content_type or "application/json").partition(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        return raw
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_field("body", "JSON decode error", "json_invalid") from None


def _body(data: Any) -> dict[str, Any]:
    """ReportCreate's rules (extra fields forbidden), checked by hand."""
    if not isinstance(data, dict):
        raise invalid_field("body", "Input should be a valid dictionary", "model_attributes_type")
    for name in data.keys() - FIELDS:
        raise invalid_field(name, "Extra inputs are not permitted", "extra_forbidden")
    for name in ("unit", "jurisdiction"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise invalid_field(name, "Input should be a valid string", "string_type")
    period = data.get("period")
    if not isinstance(period, str) or len(period) != 7 or not period[:4].isdigit() \
            or period[4] != "-" or period[5:] not in {f"{m:02d}" for m in range(1, 13)}:
        raise invalid_field("period", "String should match pattern", "string_pattern_mismatch")
    progress = data.get("progress")
    if isinstance(progress, float) and progress.is_integer():
        progress = data["progress"] = int(progress)
    if not isinstance(progress, int) or isinstance(progress, bool) or not 0 <= progress <= 100:
        raise invalid_field("progress", "Input should be an integer from 0 to 100", "int_type")
    summary = data.get("summary")
    if not isinstance(summary, str) or not 1 <= len(summary) <= 20_000:
        raise invalid_field("summary", "String should have 1 to 20000 characters", "string_type")
    values = data.get("milestone_values")
    if values is not None:
        if not isinstance(values, dict) or not all(k.strip().lstrip("-").isdigit() for k in values):
            raise invalid_field("milestone_values", "Input should be a valid dictionary of "
                                "integer keys", "int_parsing")
        data["milestone_values"] = {int(k): v for k, v in values.items()}
    return data
