"""Load a benchmark scale into an empty PostgreSQL database, the way Duban would have stored it.

    python -m bench.generate --scale S|M|L --dsn postgresql+asyncpg://user@host:port/db

Migrates the database (alembic, as app/serve.py does) and loads, as of the end of May 2026: one
city, its ~300 units with their aliases and tokens, documents of 100 tasks (S 1k tasks, M 100k,
L 1M), each task with a milestone, a lead and three responsible obligations due 2022-2030. 30%
of the obligations are closed (a fifth of the tasks whole, the rest part by part); of the open
ones 10% are assigned, 15% accepted and 75% in progress, reported for each month of 2026-03..05
(one in ten missed). Only obligations in progress have reports, as in the app: about 1.4 per
obligation. Rows go in by COPY into the tables and columns the SQLModel metadata names; a
column the generator does not know takes its model default, or the load stops and says so.
Deterministic for a scale and seed; writes bench/out/manifest-<scale>.json (the tokens, the
inputs of the five benchmarked requests, the row counts and the load times).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import sqlalchemy as sa
from sqlmodel import SQLModel

from app import models
from app.serve import migrate
from bench import documents

OUT = Path(__file__).parent / "out"
SCALES = {"S": 1_000, "M": 100_000, "L": 1_000_000}
SEED = 20260531
TZ = ZoneInfo("Asia/Shanghai")
FIRST_ISSUE, SNAPSHOT = date(2021, 7, 1), date(2026, 5, 31)  # the data stands as of SNAPSHOT
MONTHS = ("2026-03", "2026-04", "2026-05")
PERIOD, AS_OF, DISPATCH_AS_OF = "2026-05", date(2026, 6, 30), date(2026, 5, 31)
TASK_CLOSED, PART_CLOSED = 0.2, 1 / 6  # 0.2 * 4 + 0.8 * 3 * 1/6 = 1.2 of 4 obligations: 30%
PAIRS, TASK_SAMPLE, CHUNK = 5000, 1000, 20  # report pairs, task ids, documents per COPY
SUMMARIES = ("本月按计划推进,已完成阶段性目标,正在开展下一阶段工作。",
             "项目前期手续已办结,施工单位已进场,形象进度符合序时要求。",
             "已召开专题调度会,梳理问题清单,明确整改责任和时限。",
             "受资金拨付影响进度略有滞后,已协调财政部门加快拨付。")


@dataclass
class Manifest:
    scale: str
    seed: int
    admin_token: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # COPY time per table, "total"
    tokens: dict[int, str] = field(default_factory=dict)  # unit id -> its plain token
    get_task: dict[str, Any] = field(default_factory=dict)
    overdue: dict[str, Any] = field(default_factory=dict)
    dispatch: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{**data, "tokens": {int(k): v for k, v in data["tokens"].items()}})


def instant(day: date, hour: float = 10.0) -> datetime:
    return (datetime.combine(day, clock(), TZ) + timedelta(hours=hour)).astimezone(UTC)


def token(rng: random.Random) -> str:
    return "dbn_" + base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")


class Copier:
    """COPY rows (dicts keyed by column name) into a model's table. The columns come from the
    metadata: a key the table lacks, or a required column nobody filled, stops the load."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.rows: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)

    async def copy(self, model: type[SQLModel], rows: list[dict]) -> None:
        if not rows:
            return
        table: sa.Table = model.__table__
        names = [c.name for c in table.columns]
        unknown = set(rows[0]) - set(names)
        if unknown:
            raise ValueError(f"{table.name} has no column {sorted(unknown)}: bench/generate.py is "
                             "out of date with app/models.py")
        fill = {c.name: _default(table, c) for c in table.columns if c.name not in rows[0]}
        json_columns = [c.name for c in table.columns if isinstance(c.type, sa.JSON)]
        for row, name in ((r, n) for r in rows for n in json_columns if r.get(n) is not None):
            row[name] = orjson.dumps(row[name]).decode()
        records = [tuple(row[n] if n in row else fill[n] for n in names) for row in rows]
        began = time.perf_counter()
        await self.conn.copy_records_to_table(table.name, records=records, columns=names)
        self.seconds[table.name] += time.perf_counter() - began
        self.rows[table.name] += len(records)


def _default(table: sa.Table, column: sa.Column) -> Any:
    default = column.default
    if default is not None and default.is_scalar:
        return getattr(default.arg, "value", default.arg)  # an enum member as its value
    if default is not None and default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a callable default to take a context
    if column.nullable:
        return None
    raise ValueError(f"{table.name}.{column.name} is required and has no default: teach "
                     "bench/generate.py what to write in it")


