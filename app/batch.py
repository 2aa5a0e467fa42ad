"""Writes decided from what was read, applied whole or not at all, in one round trip.

A hot write reads what it needs, decides by the rules in Python, and stages its writes in a
Batch, each guarded by what the decision assumed: a row still at the version read, a period
still open, the caller's token still live. On PostgreSQL the batch is one statement: its steps
become data-modifying CTEs, each gated on every guard before it, and the database commits them
once. On SQLite the steps run in order in the session's transaction, where one writer at a time
holds the database. Either way a failed guard writes nothing: `apply` raises Stale, and the
caller decides again on fresh reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select, Update, visitors
from sqlalchemy.sql.elements import BindParameter

from app.query import Query, fetch, run

# Raised by the statement itself when a guard failed after a write of the same batch had been
# made: the statement aborts, so its implicit transaction writes nothing.
_PARTIAL = "duban: batch partly applied"


class Stale(Exception):
    """A guard of the batch did not hold: what it was decided from has changed."""

    def __init__(self, step: str) -> None:
        super().__init__(f"batch step {step!r} found nothing to apply to")
        self.step = step


@dataclass(frozen=True, slots=True)
class Ref:
    """A value another step of the batch returns (an event's id for its deliveries)."""

    step: str
    column: str


@dataclass(slots=True)
class _Step:
    kind: str  # "require", "update" or "insert"
    name: str
    statement: Any  # a Select or Update (require, update), a Table (insert)
    params: dict[str, Any]
    must: bool
    postgresql_only: bool = False
    skip_conflicts_on: tuple[str, ...] | None = None
    refs: dict[str, Ref] = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        return (self.kind, self.name, self.statement, tuple(self.params), self.must,
                self.postgresql_only, self.skip_conflicts_on, tuple(self.refs.items()))


class Batch:
    def __init__(self) -> None:
        self._steps: list[_Step] = []

    def __bool__(self) -> bool:
        return bool(self._steps)

    def require(self, name: str, statement: Select, *, postgresql_only: bool = False,
                first: bool = False, **params: Any) -> None:
        """A guard: `statement` (locking what it reads, as it says) must return a row. `first`
        puts it before every step already staged: a guard after a write makes a failure cost an
        aborted statement, and the batch's caller then only learns that it was stale."""
        self._steps.insert(0 if first else len(self._steps),
                           _Step("require", name, statement, params, True, postgresql_only))

    def update(self, name: str, statement: Update, **params: Any) -> None:
        """A compare-and-set: `statement` (with RETURNING) must change a row."""
        self._steps.append(_Step("update", name, statement, params, True))

    def insert(self, name: str, table: Table, values: Mapping[str, Any], *,
               skip_conflicts_on: tuple[str, ...] | None = None, must: bool = False) -> None:
        """One row. With `skip_conflicts_on`, a row whose key exists is skipped (and with `must`,
        that makes the batch stale)."""
        refs = {k: v for k, v in values.items() if isinstance(v, Ref)}
        params = {k: v for k, v in values.items() if not isinstance(v, Ref)}
        self._steps.append(_Step("insert", name, table, params, must,
                                 skip_conflicts_on=skip_conflicts_on, refs=refs))

    async def apply(self, session: AsyncSession) -> None:
        """All steps, or none (Stale)."""
        if session.bind.dialect.name == "postgresql":
            await self._apply_as_one(session)
        else:
            await self._apply_in_order(session)

    async def _apply_as_one(self, session: AsyncSession) -> None:
        shape = tuple(s.shape for s in self._steps)
        query = _COMPOSED.get(shape)
        if query is None:
            query = _COMPOSED[shape] = Query(_compose(self._steps))
        params = {f"{s.name}_{k}": v for s in self._steps for k, v in s.params.items()}
        # Outside a transaction the statement is one (autocommit); inside one, a part of it.
        execute = run if session.in_transaction() else fetch
        try:
            [counts] = await execute(session, query, **params)
        except DBAPIError as exc:
            if _PARTIAL in str(exc.orig):
                raise Stale("partial") from None
            raise
        for step in self._steps:
            if step.must and not counts[step.name]:
                raise Stale(step.name)

    async def _apply_in_order(self, session: AsyncSession) -> None:
        returned: dict[str, Mapping[str, Any]] = {}
        for step in self._steps:
            if step.postgresql_only:
                continue
            query = _PLAIN.get(step.shape)
            if query is None:
                query = _PLAIN[step.shape] = Query(_plain(step))
            params = {f"{step.name}_{k}": v for k, v in step.params.items()}
            for key, ref in step.refs.items():
                params[f"{step.name}_{key}"] = returned[ref.step][ref.column]
            rows = await run(session, query, **params)
            if step.must and not rows:
                raise Stale(step.name)
            if rows:
                returned[step.name] = rows[0]


# Built once per shape of batch (which steps, in which order): a request then only binds values.
_COMPOSED: dict[tuple, Query] = {}
_PLAIN: dict[tuple, Query] = {}


def _renamed(statement: Any, prefix: str) -> Any:
    """`statement` with its named parameters prefixed: two steps may both bind `task_id`."""
    def rename(element: Any) -> Any:
        if isinstance(element, BindParameter) and not element.unique:
            return bindparam(prefix + element.key, type_=element.type)
        return None
    return visitors.replacement_traverse(statement, {}, rename)


def _values(step: _Step, prefix: str, ctes: Mapping[str, Any]) -> list[Any]:
    table = step.statement
    return [*(bindparam(prefix + k, type_=table.c[k].type) for k in step.params),
            *(ctes[ref.step].c[ref.column] for ref in step.refs.values())]


def _compose(steps: list[_Step]) -> Select:
    ctes: dict[str, Any] = {}
    guards: list[Any] = []
    for step in steps:
        prefix = f"{step.name}_"
        gate = and_(*(select(literal_column("1")).select_from(g).exists() for g in guards)) \
            if guards else None
        if step.kind == "insert":
            table = step.statement
            source = select(*_values(step, prefix, ctes))
            if gate is not None:
                source = source.where(gate)
            # Only the columns given: a Python-side default would be a parameter no caller binds.
            statement = postgresql.insert(table).from_select([*step.params, *step.refs], source,
                                                             include_defaults=False)
            if step.skip_conflicts_on:
                statement = statement.on_conflict_do_nothing(index_elements=list(step.skip_conflicts_on))
            statement = statement.returning(*table.primary_key.columns)
        else:
            statement = _renamed(step.statement, prefix)
            if gate is not None:
                statement = statement.where(gate)
        ctes[step.name] = statement.cte(step.name)
        if step.must:
            guards.append(ctes[step.name])
    counts = {s.name: select(func.count()).select_from(ctes[s.name]).scalar_subquery()
              for s in steps}
    failed = or_(*(counts[s.name] == 0 for s in steps if s.must))
    written = or_(*(counts[s.name] > 0 for s in steps if s.kind != "require"))
    whole = cast(case((and_(failed, written), literal_column(f"'{_PARTIAL}'")), else_=null()), Integer)
    return select(*(c.label(name) for name, c in counts.items()), whole.label("whole")) \
        .add_cte(*ctes.values())


def _plain(step: _Step) -> Any:
    prefix = f"{step.name}_"
    if step.kind != "insert":
        return _renamed(step.statement, prefix)
    table = step.statement
    statement = sqlite.insert(table).values(
        {k: bindparam(prefix + k, type_=table.c[k].type) for k in (*step.params, *step.refs)})
    if step.skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=list(step.skip_conflicts_on))
    return statement.returning(*table.primary_key.columns)
