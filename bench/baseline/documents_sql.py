"""The statements of bench/baseline/documents.py. Rows travel as one array per column and
come back out of unnest(); JSON columns travel as text and are cast, so that None is stored as
JSON null, as SQLAlchemy's JSON type stores it."""

from __future__ import annotations

_COUNTS = """
  (SELECT count(*) FROM task t WHERE t.document_id = d.id AND t.parent_id IS NULL
     AND t.status <> 'withdrawn') AS tasks,
  (SELECT count(*) FROM task t WHERE t.document_id = d.id AND t.parent_id IS NOT NULL
     AND t.status <> 'withdrawn') AS clauses,
  (SELECT count(*) FROM assignment a JOIN task t ON t.id = a.task_id
   WHERE t.document_id = d.id AND a.status NOT IN ('group', 'removed')) AS obligations"""

SUMMARY = f"""
SELECT d.id, d.title, d.doc_number, d.version,
  coalesce(d.meta -> 'warnings', '[]'::jsonb) AS warnings, {_COUNTS}
FROM document d WHERE d.id = $1
"""

# $1 content hash, $2 key: the same text (its summary), else a known key (a revision).
LOOKUP = f"""
SELECT (SELECT id FROM document WHERE key = $2) AS known, s.*
FROM (SELECT 1) AS one LEFT JOIN (
  SELECT d.id, d.title, d.doc_number, d.version,
    coalesce(d.meta -> 'warnings', '[]'::jsonb) AS warnings, {_COUNTS}
  FROM document d WHERE d.id = (SELECT id FROM document WHERE content_hash = $1 LIMIT 1)) s ON true
"""

# $1 parent name, $2 its level, $3 the document's jurisdiction, $4 its level. Inserted only
# when missing, as Duban does: an insert that meets the row still draws an id.
JURISDICTIONS = """
WITH pi AS (INSERT INTO jurisdiction (name, level, parent_id) SELECT $1::text, $2::text, NULL
            WHERE $1::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jurisdiction WHERE name = $1::text)
            ON CONFLICT (name) DO NOTHING RETURNING id),
p AS (SELECT id FROM pi UNION ALL SELECT id FROM jurisdiction WHERE name = $1::text),
oi AS (INSERT INTO jurisdiction (name, level, parent_id)
       SELECT $3::text, $4::text, (SELECT id FROM p)
       WHERE NOT EXISTS (SELECT 1 FROM jurisdiction WHERE name = $3::text)
       ON CONFLICT (name) DO NOTHING RETURNING id)
SELECT (SELECT id FROM p) AS parent,
  (SELECT id FROM oi UNION ALL SELECT id FROM jurisdiction WHERE name = $3::text) AS own
"""

# $1-$4 units (name, short name, jurisdiction, is group), $5-$7 aliases (unit name, scope,
# alias), $8 the names the document writes as groups. Answers every unit named, and whether
# it is a group whose members are known (then the import expands it).
UNITS = """
WITH want AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bool[])
              WITH ORDINALITY AS w(name, short_name, jurisdiction_id, is_group, n)),
-- Only the units not known yet are inserted, as Duban does (an insert that skips a known
-- row would still spend a sequence value).
ins AS (INSERT INTO unit (name, short_name, jurisdiction_id, is_group, created_at)
        SELECT name, short_name, jurisdiction_id, is_group, now() FROM want
        WHERE NOT EXISTS (SELECT 1 FROM unit u WHERE u.name = want.name) ORDER BY n
        ON CONFLICT (name) DO NOTHING RETURNING id, name),
ids AS (SELECT id, name FROM ins
        UNION ALL SELECT u.id, u.name FROM unit u JOIN want ON want.name = u.name),
al AS (INSERT INTO unitalias (unit_id, scope, alias)
       SELECT ids.id, a.scope, a.alias
       FROM unnest($5::text[], $6::int[], $7::text[]) WITH ORDINALITY AS a(name, scope, alias, n)
       JOIN ids ON ids.name = a.name
       WHERE NOT EXISTS (SELECT 1 FROM unitalias k WHERE k.scope = a.scope AND k.alias = a.alias)
       ORDER BY a.n
       ON CONFLICT (scope, alias) DO NOTHING)
SELECT ids.name, ids.id, ids.name = ANY($8::text[])
  AND EXISTS (SELECT 1 FROM groupmember g WHERE g.group_id = ids.id) AS expands
FROM ids
"""



