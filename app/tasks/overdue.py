"""What is overdue, as of a day: one unit's overdue obligations, and the count per unit.

Both read the partial index ix_assignment_open_by_unit (unit_id, effective_deadline, task_id)
WHERE is_open, through the one overdue rule (obligations.overdue_clause).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from sqlalchemy import Date, Integer, Select, Text, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app import sqljson
from app.auth.principal import TOKEN_LIVE, Principal
from app.dbutil import days_between, on_postgresql
from app.errors import InvalidInput, NotFound
from app.models import Assignment, Document, Jurisdiction, Role, Task, TokenRole, Unit
from app.pagination import decode, encode, next_cursor
from app.query import Query, fetch_one
from app.tasks import obligations
from app.tasks.obligations import OPEN_ROW
from app.tasks.schemas import (
    UnitOverdue,
    UnitWithJurisdiction,
)
from app.units import service as units

_BAD_CURSOR = "The cursor is not valid: pass next_cursor from the previous page unchanged."


def _unit_page(by_role: bool, ordered: bool) -> Select[Any]:
    """One page of a unit's overdue obligations as one row: the index range first, then the
    page's tasks and documents by primary key, the items built as JSON by the database in the
    shape of OverduePage's; and whether the caller's token holds (TOKEN_LIVE). Built once per
    variant, run with binds.

    `ordered` (PostgreSQL): the database also orders the items, leaves out the row fetched
    to tell whether a page follows, and names the page's last key, so that the items' JSON
    text goes to the client as it comes. Decoding it only to encode it again cost a tenth of
    the service's time on this, its busiest read. (SQLite's json_group_array takes no order.)"""
    as_of = bindparam("as_of", type_=Date)
    page = (select(Assignment.id, Assignment.task_id, Assignment.role, Assignment.status,
                   Assignment.effective_deadline)
            .where(Assignment.unit_id == bindparam("unit_id"), OPEN_ROW,
                   Assignment.effective_deadline < as_of,
                   # The first page starts after (0001-01-01, 0): every row, one statement.
                   tuple_(Assignment.effective_deadline, Assignment.task_id)
                   > tuple_(bindparam("after_day", type_=Date), bindparam("after_task", type_=Integer)))
            .order_by(Assignment.effective_deadline, Assignment.task_id)
            .limit(bindparam("fetch", type_=Integer)))
    if by_role:
        page = page.where(Assignment.role == bindparam("role"))
    page = page.subquery("page")
    if ordered:  # numbered in key order: the page holds at most limit + 1 rows
        page = select(page, func.row_number().over(
            order_by=(page.c.effective_deadline, page.c.task_id)).label("n")).subquery("numbered")
    item = sqljson.fields(
        task=sqljson.fields(id=Task.id, number=Task.number, title=Task.title,
                            document=sqljson.fields(id=Document.id, title=Document.title)),
        role=page.c.role, deadline=page.c.effective_deadline,
        days_overdue=days_between(as_of, page.c.effective_deadline), status=page.c.status,
        assignment_id=page.c.id)
    rows = page.join(Task, Task.id == page.c.task_id).join(Document, Document.id == Task.document_id)
    if not ordered:
        items = select(sqljson.json_array_agg(item)).select_from(rows).scalar_subquery()
        return select(TOKEN_LIVE.label("token_live"), items.label("items"))
    limit, n = bindparam("limit", type_=Integer), page.c.n
    found = (select(
        func.coalesce(func.json_agg(aggregate_order_by(item, n)).filter(n <= limit).cast(Text),
                      "[]").label("items"),
        func.count().label("fetched"),
        func.max(page.c.effective_deadline).filter(n == limit).label("last_day"),
        func.max(page.c.task_id).filter(n == limit).label("last_task"))
        .select_from(rows).subquery("found"))
    return select(TOKEN_LIVE.label("token_live"), found)


# (by role, ordered by the database): the last on PostgreSQL.
_UNIT_PAGE = {(role, ordered): Query(_unit_page(role, ordered))
              for role in (False, True) for ordered in (False, True)}


def _unit_binds(unit_id: int, as_of: date, limit: int, role: Role | None,
                after: tuple[date, int] | None) -> dict[str, Any]:
    after_day, after_task = after or (date.min, 0)
    return {"unit_id": unit_id, "as_of": as_of, "after_day": after_day, "after_task": after_task,
            "limit": limit, "fetch": limit + 1, "role": role}


def unit_statement(unit_id: int, as_of: date, *, limit: int, role: Role | None = None,
                   after: tuple[date, int] | None = None, ordered: bool = True) -> Select[Any]:
    """The page's statement with its values bound in, as EXPLAIN wants it: for a unit token the
    service has seen before, so the token's check is in the plan too."""
    caller = Principal(TokenRole.unit, unit_id, 0, verified=False, digest="0" * 64)
    binds = {**_unit_binds(unit_id, as_of, limit, role, after), **caller.live_binds()}
    return _UNIT_PAGE[role is not None, ordered].statement.params(binds)


