"""GET /tasks/{id} and GET /units/{unit}/overdue, each one statement that also checks the token.

The task view is app/tasks/service.py's: the same fields in the same order, so that its bytes,
and with them the weak ETag Duban derives from them, are the same.
"""

from __future__ import annotations

import hashlib
from datetime import date
from statistics import fmean
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bench.baseline.common import (
    BAD_CURSOR,
    INVALID,
    JSON,
    NOT_FOUND,
    NOT_SERVED,
    Problem,
    as_of_param,
    bearer,
    decode_cursor,
    dumps,
    encode_cursor,
    int_path,
    invalid_field,
    is_int,
    limit_param,
    ok,
    principal,
    text_param,
    today,
    unit_ref,
    unknown_token,
)

OPEN = frozenset({"assigned", "accepted", "in_progress", "completion_requested", "returned"})
RANK = "CASE a.role WHEN 'lead' THEN 0 WHEN 'responsible' THEN 1 ELSE 2 END"

# $1 task id, $2 token hash (NULL for the office), $3 as_of. A unit sees a task it is on, or
# the parent of a clause it is on; for any other task the row comes back empty (404).
TASK = f"""
WITH tok AS (SELECT id, unit_id FROM apitoken WHERE token_hash = $2 AND revoked_at IS NULL),
family AS (SELECT $1::int AS id UNION ALL SELECT id FROM task WHERE parent_id = $1),
t AS (
  SELECT t.id, t.document_id, t.parent_id, t.number, t.kind, t.title, t.text, t.section_path,
         t.deadline, t.deadline_text, t.deadline_source, t.ongoing, t.status, t.closed_at,
         t.version, t.source, t.detail, d.title AS doc_title, d.doc_number, d.issuer,
         p.number AS parent_number, p.title AS parent_title
  FROM task t JOIN document d ON d.id = t.document_id LEFT JOIN task p ON p.id = t.parent_id
  WHERE t.id = $1 AND (NOT EXISTS (SELECT 1 FROM tok WHERE unit_id IS NOT NULL) OR EXISTS (
    SELECT 1 FROM assignment a JOIN tok ON a.unit_id = tok.unit_id
    WHERE a.status <> 'group' AND a.task_id IN (SELECT id FROM family))))
SELECT (SELECT id FROM tok) AS token_id, (SELECT unit_id FROM tok) AS token_unit, t.*,
  (SELECT json_agg(json_build_array(s.id, s.number, s.title, s.status, s.deadline)
                   ORDER BY s.ordinal)
   FROM task s WHERE s.parent_id = t.id) AS subtasks,
  (SELECT json_agg(json_build_array(m.id, m.text, m.due, m.due_text, m.metric, m.target,
                                    m.target_stretch, m.optional, m.source)
                   ORDER BY m.ordinal, m.id)
   FROM milestone m WHERE m.task_id = t.id) AS milestones,
  (SELECT json_agg(json_build_array(a.id, a.task_id, a.unit_id, a.role, a.status, a.origin,
                                    a.own_deadline, a.extended_to, a.effective_deadline,
                                    a.progress, a.last_period, a.version, u.name, u.short_name,
                                    g.name, $3::date - a.effective_deadline)
                   ORDER BY {RANK}, a.unit_id)
   FROM assignment a JOIN unit u ON u.id = a.unit_id LEFT JOIN unit g ON g.id = a.via_group_id
   WHERE a.task_id IN (SELECT id FROM family)) AS obligations
FROM (SELECT 1) AS one LEFT JOIN t ON true
"""


async def task_detail(request: Request) -> Response:
    digest = bearer(request)
    try:
        task_id, as_of = int_path(request, "task_id"), as_of_param(request)
    except Problem:
        await principal(request, digest)
        raise
    as_of = as_of or today()
    row = await request.app.state.pool.fetchrow(TASK, task_id, digest, as_of)
    if digest is not None and row["token_id"] is None:
        raise unknown_token()
    if row["id"] is None:
        raise Problem(NOT_FOUND, f"No task {task_id}.")
    body = dumps(_view(row, row["token_unit"], as_of))
    digest12 = hashlib.sha1(body).hexdigest()[:12]
    tag = f'W/"task-{task_id}-v{row["version"]}-{digest12}"'
    headers = {"ETag": tag, "Vary": "Authorization"}
    if _matches(request.headers.get("if-none-match"), tag[2:]):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type=JSON)