# $1-$13 the document; $14-$26 tasks; $27-$36 milestones; $37-$41 obligations (task ordinal,
# unit, role, deadline, group); $42 when their clocks start; $43-$52 indicators; $53 the audit
# entry's after; $54, $55 the counts of tasks and clauses.
STORE = """
WITH doc AS (
  INSERT INTO document (key, content_hash, text, title, issuer, doc_number, issued_on,
                        period_start, period_end, jurisdiction_id, format, encoding, meta,
                        version, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::jsonb, 1, now(), now())
  RETURNING id),
tid AS (SELECT o, nextval('task_id_seq')::int AS id FROM unnest($14::int[]) AS o),
ins_task AS (
  INSERT INTO task (id, document_id, parent_id, ordinal, number, kind, title, text, section_path,
                    deadline, deadline_text, deadline_source, ongoing, status, closed_at, source,
                    detail, version, created_at, updated_at)
  SELECT t.id, doc.id, p.id, x.ord, x.number, x.kind, x.title, x.text, x.section_path::jsonb,
    x.deadline, x.deadline_text, x.deadline_source, x.ongoing, 'open', NULL, x.source::jsonb,
    x.detail::jsonb, 1, now(), now()
  FROM unnest($14::int[], $15::int[], $16::text[], $17::text[], $18::text[], $19::text[],
              $20::text[], $21::date[], $22::text[], $23::text[], $24::bool[], $25::text[],
              $26::text[]) AS x(ord, parent, number, kind, title, text, section_path, deadline,
                                deadline_text, deadline_source, ongoing, source, detail)
  JOIN tid t ON t.o = x.ord LEFT JOIN tid p ON p.o = x.parent CROSS JOIN doc
  ORDER BY x.ord),
ins_milestone AS (
  INSERT INTO milestone (task_id, ordinal, text, due, due_text, metric, target, target_stretch,
                         optional, source)
  SELECT t.id, y.k, y.text, y.due, y.due_text, y.metric, y.target, y.target_stretch, y.optional,
    y.source::jsonb
  FROM unnest($27::int[], $28::int[], $29::text[], $30::date[], $31::text[], $32::text[],
              $33::text[], $34::text[], $35::bool[], $36::text[])
       WITH ORDINALITY AS y(task_ord, k, text, due, due_text, metric, target, target_stretch,
                            optional, source, n)
  JOIN tid t ON t.o = y.task_ord ORDER BY y.n),
ins_obligation AS (
  INSERT INTO assignment (task_id, unit_id, role, via_group_id, origin, own_deadline,
                          extended_to, task_deadline, effective_deadline, status, is_open,
                          starts_on, progress, last_period, accepted_at, closed_at, version,
                          created_at, updated_at)
  SELECT t.id, z.unit_id, z.role, NULL, 'document', NULL, NULL, z.deadline, z.deadline,
    CASE WHEN z.grp THEN 'group' ELSE 'assigned' END, NOT z.grp, $42::date, NULL, NULL, NULL,
    NULL, 1, now(), now()
  FROM unnest($37::int[], $38::int[], $39::text[], $40::date[], $41::bool[])
       WITH ORDINALITY AS z(task_ord, unit_id, role, deadline, grp, n)
  JOIN tid t ON t.o = z.task_ord ORDER BY z.n
  ON CONFLICT (task_id, unit_id) DO NOTHING RETURNING status),
ins_indicator AS (
  INSERT INTO indicator (document_id, ordinal, number, name, unit, standard, baseline,
                         baseline_year, targets, attribute, detail)
  SELECT doc.id, i.ordinal, i.number, i.name, i.unit, i.standard, i.baseline, i.baseline_year,
    i.targets::jsonb, i.attribute, i.detail::jsonb
  FROM unnest($43::int[], $44::text[], $45::text[], $46::text[], $47::text[], $48::text[],
              $49::int[], $50::text[], $51::text[], $52::text[])
       AS i(ordinal, number, name, unit, standard, baseline, baseline_year, targets, attribute,
            detail)
  CROSS JOIN doc ORDER BY i.ordinal),
audit AS (
  INSERT INTO audit_log (at, actor, actor_unit_id, action, entity, entity_id, task_id, unit_id,
                         before, after)
  SELECT now(), 'admin', NULL, 'document.imported', 'document', doc.id, NULL, NULL,
    'null'::jsonb, $53::text::jsonb FROM doc)
SELECT (SELECT id FROM doc) AS id, $4 AS title, $6 AS doc_number, 1 AS version,
  $54::int AS tasks, $55::int AS clauses,
  (SELECT count(*) FROM ins_obligation WHERE status <> 'group') AS obligations,
  coalesce($13::text::jsonb -> 'warnings', '[]'::jsonb) AS warnings
"""

# obligations.expand_group(group, joined=()): a member owes on every open task that names the
# group; members that left lose their open obligations from it.
EXPAND = """
WITH m AS (SELECT member_id FROM groupmember WHERE group_id = $1),
ins AS (
  INSERT INTO assignment (task_id, unit_id, role, via_group_id, origin, own_deadline,
                          extended_to, task_deadline, effective_deadline, status, is_open,
                          starts_on, progress, last_period, accepted_at, closed_at, version,
                          created_at, updated_at)
  SELECT p.task_id, m.member_id, p.role, $1, 'group', p.own_deadline, NULL, p.task_deadline,
    coalesce(p.own_deadline, p.task_deadline), 'assigned', true, p.starts_on, NULL, NULL, NULL,
    NULL, 1, now(), now()
  FROM assignment p JOIN task t ON t.id = p.task_id AND t.status = 'open' CROSS JOIN m
  WHERE p.unit_id = $1 AND p.status = 'group' ORDER BY p.task_id, m.member_id
  ON CONFLICT (task_id, unit_id) DO NOTHING)
UPDATE assignment SET status = 'removed', is_open = false, version = version + 1,
  updated_at = now()
WHERE via_group_id = $1 AND unit_id NOT IN (SELECT member_id FROM m)
  AND status IN ('assigned', 'accepted', 'in_progress', 'completion_requested', 'returned')
"""
