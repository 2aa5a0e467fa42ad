"""The dispatch summary (月调度 / 季小结 / 年考评): per unit, its obligations in the window and how
they stand, counted by SQL aggregates in one statement (after the period rows are read).

Each obligation active in the window becomes one row of 0/1 facts (app/dispatch/facts.py),
with a LEFT JOIN to its report for each month counted; the units' counts are sums over those
rows, and the unit's light is the worst of its obligations'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import add
from typing import Any

from sqlalchemy import Integer, Select, bindparam, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.auth.principal import Principal
from app.config import Settings
from app.dispatch import window
from app.dispatch.facts import A, Facts
from app.dispatch.lights import BY_RANK, RANK, Light
from app.dispatch.schemas import (
    DispatchSummary,
    LightCounts,
    MonthOut,
    UnitDispatch,
    UnitStats,
    WindowOut,
)
from app.dispatch.window import Scope
from app.errors import InvalidInput, NotFound
from app.models import Jurisdiction, Reminder, Unit
from app.pagination import decode, next_cursor
from app.query import Query, fetch
from app.units import service as units

_FLAGS = ("expected", "reported", "missing", "on_time", "overdue", "due_soon", "closed",
          "closed_late", "closed_extended", "lagging")


def _flag(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
    if not conditions:
        return literal(0)
    return reduce(add, [case((c, 1), else_=0) for c in conditions])


def per_obligation(f: Facts, *where: Any) -> Select:
    """One row per obligation active in the window: its unit and its facts as 0/1."""
    months = f.reports
    return f.with_reports(select(
        A.unit_id,
        _flag(*(f.expected(m) for m, _ in months)).label("expected"),
        _flag(*(r.id.is_not(None) for _, r in months)).label("reported"),
        _flag(*(f.missing(m, r) for m, r in months)).label("missing"),
        _flag(*(f.on_time(m, r) for m, r in months)).label("on_time"),
        _flag(f.overdue()).label("overdue"),
        _flag(f.due_within("soon_until")).label("due_soon"),
        _flag(f.closed_in()).label("closed"),
        _flag(f.closed_late()).label("closed_late"),
        _flag(f.closed_extended()).label("closed_extended"),
        _flag(f.lagging()).label("lagging"),
        f.light().label("light"),
        f.progress().label("progress"),
    ).select_from(A)).where(f.active(), *where)


def per_unit(f: Facts, *where: Any, paged: bool = False) -> Select:
    """The units' counts by unit id, with their names and the reminders they received; `paged`
    takes :fetch units after the unit :after_unit."""
    after = [A.unit_id > bindparam("after_unit", type_=Integer)] if paged else []
    rows = per_obligation(f, *where, *after).subquery("o")
    light = rows.c.light
    counts = (select(rows.c.unit_id, func.count().label("assignments"),
                     *(func.sum(rows.c[name]).label(name) for name in _FLAGS),
                     func.max(light).label("light"),
                     *(func.sum(case((light == RANK[x], 1), else_=0)).label(x.value) for x in Light),
                     func.avg(rows.c.progress).label("progress"))
              .group_by(rows.c.unit_id).order_by(rows.c.unit_id))
    if paged:
        counts = counts.limit(bindparam("fetch", type_=Integer))
    page = counts.subquery("units")
    reminders = (select(func.count(Reminder.id))
                 .where(Reminder.unit_id == page.c.unit_id,
                        Reminder.created_at >= f.p("window_start"),
                        Reminder.created_at < f.p("window_after"))
                 .scalar_subquery())
    return (select(page, Unit.name, Unit.short_name, Jurisdiction.name.label("jurisdiction"),
                   reminders.label("reminders"))
            .join(Unit, Unit.id == page.c.unit_id)
            .outerjoin(Jurisdiction, Jurisdiction.id == Unit.jurisdiction_id)
            .order_by(page.c.unit_id))


# Built once per shape: building this statement costs ten times what PostgreSQL takes to run it.
_KEPT: dict[tuple, Query] = {}


async def counts(session: AsyncSession, f: Facts, who: Audience, *, limit: int | None = None,
                 after: int | None = None) -> Sequence[Mapping[str, Any]]:
    """The units' counts (per_unit), a page of `limit` units after `after` when given."""
    paged = limit is not None
    key = (f.shape, who.shape, paged)
    query = _KEPT.get(key)
    if query is None:
        query = _KEPT[key] = Query(per_unit(f, *who.where(), paged=paged))
    pages = {"fetch": limit + 1, "after_unit": after if after is not None else 0} if paged else {}
    return await fetch(session, query, **f.params, **who.params, **pages)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def unit_out(row: Mapping[str, Any]) -> UnitDispatch:
    stats = UnitStats(completion_rate=rate(row["closed"], row["assignments"]),
                      on_time_report_rate=rate(row["on_time"], row["expected"]),
                      overdue=row["overdue"], reminders=row["reminders"])
    return UnitDispatch(
        unit=row["short_name"], unit_id=row["unit_id"], unit_name=row["name"],
        jurisdiction=row["jurisdiction"], assignments=row["assignments"],
        expected_reports=row["expected"], reported=row["reported"], missing=row["missing"],
        on_time_reports=row["on_time"], overdue=row["overdue"], due_soon=row["due_soon"],
        closed=row["closed"], closed_late=row["closed_late"],
        closed_extended=row["closed_extended"], lagging=row["lagging"],
        lights=LightCounts(red=row["red"], yellow=row["yellow"], green=row["green"]),
        light=BY_RANK[row["light"]],
        progress=None if row["progress"] is None else round(float(row["progress"]), 1),
        stats=stats)


