"""通报: the units ranked by one statistic of the dispatch summary, over the same window.

Rates rank high first (a unit with nothing to rate comes last), overdue counts and reminders
low first; ties go by unit id. The units' counts come from the summary's one statement; the
few hundred rows are sorted here, and a page resumes after the (value, unit id) it ended on.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings
from app.dispatch import window
from app.dispatch.schemas import RankedUnit, UnitDispatch
from app.dispatch.summary import Audience, counts, facts, unit_out
from app.errors import InvalidInput
from app.pagination import Page, decode, encode
from app.units import service as units

Sort = Literal["completion_rate", "on_time_report_rate", "overdue", "reminders"]
RATES = {"completion_rate", "on_time_report_rate"}
_BAD_CURSOR = "The cursor is not valid: pass next_cursor from the previous page unchanged."


def _key(sort: Sort, value: float | int | None, unit_id: int) -> tuple:
    if sort in RATES:
        return value is None, -(value or 0), unit_id
    return value, unit_id


def _value(sort: Sort, unit: UnitDispatch) -> float | int | None:
    return getattr(unit.stats, sort)


async def rank(session: AsyncSession, principal: Principal, period: str, *,
               jurisdiction: str | None, sort: Sort, as_of: date | None, limit: int,
               cursor: str | None, today: date, settings: Settings) -> Page[RankedUnit]:
    """A unit token sees its own row, ranked among all."""
    scope = await window.resolve(session, period, as_of, today, settings)
    after = _after(sort, cursor)
    place = await units.jurisdiction_id(session, jurisdiction)
    rows = await counts(session, facts(session, scope), Audience(jurisdiction_id=place))
    ordered = sorted((unit_out(r) for r in rows), key=lambda u: _key(sort, _value(sort, u), u.unit_id))
    ranked = [RankedUnit(rank=n, unit=u.unit, unit_id=u.unit_id, unit_name=u.unit_name,
                         jurisdiction=u.jurisdiction, assignments=u.assignments, closed=u.closed,
                         expected_reports=u.expected_reports, on_time_reports=u.on_time_reports,
                         light=u.light, stats=u.stats)
              for n, u in enumerate(ordered, start=1)
              if principal.sees_unit(u.unit_id)]
    if after is not None:
        ranked = [r for r in ranked if _key(sort, _value(sort, r), r.unit_id) > after]
    more = len(ranked) > limit
    last = ranked[limit - 1] if more else None
    return Page(items=ranked[:limit],
                next_cursor=encode([_value(sort, last), last.unit_id]) if last else None)


def _after(sort: Sort, cursor: str | None) -> tuple | None:
    values: Any = decode(cursor, 2)
    if values is None:
        return None
    value, unit_id = values
    numeric = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    if not numeric or not isinstance(unit_id, int) or isinstance(unit_id, bool) \
            or (value is None and sort not in RATES):
        raise InvalidInput(_BAD_CURSOR)
    return _key(sort, value, unit_id)