def _view(t: Any, unit_id: int | None, as_of: date) -> dict[str, Any]:
    rows = t["obligations"] or []
    # [0 id, 1 task_id, 2 unit_id, 3 role, 4 status, 5 origin, 6 own_deadline, 7 extended_to,
    #  8 effective_deadline, 9 progress, 10 last_period, 11 version, 12 unit name,
    #  13 short name, 14 group name, 15 days past the effective deadline]
    own = [r for r in rows if r[1] == t["id"]]
    in_force = [r for r in rows if r[4] not in ("group", "removed")]
    leads = unit_id is None or any(r[2] == unit_id and r[3] == "lead" for r in in_force)
    shown = [r for r in own if r[4] != "group" and (leads or r[2] == unit_id)]
    detail = t["detail"] or {}
    return {
        "id": t["id"], "document_id": t["document_id"], "parent_id": t["parent_id"],
        "number": t["number"], "kind": t["kind"], "title": t["title"], "text": t["text"],
        "section_path": t["section_path"], "deadline": t["deadline"],
        "deadline_text": t["deadline_text"], "deadline_source": t["deadline_source"],
        "ongoing": t["ongoing"], "status": t["status"], "closed_at": t["closed_at"],
        "version": t["version"], "source": _source(t["source"]),
        "document": {"id": t["document_id"], "title": t["doc_title"],
                     "doc_number": t["doc_number"], "issuer": t["issuer"]},
        "parent": None if t["parent_id"] is None else
        {"id": t["parent_id"], "number": t["parent_number"], "title": t["parent_title"]},
        "subtasks": [{"id": s[0], "number": s[1], "title": s[2], "status": s[3], "deadline": s[4]}
                     for s in t["subtasks"] or []],
        "milestones": [{"id": m[0], "text": m[1], "due": m[2], "due_text": m[3], "metric": m[4],
                        "target": m[5], "target_stretch": m[6], "optional": m[7],
                        "source": _source(m[8])} for m in t["milestones"] or []],
        "detail": {"units_text": detail.get("units_text"), "leaders": detail.get("leaders", []),
                   **{k: v for k, v in detail.items() if k not in ("units_text", "leaders")}},
        "assignments": [_assignment(r) for r in shown],
        "groups": [{"id": r[2], "name": r[12], "short_name": r[13], "role": r[3]}
                   for r in own if r[4] == "group"],
        "rollup": _rollup(in_force) if leads else None,
        "as_of": as_of,
    }


def _late(r: list[Any]) -> bool:
    return r[4] in OPEN and r[15] is not None and r[15] > 0


def _assignment(r: list[Any]) -> dict[str, Any]:
    late = _late(r)
    return {"id": r[0], "unit": {"id": r[2], "name": r[12], "short_name": r[13]}, "role": r[3],
            "status": r[4], "via_group": r[14], "origin": r[5], "own_deadline": r[6],
            "extended_to": r[7], "effective_deadline": r[8], "overdue": late,
            "days_overdue": r[15] if late else 0, "progress": r[9], "last_period": r[10],
            "etag": f'"assignment-{r[0]}-v{r[11]}"'}


def _rollup(rows: list[list[Any]]) -> dict[str, Any]:
    reported = [r[9] for r in rows if r[9] is not None]
    return {"obligations": len(rows), "open": sum(1 for r in rows if r[4] in OPEN),
            "closed": sum(1 for r in rows if r[4] == "closed"),
            "overdue": sum(1 for r in rows if _late(r)),
            "progress": round(fmean(reported), 1) if reported else None}


def _source(s: dict[str, Any] | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"line": s["line"], "end_line": s["end_line"], "start": s["start"], "end": s["end"],
            "text": s["text"]}


def _matches(if_none_match: str | None, tag: str) -> bool:
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or tag in tags