async def of_unit(session: AsyncSession, principal: Principal, unit: str, *, jurisdiction: str | None,
                  as_of: date, role: Role | None, limit: int, cursor: str | None) -> bytes:
    """The page as JSON (OverduePage): built by the database, it is the hot read of every unit's
    phone app."""
    unit_id, known = await _unit_id(session, principal, unit, jurisdiction)
    if not principal.sees_unit(unit_id):
        raise NotFound("A unit token reads its own unit's overdue list only.")
    try:
        after = _unit_cursor(cursor)
    except InvalidInput:
        if not known:  # an unknown unit is the first thing wrong with the request
            await units.resolve(session, unit)
        raise
    binds = _unit_binds(unit_id, as_of, limit, role, after)
    ordered = on_postgresql(session)
    row = await fetch_one(session, _UNIT_PAGE[role is not None, ordered], **binds,
                          **principal.live_binds())
    principal.settle(row["token_live"])
    if ordered:
        empty, items = not row["fetched"], row["items"].encode()
        after = encode([row["last_day"].isoformat(), row["last_task"]]) \
            if row["fetched"] > limit else None
    else:
        # The aggregate keeps no order of its own: the page's is (deadline, task), ISO days
        # sorting as the days do.
        page = sorted(row["items"], key=lambda i: (i["deadline"], i["task"]["id"]))
        empty, items = not page, orjson.dumps(page[:limit])
        after = next_cursor(page, limit, lambda i: [i["deadline"], i["task"]["id"]])
    if empty and not known:
        await units.resolve(session, unit)  # an empty page of a unit that does not exist is a 404
    return b'{"items":%b,"next_cursor":%b,"as_of":%b}' % (items, orjson.dumps(after),
                                                          orjson.dumps(as_of))


async def _unit_id(session: AsyncSession, principal: Principal, unit: str,
                   jurisdiction: str | None) -> tuple[int, bool]:
    """(the unit's id, whether it is known to exist). An id given plainly is only looked up
    when its page comes back empty: on the busiest read that is a round trip saved. A unit
    token's own id exists; any other id a unit token names is resolved first, so that an
    unknown unit answers as unknown."""
    given = units.plain_id(unit) if jurisdiction is None else None
    if given is not None and (principal.unit_id is None or given == principal.unit_id):
        return given, principal.unit_id is not None
    return (await units.resolve(session, unit, jurisdiction)).id, True


def _unit_cursor(cursor: str | None) -> tuple[date, int] | None:
    values = decode(cursor, 2)
    if values is None:
        return None
    try:
        deadline, task_id = date.fromisoformat(values[0]), values[1]
    except (TypeError, ValueError):
        raise InvalidInput(_BAD_CURSOR) from None
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        raise InvalidInput(_BAD_CURSOR)
    return deadline, task_id


async def per_unit(session: AsyncSession, principal: Principal, *, jurisdiction: str | None,
                   as_of: date, limit: int, cursor: str | None) -> tuple[list[UnitOverdue], str | None]:
    """Units with at least one overdue obligation, most overdue first. A unit token sees its
    own row only."""
    after = _count_cursor(cursor)
    count = func.count(Assignment.id)
    counts = (select(Assignment.unit_id, count.label("overdue"),
                     func.min(Assignment.effective_deadline).label("oldest"))
              .where(obligations.overdue_clause(as_of))
              .group_by(Assignment.unit_id)
              .order_by(count.desc(), Assignment.unit_id)
              .limit(limit + 1))
    if principal.unit_id is not None:
        counts = counts.where(Assignment.unit_id == principal.unit_id)
    if jurisdiction is not None:
        scope = await units.jurisdiction_id(session, jurisdiction)
        counts = counts.where(Assignment.unit_id.in_(select(Unit.id).where(Unit.jurisdiction_id == scope)))
    if after is not None:
        counts = counts.having(or_(count < after[0], and_(count == after[0],
                                                          Assignment.unit_id > after[1])))
    page = counts.subquery("counts")
    rows = (await session.execute(
        select(page, Unit.name, Unit.short_name, Jurisdiction.name.label("jurisdiction"))
        .join(Unit, Unit.id == page.c.unit_id)
        .outerjoin(Jurisdiction, Jurisdiction.id == Unit.jurisdiction_id)
        .order_by(page.c.overdue.desc(), page.c.unit_id))).all()
    items = [UnitOverdue(
        unit=UnitWithJurisdiction(id=r.unit_id, name=r.name, short_name=r.short_name,
                                  jurisdiction=r.jurisdiction),
        overdue=r.overdue, oldest_deadline=r.oldest,
        max_days_overdue=obligations.days_overdue(r.oldest, as_of)) for r in rows[:limit]]
    return items, next_cursor(rows, limit, lambda r: [r.overdue, r.unit_id])


def _count_cursor(cursor: str | None) -> tuple[int, int] | None:
    values = decode(cursor, 2)
    if values is None:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InvalidInput(_BAD_CURSOR)
    return values[0], values[1]
