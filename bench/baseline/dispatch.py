"""GET /dispatch/{period}: app/dispatch/summary.py and facts.py as one hand-written statement
that also reads the token, the period rows (due days, closed) and whether the unit exists.

The SQL text depends on how many months the as-of day counts (0 to 12) and on whether one
unit or all are asked for; each text is built once and prepared by asyncpg per connection.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bench.baseline.common import (
    BAD_CURSOR,
    DUE_DAY,
    INVALID,
    NOT_FOUND,
    NOT_SERVED,
    TZ,
    Problem,
    as_of_param,
    bearer,
    decode_cursor,
    encode_cursor,
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

FORMS = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")
DUE_SOON, YELLOW, LAG_MARGIN, GRACE = 30, 14, 20, 4  # Settings defaults, lights.UNREPORTED_GRACE
LIGHTS = ("green", "yellow", "red")
_ZONE = "'Asia/Shanghai'"
_FIXED = 11  # parameters before the per-month ones


def _flag(conditions: list[str]) -> str:
    if not conditions:
        return "0"
    return " + ".join(f"CASE WHEN {c} THEN 1 ELSE 0 END" for c in conditions)


@cache
def statement(counted: int, one_unit: bool) -> str:
    """$1 token hash, $2 unit id, $3 as_of, $4 window start, $5 after window end, $6 the
    window's months, $7 page size + 1, $8 cursor unit id, $9 due-soon end, $10 yellow end,
    $11 default due day; then per month counted: its period, first day, the instant after its
    last day, the instant after its cut (its last day or as_of)."""
    p = [tuple(f"${_FIXED + 4 * k + i}" for i in range(1, 5)) for k in range(counted)]
    expected = [f"(a.created_at < {after_last} AND (a.is_open OR a.closed_at >= {after_cut}))"
                for _, _, after_last, after_cut in p]
    missing = [f"({e} AND r{k}.id IS NULL)" for k, e in enumerate(expected)]
    starts = f"coalesce(a.starts_on, (a.created_at AT TIME ZONE {_ZONE})::date)"
    total = f"(a.effective_deadline - {starts})"
    done = f"(CASE WHEN a.effective_deadline <= $3 THEN {total} ELSE $3 - {starts} END)"
    progress = "coalesce(a.progress, 0)"
    lagging = (f"(a.is_open AND a.effective_deadline IS NOT NULL AND CASE WHEN {total} <= 0 "
               f"THEN a.effective_deadline <= $3 AND {progress} + {LAG_MARGIN} < 100 ELSE "
               f"(a.progress IS NOT NULL OR {GRACE} * {done} > {total}) AND "
               f"100 * {done} > ({progress} + {LAG_MARGIN}) * {total} END)")
    late = f"(d.late AND {missing[-1]})" if counted else "false"
    yellow = (f"((a.is_open AND a.effective_deadline >= $3 AND a.effective_deadline <= $10) "
              f"OR {late} OR {lagging})")
    closed_in = "(a.status = 'closed' AND a.closed_at >= $4 AND a.closed_at < $5)"
    due_day = "coalesce((SELECT due_day FROM pr WHERE period = {0}), $11)"
    dues = [f"(({first}::date + {due_day.format(period)})::timestamp AT TIME ZONE {_ZONE}) AS due{k}"
            for k, (period, first, _, _) in enumerate(p)]
    if counted:
        period, first = p[-1][0], p[-1][1]
        dues.append(f"($3 > {first}::date + ({due_day.format(period)} - 1)) AS late")
    joins = "".join(f" LEFT JOIN report r{k} ON r{k}.assignment_id = a.id AND r{k}.period = {m[0]}"
                    for k, m in enumerate(p))
    unit = ("a.unit_id = coalesce($2::int, (SELECT unit_id FROM tok)) AND NOT EXISTS (SELECT 1 "
            "FROM tok WHERE unit_id IS NOT NULL AND $2::int IS NOT NULL AND unit_id <> $2)"
            if one_unit else "$2::int IS NULL")
    flags = ", ".join(f"sum(o.{n}) AS {n}" for n in (
        "expected", "reported", "missing", "on_time", "overdue", "due_soon", "closed",
        "closed_late", "closed_extended", "lagging"))
    return f"""