@dataclass
class State:
    """What the rows of all documents so far add up to: ids, and the manifest's samples."""

    seed: int
    units: list[documents.UnitSpec]
    unit_ids: list[int]
    ids: Counter[str] = field(default_factory=Counter)
    overdue: Counter[int] = field(default_factory=Counter)  # unit id -> obligations overdue at AS_OF
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (task id, unit id), a reservoir
    pairs_seen: int = 0
    task_ids: list[int] = field(default_factory=list)
    sampler: random.Random = field(default_factory=random.Random)

    def next(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def keep(self, sample: list, seen: int, size: int, item: Any) -> None:
        if len(sample) < size:
            sample.append(item)
        elif (j := self.sampler.randrange(seen)) < size:
            sample[j] = item


def document_rows(state: State, index: int, issued_on: date, number: int) -> dict[str, list[dict]]:
    """Every row one document of 100 tasks puts in the database."""
    rng = random.Random(state.seed * 1_000_003 + index)
    deadlines, picks = documents.sample(rng, issued_on, len(state.units))
    built = documents.build(documents.make_doc_number("赣市府办字", issued_on.year, number),
                            str(number), issued_on, deadlines, rng, state.units, picks)
    created = instant(issued_on, rng.uniform(9, 17))
    document_id = state.next("document")
    out: dict[str, list[dict]] = defaultdict(list)
    out["document"].append({
        "id": document_id, "key": f"no:{built.doc_number}", "title": built.title,
        "issuer": documents.ISSUER, "doc_number": built.doc_number, "issued_on": issued_on,
        "period_start": built.period[0], "period_end": built.period[1], "jurisdiction_id": 1,
        "format": "text", "encoding": "utf-8", "version": 1, "text": built.text,
        "content_hash": hashlib.sha256(built.text.encode()).hexdigest(),
        "meta": {"document": built.meta().model_dump(mode="json"), "rules": [], "warnings": []},
        "created_at": created, "updated_at": created})
    for ordinal, task in enumerate(built.tasks):
        task_id = state.next("task")
        closed_at = _closing(rng, created, task.deadline) if rng.random() < TASK_CLOSED else None
        named = [[state.units[i].name, role] for i, _, role in task.units]
        out["task"].append({
            "id": task_id, "document_id": document_id, "parent_id": None, "ordinal": ordinal,
            "number": task.number, "kind": "task", "title": task.title, "text": task.text,
            "section_path": task.section_path, "deadline": task.deadline,
            "deadline_text": task.deadline_text, "deadline_source": "text", "ongoing": False,
            "status": "closed" if closed_at else "open", "closed_at": closed_at,
            "source": task.source.json(), "version": 2 if closed_at else 1,
            "detail": {"units_text": task.units_text, "leaders": [], "period": None, "named": named},
            "created_at": created, "updated_at": closed_at or created})
        m = task.milestone
        out["milestone"].append({
            "id": state.next("milestone"), "task_id": task_id, "ordinal": 0, "text": m.text,
            "due": m.due, "due_text": m.due_text, "metric": m.metric, "target": m.target,
            "target_stretch": None, "optional": False, "source": m.source.json()})
        state.keep(state.task_ids, task_id, TASK_SAMPLE, task_id)
        for unit_index, _, role in task.units:
            _obligation(state, out, rng, task_id, state.unit_ids[unit_index], role, task.deadline,
                        created, issued_on, closed_at)
    return out


def _closing(rng: random.Random, created: datetime, deadline: date) -> datetime:
    """When a closed obligation was closed: after a few weeks, by its deadline or a little
    after, and before the snapshot."""
    lo = created + timedelta(days=20)
    hi = min(instant(deadline, 17) + timedelta(days=30), instant(SNAPSHOT - timedelta(days=15), 17))
    return lo + (hi - lo) * rng.random() if hi > lo else lo + timedelta(days=rng.uniform(1, 10))


def _obligation(state: State, out: dict[str, list[dict]], rng: random.Random, task_id: int,
                unit_id: int, role: str, deadline: date, created: datetime, starts_on: date,
                task_closed_at: datetime | None) -> None:
    assignment_id = state.next("assignment")
    accepted_at = created + timedelta(days=rng.uniform(1, 10))
    row = {"id": assignment_id, "task_id": task_id, "unit_id": unit_id, "role": role,
           "via_group_id": None, "origin": "document", "own_deadline": None, "extended_to": None,
           "task_deadline": deadline, "effective_deadline": deadline, "starts_on": starts_on,
           "progress": None, "last_period": None, "accepted_at": accepted_at, "closed_at": None,
           "created_at": created}
    closed_at = task_closed_at
    if closed_at is None and role == "responsible" and rng.random() < PART_CLOSED:
        closed_at = _closing(rng, created, deadline)
    if closed_at is not None:
        # accepted, completion requested (the lead's, or this unit's part), then 销号
        out["assignment"].append({**row, "status": "closed", "is_open": False,
                                  "accepted_at": min(accepted_at, closed_at - timedelta(hours=1)),
                                  "closed_at": closed_at, "version": 4, "updated_at": closed_at})
        return
    draw = rng.random()
    reports = _reports(rng, assignment_id, task_id, unit_id, accepted_at) if draw >= 0.25 else []
    status = "assigned" if draw < 0.1 else "in_progress" if reports else "accepted"
    last = reports[-1] if reports else None
    out["report"] += reports
    out["assignment"].append({
        **row, "status": status, "is_open": True,
        "accepted_at": None if status == "assigned" else accepted_at,
        "progress": last["progress"] if last else None, "last_period": last["period"] if last else None,
        "version": 1 if status == "assigned" else 2 + len(reports),
        "updated_at": last["created_at"] if last else accepted_at if status != "assigned" else created})
    if deadline < AS_OF:
        state.overdue[unit_id] += 1
    if status != "assigned":
        state.pairs_seen += 1
        state.keep(state.pairs, state.pairs_seen, PAIRS, (task_id, unit_id))


def _reports(rng: random.Random, assignment_id: int, task_id: int, unit_id: int,
             accepted_at: datetime) -> list[dict]:
    """Monthly reports, most by the 25th, a month missed one time in ten; progress grows."""
    out, progress = [], rng.randint(0, 40)
    for period in MONTHS:
        year, month = int(period[:4]), int(period[5:])
        day = rng.randint(10, 25) if rng.random() < 0.8 else rng.randint(26, 28)
        filed = instant(date(year, month, day), rng.uniform(9, 18))
        if filed <= accepted_at or rng.random() < 0.1:
            continue
        progress = min(100, progress + rng.randint(5, 20))
        out.append({"id": None, "assignment_id": assignment_id, "task_id": task_id,
                    "unit_id": unit_id, "period": period, "progress": progress,
                    "summary": rng.choice(SUMMARIES), "milestone_values": None, "version": 1,
                    "created_at": filed, "updated_at": filed})
    return out


async def _registry(copier: Copier, rng: random.Random, units: list[documents.UnitSpec]
                    ) -> tuple[list[int], dict[int, str]]:
    """The city, its units and aliases as the importer writes them, a token per unit, and the
    reporting periods (the office closed March and April; May is open)."""
    start, ids = instant(FIRST_ISSUE - timedelta(days=30)), list(range(1, len(units) + 1))
    tokens = {i: token(rng) for i in ids}
    aliases = [(i, a) for i, u in zip(ids, units, strict=True) for a in sorted(documents.aliases(u))]
    rows = {
        models.Jurisdiction: [{"id": 1, "name": documents.CITY.name, "level": "city", "parent_id": None}],
        models.Unit: [{"id": i, "name": u.name, "short_name": u.forms[0], "jurisdiction_id": 1,
                       "is_group": False, "created_at": start} for i, u in zip(ids, units, strict=True)],
        models.UnitAlias: [{"id": n, "unit_id": i, "scope": 1, "alias": a}
                           for n, (i, a) in enumerate(aliases, 1)],
        models.ApiToken: [{"id": i, "token_hash": hashlib.sha256(t.encode()).hexdigest(), "role": "unit",
                           "unit_id": i, "label": "bench", "created_at": start, "revoked_at": None}
                          for i, t in tokens.items()],
        models.ReportingPeriod: [
            {"period": "2026-03", "due_day": 25, "closed_at": instant(date(2026, 4, 5))},
            {"period": "2026-04", "due_day": 25, "closed_at": instant(date(2026, 5, 6))},
            {"period": "2026-05", "due_day": 25, "closed_at": None}]}
    for model, batch in rows.items():
        await copier.copy(model, batch)
    return ids, tokens


def issue_dates(rng: random.Random, count: int) -> list[tuple[date, int]]:
    """Each document's issue date, in order, and its number within its year (at most 4 digits)."""
    span = (SNAPSHOT - FIRST_ISSUE).days
    days = sorted(FIRST_ISSUE + timedelta(days=rng.randrange(span)) for _ in range(count))
    per_year: Counter[int] = Counter()
    out = []
    for day in days:
        per_year[day.year] += 1
        out.append((day, per_year[day.year]))
    return out


async def generate(dsn: str, scale: str, seed: int = SEED, log=print) -> Manifest:
    """Migrate the (empty) database at `dsn` and load `scale` into it."""
    began = time.perf_counter()
    dsn = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    await asyncio.to_thread(migrate, dsn)
    conn = await asyncpg.connect(dsn.replace("+asyncpg", "", 1))
    try:
        if await conn.fetchval("SELECT count(*) FROM task"):
            raise RuntimeError("the database already holds tasks: generate into an empty one")
        try:  # the rows are consistent by construction: skip the foreign-key triggers
            await conn.execute("SET session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError:
            log("generate: not a superuser, loading with foreign-key checks")
        copier = Copier(conn)
        rng = random.Random(seed)
        units = documents.catalogue()
        unit_ids, tokens = await _registry(copier, rng, units)
        manifest = Manifest(scale, seed, "bench-admin-" + rng.randbytes(12).hex(), tokens=tokens)
        state = State(seed, units, unit_ids, sampler=random.Random(seed + 1))
        dated = issue_dates(rng, SCALES[scale] // documents.TASKS_PER_DOCUMENT)
        chunks = [dated[k:k + CHUNK] for k in range(0, len(dated), CHUNK)]
        await _load(copier, state, chunks, log)
        await _finish(conn, copier, log)
    finally:
        await conn.close()
    _describe(manifest, state, copier, time.perf_counter() - began)
    return manifest


async def _load(copier: Copier, state: State, chunks: list[list[tuple[date, int]]], log) -> None:
    """Build the next chunk in a thread while the database takes this one."""
    def build(chunk: list[tuple[date, int]]) -> dict[str, list[dict]]:
        rows: dict[str, list[dict]] = defaultdict(list)
        for issued_on, number in chunk:
            for table, more in document_rows(state, state.ids["document"], issued_on, number).items():
                rows[table] += more
        for report in rows["report"]:
            report["id"] = state.next("report")
        return rows

    pending = asyncio.create_task(asyncio.to_thread(build, chunks[0])) if chunks else None
    for k in range(len(chunks)):
        rows = await pending
        if k + 1 < len(chunks):
            pending = asyncio.create_task(asyncio.to_thread(build, chunks[k + 1]))
        for model in (models.Document, models.Task, models.Milestone, models.Assignment, models.Report):
            await copier.copy(model, rows[model.__tablename__])
        if (k + 1) % 50 == 0:
            log(f"generate: {state.ids['task']} tasks, {state.ids['assignment']} obligations")


async def _finish(conn: asyncpg.Connection, copier: Copier, log) -> None:
    """Sequences past the ids written, and a vacuum: the visibility map that index-only scans
    need, and the statistics, as autovacuum would have left them."""
    for table in SQLModel.metadata.sorted_tables:
        if "id" in table.columns:
            name = f'"{table.name}"'
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                               f"coalesce(max(id), 0) + 1, false) FROM {name}")
    began = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE)")
    copier.seconds["vacuum analyze"] = time.perf_counter() - began
    log(f"generate: vacuum analyze {copier.seconds['vacuum analyze']:.1f} s")


def _describe(manifest: Manifest, state: State, copier: Copier, seconds: float) -> None:
    manifest.counts = dict(copier.rows)
    manifest.seconds = {**{k: round(v, 2) for k, v in copier.seconds.items()}, "total": round(seconds, 1)}
    ranked = sorted(state.overdue.items(), key=lambda kv: (kv[1], kv[0]))
    unit_id, overdue = ranked[len(ranked) // 2]  # the median unit: a typical overdue list
    manifest.get_task = {"task_id": state.task_ids[0], "task_ids": sorted(state.task_ids)}
    manifest.overdue = {"unit_id": unit_id, "token": manifest.tokens[unit_id], "as_of": AS_OF.isoformat(),
                        "limit": 50, "open_overdue": overdue}
    manifest.dispatch = {"unit_id": unit_id, "period": PERIOD, "as_of": DISPATCH_AS_OF.isoformat()}
    manifest.report = {"period": PERIOD, "pairs": [[t, manifest.tokens[u]] for t, u in state.pairs],
                       "units": len({u for _, u in state.pairs})}
    manifest.document = {"max_document_id": state.ids["document"], "max_task_id": state.ids["task"],
                         "tasks_per_document": documents.TASKS_PER_DOCUMENT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="S")
    parser.add_argument("--dsn", required=True, help="postgresql+asyncpg://user@host:port/database")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--manifest", type=Path, help="default bench/out/manifest-<scale>.json")
    args = parser.parse_args()
    manifest = asyncio.run(generate(args.dsn, args.scale, args.seed))
    path = manifest.save(args.manifest or OUT / f"manifest-{args.scale}.json")
    print(f"{summary(manifest)}\nmanifest: {path}")


def summary(manifest: Manifest) -> str:
    lines = [f"scale {manifest.scale}: loaded in {manifest.seconds['total']:.1f} s"]
    for table, rows in sorted(manifest.counts.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {table:<16} {rows:>10,} rows  {manifest.seconds.get(table, 0):7.2f} s")
    lines.append(f"  {'vacuum analyze':<16} {'':>10}       {manifest.seconds.get('vacuum analyze', 0):7.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
