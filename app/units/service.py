"""The unit registry: jurisdictions, units, aliases and groups, and resolving what a caller or
a document writes ("市发改委", "赣州市发展和改革委员会", "42") to one unit."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dbutil import insert_ignore
from app.errors import AmbiguousUnit, NotFound, UnknownUnit
from app.extraction.text import fold
from app.models import Jurisdiction, Unit, UnitAlias


@dataclass(frozen=True, slots=True)
class UnitRef:
    id: int
    name: str
    short_name: str
    jurisdiction_id: int | None
    is_group: bool


_COLUMNS = (Unit.id, Unit.name, Unit.short_name, Unit.jurisdiction_id, Unit.is_group)


def normalise(name: str) -> str:
    return "".join(fold(name).split())


async def jurisdiction_id(session: AsyncSession, ref: str | int | None) -> int | None:
    if ref is None or ref == "":
        return None
    column = Jurisdiction.id if str(ref).isdigit() else Jurisdiction.name
    value = int(ref) if str(ref).isdigit() else str(ref).strip()
    found = (await session.execute(select(Jurisdiction.id).where(column == value))).scalar()
    if found is None:
        raise NotFound(f"No jurisdiction {ref!r}; list them with GET /api/v1/jurisdictions.")
    return found


async def resolve(session: AsyncSession, ref: str, jurisdiction: str | int | None = None) -> UnitRef:
    """A unit id, its canonical name, or a name as the documents write it, within
    `jurisdiction` when given. Unknown names answer with the closest known units."""
    text = normalise(ref)
    if not text:
        raise UnknownUnit("A unit name or id is required.", suggestions=[])
    scope = await jurisdiction_id(session, jurisdiction)
    if text.isdigit():
        row = (await session.execute(select(*_COLUMNS).where(Unit.id == int(text)))).first()
        if row is not None and (scope is None or row.jurisdiction_id == scope):
            return UnitRef(*row)
        raise NotFound(f"No unit with id {text}.")
    by_name = select(*_COLUMNS).where(Unit.name == text)
    by_alias = select(*_COLUMNS).join(UnitAlias, UnitAlias.unit_id == Unit.id).where(UnitAlias.alias == text)
    if scope is not None:
        by_name = by_name.where(Unit.jurisdiction_id == scope)
        by_alias = by_alias.where(UnitAlias.scope == scope)
    rows = (await session.execute(by_name)).all() or (await session.execute(by_alias.distinct())).all()
    if len(rows) == 1:
        return UnitRef(*rows[0])
    if rows:
        names = sorted(r.name for r in rows)
        raise AmbiguousUnit(f"“{ref}” names {len(rows)} units; give jurisdiction= or one of: "
                            + "、".join(names), candidates=names)
    hints = await suggest(session, text, scope)
    raise UnknownUnit(f"No unit called “{ref}”" + (f"; did you mean {'、'.join(hints)}?" if hints else "."),
                      suggestions=hints)


async def suggest(session: AsyncSession, text: str, scope: int | None, limit: int = 5) -> list[str]:
    query = select(Unit.name, UnitAlias.alias).join(UnitAlias, UnitAlias.unit_id == Unit.id, isouter=True)
    if scope is not None:
        query = query.where(Unit.jurisdiction_id == scope)
    names: dict[str, str] = {}
    for name, alias in (await session.execute(query)).all():
        names[name] = name
        if alias:
            names.setdefault(alias, name)
    close = difflib.get_close_matches(text, list(names), n=limit * 2, cutoff=0.5)
    return list(dict.fromkeys(names[c] for c in close))[:limit]


async def ensure_jurisdiction(session: AsyncSession, name: str, level: str,
                              parent: int | None = None) -> int:
    await insert_ignore(session, Jurisdiction, [{"name": name, "level": level, "parent_id": parent}],
                        ["name"])
    return (await session.execute(select(Jurisdiction.id).where(Jurisdiction.name == name))).scalar_one()


async def ensure_units(session: AsyncSession, wanted: list[dict]) -> dict[str, int]:
    """Create the units (by canonical name) that do not exist yet, with their aliases.
    `wanted`: {name, short_name, jurisdiction_id, is_group, aliases}. Returns name -> id."""
    if not wanted:
        return {}
    rows = {w["name"]: w for w in wanted}
    await insert_ignore(session, Unit, [
        {"name": w["name"], "short_name": w["short_name"], "jurisdiction_id": w["jurisdiction_id"],
         "is_group": w["is_group"]} for w in rows.values()], ["name"])
    ids = dict((await session.execute(select(Unit.name, Unit.id).where(Unit.name.in_(rows)))).all())
    aliases = {(w["jurisdiction_id"] or 0, normalise(a)): ids[w["name"]]
               for w in rows.values() for a in {w["name"], w["short_name"], *w["aliases"]} if a}
    await insert_ignore(session, UnitAlias, [
        {"unit_id": unit_id, "scope": scope, "alias": alias} for (scope, alias), unit_id in aliases.items()
    ], ["scope", "alias"])
    return ids