WITH tok AS (SELECT id, unit_id FROM apitoken WHERE token_hash = $1 AND revoked_at IS NULL),
pr AS (SELECT period, due_day, closed_at FROM reportingperiod WHERE period = ANY($6::text[])),
d AS (SELECT {", ".join(dues) or "1 AS nothing"}),
o AS (
  SELECT a.unit_id,
    {_flag(expected)} AS expected,
    {_flag([f"r{k}.id IS NOT NULL" for k in range(counted)])} AS reported,
    {_flag(missing)} AS missing,
    {_flag([f"({e} AND r{k}.created_at < d.due{k})" for k, e in enumerate(expected)])} AS on_time,
    CASE WHEN a.is_open AND a.effective_deadline < $3 THEN 1 ELSE 0 END AS overdue,
    CASE WHEN a.is_open AND a.effective_deadline >= $3 AND a.effective_deadline <= $9
         THEN 1 ELSE 0 END AS due_soon,
    CASE WHEN {closed_in} THEN 1 ELSE 0 END AS closed,
    CASE WHEN {closed_in} AND (a.closed_at AT TIME ZONE {_ZONE})::date > a.effective_deadline
         THEN 1 ELSE 0 END AS closed_late,
    CASE WHEN {closed_in} AND a.extended_to IS NOT NULL THEN 1 ELSE 0 END AS closed_extended,
    CASE WHEN {lagging} THEN 1 ELSE 0 END AS lagging,
    CASE WHEN a.is_open AND a.effective_deadline < $3 THEN 2
         WHEN a.is_open AND {yellow} THEN 1 ELSE 0 END AS light,
    CASE WHEN a.status = 'closed' THEN 100 ELSE coalesce(a.progress, 0) END AS progress
  FROM assignment a CROSS JOIN d{joins}
  WHERE a.status NOT IN ('group', 'removed') AND a.created_at < $5
    AND (a.is_open OR a.closed_at >= $4) AND {unit} AND ($8::int IS NULL OR a.unit_id > $8)),
units AS (
  SELECT o.unit_id, count(*) AS assignments, {flags}, max(o.light) AS light,
    sum(CASE WHEN o.light = 0 THEN 1 ELSE 0 END) AS green,
    sum(CASE WHEN o.light = 1 THEN 1 ELSE 0 END) AS yellow,
    sum(CASE WHEN o.light = 2 THEN 1 ELSE 0 END) AS red, avg(o.progress) AS progress
  FROM o GROUP BY o.unit_id ORDER BY o.unit_id LIMIT $7)
SELECT (SELECT id FROM tok) AS token_id, (SELECT unit_id FROM tok) AS token_unit,
  ($2::int IS NULL OR EXISTS (SELECT 1 FROM unit WHERE id = $2)) AS unit_exists,
  (SELECT json_agg(json_build_array(period, due_day, closed_at IS NOT NULL)) FROM pr) AS periods,
  (SELECT json_agg(json_build_array(
     u.unit_id, u.assignments, u.expected, u.reported, u.missing, u.on_time, u.overdue,
     u.due_soon, u.closed, u.closed_late, u.closed_extended, u.lagging, u.light, u.green,
     u.yellow, u.red, u.progress, n.name, n.short_name, j.name,
     (SELECT count(r.id) FROM reminder r
      WHERE r.unit_id = u.unit_id AND r.created_at >= $4 AND r.created_at < $5))
   ORDER BY u.unit_id)
   FROM units u JOIN unit n ON n.id = u.unit_id
   LEFT JOIN jurisdiction j ON j.id = n.jurisdiction_id) AS units