@dataclass(frozen=True, slots=True)
class Audience:
    """Whose obligations count: the unit named, the jurisdiction's units, and always a unit
    token's own."""

    unit_id: int | None = None
    jurisdiction_id: int | None = None
    own_unit_id: int | None = None

    @property
    def params(self) -> dict[str, int]:
        return {k: v for k, v in (("unit_id", self.unit_id), ("jurisdiction_id", self.jurisdiction_id),
                                  ("own_unit_id", self.own_unit_id)) if v is not None}

    @property
    def shape(self) -> tuple[str, ...]:
        return tuple(self.params)

    def where(self) -> list[Any]:
        where: list[Any] = []
        if self.unit_id is not None:
            where.append(A.unit_id == bindparam("unit_id", self.unit_id))
        if self.jurisdiction_id is not None:
            where.append(A.unit_id.in_(select(Unit.id).where(
                Unit.jurisdiction_id == bindparam("jurisdiction_id", self.jurisdiction_id))))
        if self.own_unit_id is not None:
            where.append(A.unit_id == bindparam("own_unit_id", self.own_unit_id))
        return where


async def audience(session: AsyncSession, principal: Principal, unit: str | None,
                   jurisdiction: str | None) -> Audience:
    unit_id = place = None
    if unit is not None:
        unit_id = (await units.resolve(session, unit, jurisdiction)).id
        if not principal.sees_unit(unit_id):
            raise NotFound("A unit token reads its own unit's dispatch only: leave unit= out.")
    elif jurisdiction is not None:
        place = await units.jurisdiction_id(session, jurisdiction)
    return Audience(unit_id, place, principal.unit_id)


async def units_in_play(session: AsyncSession, principal: Principal, unit: str | None,
                        jurisdiction: str | None) -> list[Any]:
    """Conditions on the obligations' unit (Audience.where)."""
    return (await audience(session, principal, unit, jurisdiction)).where()


def facts(session: AsyncSession, scope: Scope) -> Facts:
    return Facts(scope, session.bind.dialect.name)


async def summarize(session: AsyncSession, principal: Principal, period: str, *,
                    unit: str | None, jurisdiction: str | None, as_of: date | None, limit: int,
                    cursor: str | None, today: date, settings: Settings) -> DispatchSummary:
    scope = await window.resolve(session, period, as_of, today, settings)
    who = await audience(session, principal, unit, jurisdiction)
    rows = await counts(session, facts(session, scope), who, limit=limit, after=_after(cursor))
    items = [unit_out(r) for r in rows[:limit]]
    month = scope.months[0] if scope.window.kind == "month" else None
    return DispatchSummary(
        period=period, kind=scope.window.kind,
        window=WindowOut(start=scope.window.start, end=scope.window.end), as_of=scope.as_of,
        due_date=month.due_date if month else None,
        closed=month.closed_at is not None if month else None,
        months=[MonthOut(period=m.period, due_date=m.due_date, closed=m.closed_at is not None)
                for m in scope.months],
        units=items, next_cursor=next_cursor(rows, limit, lambda r: [r["unit_id"]]))


def _after(cursor: str | None) -> int | None:
    values = decode(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], int) or isinstance(values[0], bool):
        raise InvalidInput("The cursor is not valid: pass next_cursor from the previous page unchanged.")
    return values[0]