# $1 token hash, $2 unit id, $3 as_of, $4 page size + 1 [, $5 deadline, $6 task id] [, role].
# The page is one range of ix_assignment_open_by_unit; a unit token asking for another unit's
# list reads nothing.
def _overdue_sql(role: bool, after: bool) -> str:
    return f"""
WITH tok AS (SELECT id, unit_id FROM apitoken WHERE token_hash = $1 AND revoked_at IS NULL),
page AS (
  SELECT a.id, a.task_id, a.role, a.status, a.effective_deadline FROM assignment a
  WHERE a.unit_id = $2 AND a.is_open AND a.effective_deadline < $3
    {"AND (a.effective_deadline, a.task_id) > ($5::date, $6::int)" if after else ""}
    {f"AND a.role = ${7 if after else 5}" if role else ""}
    AND NOT EXISTS (SELECT 1 FROM tok WHERE unit_id IS NOT NULL AND unit_id <> $2)
  ORDER BY a.effective_deadline, a.task_id LIMIT $4)
SELECT (SELECT id FROM tok) AS token_id, (SELECT unit_id FROM tok) AS token_unit,
  EXISTS (SELECT 1 FROM unit WHERE id = $2) AS unit_exists,
  (SELECT json_agg(json_build_array(p.id, p.task_id, p.role, p.status, p.effective_deadline,
                                    t.number, t.title, t.document_id, d.title,
                                    $3::date - p.effective_deadline)
                   ORDER BY p.effective_deadline, p.task_id)
   FROM page p JOIN task t ON t.id = p.task_id JOIN document d ON d.id = t.document_id) AS items
"""


OVERDUE = {(role, after): _overdue_sql(role, after) for role in (False, True)
           for after in (False, True)}
ROLES = ("lead", "responsible", "cooperating")


async def unit_overdue(request: Request) -> Response:
    digest = bearer(request)
    try:
        as_of, limit = as_of_param(request), limit_param(request, 50)
        role = request.query_params.get("role")
        if role is not None and role not in ROLES:
            raise invalid_field("query.role", "Input should be 'lead', 'responsible' or "
                                "'cooperating'", "enum")
        cursor = text_param(request, "cursor", 512)
        if request.query_params.get("jurisdiction") is not None:
            raise Problem(NOT_SERVED, "The baseline does not resolve jurisdiction=.")
        unit_id = unit_ref(request.path_params["unit"])
    except Problem:
        await principal(request, digest)
        raise
    as_of = as_of or today()
    bad_cursor = False
    try:
        after = _cursor(cursor)
    except Problem:  # the unit is checked first, as in Duban; the cursor's 422 follows
        after, bad_cursor = None, True
    args: list[Any] = [digest, unit_id, as_of, limit + 1, *(after or ())]
    if role is not None:
        args.append(role)
    sql = OVERDUE[(role is not None, bool(after))]
    row = await request.app.state.pool.fetchrow(sql, *args)
    if digest is not None and row["token_id"] is None:
        raise unknown_token()
    if not row["unit_exists"]:
        raise Problem(NOT_FOUND, f"No unit with id {unit_id}.")
    if row["token_unit"] is not None and row["token_unit"] != unit_id:
        raise Problem(NOT_FOUND, "A unit token reads its own unit's overdue list only.")
    if bad_cursor:
        raise Problem(INVALID, BAD_CURSOR)
    rows = row["items"] or []
    items = [{"task": {"id": r[1], "number": r[5], "title": r[6],
                       "document": {"id": r[7], "title": r[8]}},
              "role": r[2], "deadline": r[4], "days_overdue": max(r[9], 0), "status": r[3],
              "assignment_id": r[0]} for r in rows[:limit]]
    following = None
    if len(rows) > limit:
        following = encode_cursor([rows[limit - 1][4], rows[limit - 1][1]])
    return ok({"items": items, "next_cursor": following, "as_of": as_of})


def _cursor(cursor: str | None) -> tuple[date, int] | None:
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        deadline, task_id = date.fromisoformat(values[0]), values[1]
    except (TypeError, ValueError):
        raise Problem(INVALID, BAD_CURSOR) from None
    if not is_int(task_id):
        raise Problem(INVALID, BAD_CURSOR)
    return deadline, task_id
