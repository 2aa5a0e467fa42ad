"""The report statement of bench/baseline/reports.py, and the stored answer of a key.

FILE_REPORT: $1 token hash (NULL: the office), $2 the unit named in the body (NULL: the unit
token's own), $3 task id, $4 period, $5 progress, $6 summary, $7 milestone values as JSON text,
$8 their milestone ids, $9 idempotency scope (NULL: no key), $10 key, $11 request hash,
$12 default due day, $13 the If-Match tags (NULL: none or *).
"""

from __future__ import annotations


def _iso(ts: str) -> str:
    """An instant as Pydantic writes it: no fraction when whole seconds, else microseconds."""
    return (f"to_char({ts} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
            f"extract(microseconds FROM {ts})::bigint % 1000000 = 0 THEN '' ELSE "
            f"to_char({ts} AT TIME ZONE 'UTC', '.US') END || 'Z'")


def _snapshot(row: str) -> str:
    """app/workflow/transitions.py snapshot(): the obligation before and after."""
    names = ("status", "role", "own_deadline", "extended_to", "effective_deadline", "is_open",
             "progress", "last_period", "via_group_id", "version")
    return "jsonb_build_object(" + ", ".join(f"'{n}', {row}.{n}" for n in names) + ")"


def _content(row: str) -> str:
    names = ("period", "progress", "summary", "milestone_values", "version")
    return "jsonb_build_object(" + ", ".join(f"'{n}', {row}.{n}" for n in names) + ")"


_OBLIGATION = ("id, task_id, unit_id, role, status, own_deadline, extended_to, effective_deadline, "
               "is_open, progress, last_period, via_group_id, version")
_REPORT = ("id, assignment_id, task_id, unit_id, period, progress, summary, milestone_values, "
           "version, created_at, updated_at")
_TAG = "'assignment-' || cur.id || '-v' || cur.version"