"""


def parse(period: str) -> tuple[str, date, date, list[str]]:
    found = FORMS.match(period)
    year = int(found.group(1)) if found else 0
    if found is None or not 1949 <= year <= 9998:
        raise Problem(INVALID, f"Period {period!r} is not YYYY-MM, YYYY-Qn or YYYY "
                      "(e.g. 2025-03, 2025-Q1, 2025).", period=period)
    if found.group(2):
        kind, numbers = "month", [int(found.group(2))]
    elif found.group(3):
        first = 3 * int(found.group(3)) - 2
        kind, numbers = "quarter", [first, first + 1, first + 2]
    else:
        kind, numbers = "year", list(range(1, 13))
    last = numbers[-1]
    return (kind, date(year, numbers[0], 1), date(year, last, monthrange(year, last)[1]),
            [f"{year}-{n:02d}" for n in numbers])


def _instant(day: date) -> datetime:
    return datetime.combine(day, time(), TZ).astimezone(UTC)


def _after(day: date) -> datetime:
    return _instant(day + timedelta(days=1))


async def dispatch_summary(request: Request) -> Response:
    digest = bearer(request)
    period = request.path_params["period"]
    try:
        if len(period) > 16:
            raise invalid_field("path.period", "String should have at most 16 characters",
                                "string_too_long")
        raw_unit, given = text_param(request, "unit", 128), as_of_param(request)
        limit, cursor = limit_param(request, 100), text_param(request, "cursor", 512)
        if text_param(request, "jurisdiction", 64) is not None:
            raise Problem(NOT_SERVED, "The baseline does not resolve jurisdiction=.")
        kind, start, end, months = parse(period)
        unit_id = None if raw_unit is None else unit_ref(raw_unit)
    except Problem:
        await principal(request, digest)
        raise
    as_of = given if given is not None else min(today(), end)
    cutoff = min(as_of, end)
    firsts = [date(int(m[:4]), int(m[5:]), 1) for m in months]
    counted = [(m, f) for m, f in zip(months, firsts, strict=True) if f <= cutoff]
    bad_cursor = False
    try:
        after = _cursor(cursor)
    except Problem:  # the unit is checked first, as in Duban; the cursor's 422 follows
        after, bad_cursor = None, True
    args: list[Any] = [digest, unit_id, as_of, _instant(start), _after(end), months, limit + 1,
                       after, as_of + timedelta(days=DUE_SOON),
                       as_of + timedelta(days=YELLOW), DUE_DAY]
    for name, first in counted:
        last = date(first.year, first.month, monthrange(first.year, first.month)[1])
        args += [name, first, _after(last), _after(min(last, as_of))]
    pool = request.app.state.pool
    row = await pool.fetchrow(statement(len(counted), unit_id is not None or digest is not None),
                              *args)
    if digest is not None and row["token_id"] is None:
        raise unknown_token()
    if unit_id is None and digest is not None and row["token_unit"] is None:
        row = await pool.fetchrow(statement(len(counted), False), *args)  # a global reader
    if not row["unit_exists"]:
        raise Problem(NOT_FOUND, f"No unit with id {unit_id}.")
    if unit_id is not None and row["token_unit"] is not None and row["token_unit"] != unit_id:
        raise Problem(NOT_FOUND, "A unit token reads its own unit's dispatch only: leave unit= out.")
    if bad_cursor:
        raise Problem(INVALID, BAD_CURSOR)
    stored = {p: (day, closed) for p, day, closed in row["periods"] or []}
    month_out = []
    for name, first in zip(months, firsts, strict=True):
        due_day, closed = stored.get(name, (DUE_DAY, False))
        month_out.append({"period": name, "due_date": first.replace(day=due_day), "closed": closed})
    rows = row["units"] or []
    return ok({
        "period": period, "kind": kind, "window": {"start": start, "end": end}, "as_of": as_of,
        "due_date": month_out[0]["due_date"] if kind == "month" else None,
        "closed": month_out[0]["closed"] if kind == "month" else None,
        "months": month_out, "units": [_unit(r) for r in rows[:limit]],
        "next_cursor": encode_cursor([rows[limit - 1][0]]) if len(rows) > limit else None})


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _unit(r: list[Any]) -> dict[str, Any]:
    (unit_id, assignments, expected, reported, missing, on_time, overdue, due_soon, closed,
     closed_late, closed_extended, lagging, light, green, yellow, red, progress, name,
     short_name, jurisdiction, reminders) = r
    return {
        "unit": short_name, "unit_id": unit_id, "unit_name": name, "jurisdiction": jurisdiction,
        "assignments": assignments, "expected_reports": expected, "reported": reported,
        "missing": missing, "on_time_reports": on_time, "overdue": overdue,
        "due_soon": due_soon, "closed": closed, "closed_late": closed_late,
        "closed_extended": closed_extended, "lagging": lagging,
        "lights": {"red": red, "yellow": yellow, "green": green}, "light": LIGHTS[light],
        "progress": None if progress is None else round(float(progress), 1),
        "stats": {"completion_rate": _rate(closed, assignments),
                  "on_time_report_rate": _rate(on_time, expected), "overdue": overdue,
                  "reminders": reminders}}


def _cursor(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not is_int(values[0]):
        raise Problem(INVALID, BAD_CURSOR)
    return values[0]