FILE_REPORT = f"""
WITH tok AS (SELECT id, role, unit_id FROM apitoken WHERE token_hash = $1 AND revoked_at IS NULL),
idem AS (SELECT request_hash, status_code, body, headers FROM idempotencyrecord
         WHERE scope = $9 AND key = $10),
who AS (
  SELECT CASE WHEN $1::text IS NULL THEN 'admin' ELSE 'token:' || tok.id END AS actor,
         tok.unit_id AS actor_unit, coalesce(tok.unit_id, $2) AS unit_id
  FROM (SELECT 1) AS one LEFT JOIN tok ON true
  WHERE NOT EXISTS (SELECT 1 FROM idem) AND ($1::text IS NULL OR tok.role = 'unit')
    AND ($2::int IS NULL OR tok.unit_id IS NULL OR tok.unit_id = $2)),
cur AS (
  SELECT {", ".join("a." + c.strip() for c in _OBLIGATION.split(","))},
    ($13::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($13::text[]) AS t(tag)
      WHERE t.tag = 'assignment-' || a.id || '-v' || a.version
         OR starts_with(t.tag, 'assignment-' || a.id || '-v' || a.version || '-'))) AS tag_ok
  FROM assignment a JOIN who ON a.unit_id = who.unit_id
  WHERE a.task_id = $3 AND a.status <> 'group'
  FOR UPDATE OF a),
per AS (SELECT closed_at FROM reportingperiod WHERE period = $4 FOR SHARE),
ms AS (SELECT coalesce(array_agg(id ORDER BY id), '{{}}') AS known FROM milestone
       WHERE task_id = $3 AND cardinality($8::int[]) > 0),
-- The id a new report takes, drawn where Duban draws it (app/workflow/reports.py): for an
-- obligation that takes reports, in a period not closed, that has no report for it yet.
drawn AS (
  SELECT nextval(pg_get_serial_sequence('report', 'id')) AS id FROM cur
  WHERE cur.status IN ('accepted', 'in_progress', 'returned', 'completion_requested')
    AND NOT EXISTS (SELECT 1 FROM per WHERE closed_at IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM report r WHERE r.assignment_id = cur.id AND r.period = $4)),
ok AS (
  SELECT cur.* FROM cur
  WHERE NOT EXISTS (SELECT 1 FROM per WHERE closed_at IS NOT NULL)
    AND $8::int[] <@ (SELECT known FROM ms) AND cur.tag_ok
    AND cur.status IN ('accepted', 'in_progress', 'returned', 'completion_requested')),
pins AS (
  INSERT INTO reportingperiod (period, due_day) SELECT $4, $12 FROM ok
  WHERE NOT EXISTS (SELECT 1 FROM per) ON CONFLICT (period) DO NOTHING),
upd AS (
  UPDATE assignment a SET
    status = CASE WHEN a.status = 'accepted' THEN 'in_progress' ELSE a.status END,
    is_open = true, effective_deadline = coalesce(a.extended_to, a.own_deadline, a.task_deadline),
    version = a.version + 1, updated_at = now(),
    progress = CASE WHEN a.last_period IS NULL OR a.last_period <= $4 THEN $5 ELSE a.progress END,
    last_period = CASE WHEN a.last_period IS NULL OR a.last_period <= $4 THEN $4
                       ELSE a.last_period END
  FROM ok WHERE a.id = ok.id
    -- a correction of an older month leaves the obligation as it is
    AND (ok.last_period IS NULL OR $4 >= ok.last_period OR ok.status = 'accepted')
  RETURNING {", ".join("a." + c.strip() for c in _OBLIGATION.split(","))}),
oldr AS (
  SELECT r.id, r.period, r.progress, r.summary, r.milestone_values, r.version
  FROM report r JOIN ok ON r.assignment_id = ok.id WHERE r.period = $4 FOR UPDATE OF r),
updr AS (
  UPDATE report r SET progress = $5, summary = $6, milestone_values = $7::text::jsonb,
    version = r.version + 1, updated_at = now()
  FROM oldr WHERE r.id = oldr.id
  RETURNING {", ".join("r." + c.strip() for c in _REPORT.split(","))}),
insr AS (
  INSERT INTO report (id, assignment_id, task_id, unit_id, period, progress, summary,
                      milestone_values, version, created_at, updated_at)
  SELECT drawn.id, ok.id, $3, ok.unit_id, $4, $5, $6, $7::text::jsonb, 1, now(), now()
  FROM ok, drawn
  ON CONFLICT (assignment_id, period) DO NOTHING RETURNING {_REPORT}),
rep AS (SELECT *, false AS created FROM updr UNION ALL SELECT *, true AS created FROM insr),
aud AS (
  INSERT INTO audit_log (at, actor, actor_unit_id, action, entity, entity_id, task_id, unit_id,
                         before, after)
  SELECT now(), who.actor, who.actor_unit,
    CASE WHEN rep.created THEN 'report.created' ELSE 'report.corrected' END, 'report', rep.id,
    $3, ok.unit_id,
    jsonb_build_object('report', (SELECT {_content("o")} FROM oldr o),
                       'assignment', {_snapshot("ok")}),
    jsonb_build_object('report', {_content("rep")},
                       'assignment', coalesce((SELECT {_snapshot("u")} FROM upd u),
                                              {_snapshot("ok")}))
  FROM rep, ok, who),
ev AS (
  INSERT INTO event (type, task_id, assignment_id, unit_id, payload, dedupe_key, created_at)
  SELECT 'report.submitted', $3, ok.id, ok.unit_id, jsonb_build_object(
    'task', jsonb_build_object('id', t.id, 'number', t.number, 'title', t.title,
                               'document_id', t.document_id),
    'unit', jsonb_build_object('id', u.id, 'name', u.name, 'short_name', u.short_name),
    'assignment_id', ok.id,
    'report', jsonb_build_object('id', rep.id, 'period', rep.period, 'progress', rep.progress,
                                 'summary', rep.summary, 'corrected', NOT rep.created)),
    NULL, now()
  FROM rep, ok JOIN task t ON t.id = ok.task_id JOIN unit u ON u.id = ok.unit_id
  RETURNING id),
dlv AS (
  INSERT INTO delivery (event_id, webhook_id, task_id, status, attempts, next_attempt_at,
                        created_at)
  SELECT ev.id, w.id, $3, 'pending', 0, now(), now() FROM ev, webhook w
  WHERE w.active AND (w.events ? '*' OR w.events ? 'report.submitted') ORDER BY w.id),
body AS (
  SELECT rep.id, rep.created, json_build_object(
    'id', rep.id, 'assignment_id', rep.assignment_id, 'task_id', rep.task_id,
    'unit_id', rep.unit_id, 'period', rep.period, 'progress', rep.progress,
    'summary', rep.summary, 'milestone_values', rep.milestone_values, 'version', rep.version,
    'created_at', {_iso("rep.created_at")}, 'updated_at', {_iso("rep.updated_at")})::text AS json
  FROM rep),
idi AS (
  INSERT INTO idempotencyrecord (scope, key, request_hash, status_code, body, headers,
                                 created_at)
  SELECT $9, $10, $11, CASE WHEN b.created THEN 201 ELSE 200 END, convert_to(b.json, 'UTF8'),
    jsonb_build_object('content-type', 'application/json',
                       'location', '/api/v1/reports/' || b.id), now()
  FROM body b WHERE $9::text IS NOT NULL)
SELECT (SELECT id FROM tok) AS token_id, (SELECT role FROM tok) AS token_role,
  (SELECT unit_id FROM tok) AS token_unit,
  (SELECT request_hash FROM idem) AS idem_request_hash,
  (SELECT status_code FROM idem) AS idem_status_code, (SELECT body FROM idem) AS idem_body,
  (SELECT headers FROM idem) AS idem_headers,
  CASE WHEN $2::int IS NOT NULL THEN EXISTS (SELECT 1 FROM unit WHERE id = $2) END AS unit_exists,
  (SELECT id FROM cur) AS cur_id, (SELECT status FROM cur) AS cur_status,
  (SELECT version FROM cur) AS cur_version, (SELECT tag_ok FROM cur) AS tag_ok,
  CASE WHEN NOT EXISTS (SELECT 1 FROM cur) THEN EXISTS (SELECT 1 FROM task WHERE id = $3)
  END AS task_exists,
  (SELECT closed_at FROM per) AS closed_at, (SELECT known FROM ms) AS known,
  (SELECT id FROM drawn) AS drawn_id, (SELECT id FROM body) AS report_id, (SELECT created FROM body) AS created,
  (SELECT json FROM body) AS json
"""

STORED = ("SELECT request_hash, status_code, body, headers FROM idempotencyrecord "
          "WHERE scope = $1 AND key = $2")
