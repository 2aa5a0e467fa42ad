"""The unit registry: jurisdictions, units, aliases and groups, and resolving what a caller or
a document writes ("市发改委", "赣州市发展和改革委员会", "42") to one unit."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import bindparam, case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.auth.principal import Principal
from app.dbutil import insert_ignore, one_of
from app.errors import AmbiguousUnit, InvalidInput, NotFound, UnknownUnit
from app.extraction.models import Jurisdiction as WrittenJurisdiction
from app.extraction.text import fold
from app.extraction.units import canonical, restore_prefix
from app.extraction.vocab import LEVEL_PREFIXES
from app.models import Assignment, AssignmentStatus, GroupMember, Jurisdiction, Unit, UnitAlias
from app.pagination import Page, decode, next_cursor
from app.query import Query, fetch_one, run_one
from app.units.schemas import (
    AliasPublic,
    JurisdictionPublic,
    JurisdictionRef,
    ObligationCounts,
    UnitDetail,
    UnitPublic,
)
from app.uow import MAX_ID  # ids are INTEGER columns: a larger number must not reach PostgreSQL


@dataclass(frozen=True, slots=True)
class UnitRef:
    id: int
    name: str
    short_name: str
    jurisdiction_id: int | None
    is_group: bool


_COLUMNS = (Unit.id, Unit.name, Unit.short_name, Unit.jurisdiction_id, Unit.is_group)
_BY_ID = Query(select(*_COLUMNS).where(Unit.id == bindparam("unit_id")))
_JURISDICTION = Query(select(Jurisdiction.id).where(Jurisdiction.name == bindparam("name")))


def _number(text: str) -> int | None:
    """The number `text` spells, or None. isdecimal, not isdigit: "²" is a digit int() refuses;
    and past ten digits it is only "too large" (int() refuses 4,300 digits)."""
    if not text.isdecimal():
        return None
    return int(text) if len(text) <= 10 else MAX_ID + 1


def normalise(name: str) -> str:
    return "".join(fold(name).split())


async def jurisdiction_id(session: AsyncSession, ref: str | int | None) -> int | None:
    if ref is None or ref == "":
        return None
    number = ref if isinstance(ref, int) else _number(ref)
    if number is not None and not 0 <= number <= MAX_ID:
        raise NotFound(f"No jurisdiction {ref!r}; list them with GET /api/v1/jurisdictions.")
    column = Jurisdiction.id if number is not None else Jurisdiction.name
    value = number if number is not None else str(ref).strip()
    found = (await session.execute(select(Jurisdiction.id).where(column == value))).scalar()
    if found is None:
        raise NotFound(f"No jurisdiction {ref!r}; list them with GET /api/v1/jurisdictions.")
    return found


def plain_id(ref: str) -> int | None:
    """The id `ref` gives, when it is one that could exist; whether it does is not asked."""
    text = normalise(ref)
    number = _number(text)
    return number if number is not None and number <= MAX_ID else None


async def resolve(session: AsyncSession, ref: str, jurisdiction: str | int | None = None) -> UnitRef:
    """A unit id, its canonical name, or a name as the documents write it, within
    `jurisdiction` when given. Unknown names answer with the closest known units."""
    text = normalise(ref)
    if not text:
        raise UnknownUnit("A unit name or id is required.", suggestions=[])
    scope = await jurisdiction_id(session, jurisdiction)
    if (number := _number(text)) is not None:
        if number > MAX_ID:
            raise NotFound(f"No unit with id {text}.")
        row = await fetch_one(session, _BY_ID, unit_id=number)
        if row is not None and (scope is None or row["jurisdiction_id"] == scope):
            return UnitRef(*row.values())
        raise NotFound(f"No unit with id {text}.")
    by_name = select(*_COLUMNS).where(Unit.name == text)
    by_alias = select(*_COLUMNS).join(UnitAlias, UnitAlias.unit_id == Unit.id).where(UnitAlias.alias == text)
    if scope is not None:
        by_name = by_name.where(Unit.jurisdiction_id == scope)
        by_alias = by_alias.where(UnitAlias.scope == scope)
    rows = (await session.execute(by_name)).all() or (await session.execute(by_alias.distinct())).all()
    if not rows:
        rows = await by_written_form(session, text, scope)
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
    # Read first: every import names its jurisdiction, and all but the first find it.
    found = await run_one(session, _JURISDICTION, name=name)
    if found is None:
        await insert_ignore(session, Jurisdiction, [{"name": name, "level": level, "parent_id": parent}],
                            ["name"])
        found = await run_one(session, _JURISDICTION, name=name)
    return found["id"]


async def ensure_units(session: AsyncSession, wanted: list[dict]) -> dict[str, int]:
    """Create the units (by canonical name) that do not exist yet, with their aliases.
    `wanted`: {name, short_name, jurisdiction_id, is_group, aliases}. Returns name -> id."""
    if not wanted:
        return {}
    rows = {w["name"]: w for w in wanted}
    # Most units of a document are known already: read first, insert only what is missing
    # (an insert that skips a known row costs the database as much as one that adds it).
    ids = await _ids_by_name(session, rows)
    if len(ids) < len(rows):
        await insert_ignore(session, Unit, [
            {"name": w["name"], "short_name": w["short_name"], "jurisdiction_id": w["jurisdiction_id"],
             "is_group": w["is_group"]} for w in rows.values() if w["name"] not in ids], ["name"])
        ids = await _ids_by_name(session, rows)
    aliases = {(w["jurisdiction_id"] or 0, normalise(a)): ids[w["name"]]
               for w in rows.values() for a in {w["name"], w["short_name"], *w["aliases"]} if a}
    # As plain tuples: a row compared with a tuple goes through SQLAlchemy's Row.__eq__.
    known = {(scope, alias) for scope, alias in await session.execute(
        select(UnitAlias.scope, UnitAlias.alias)
        .where(one_of(session, UnitAlias.alias, {alias for _, alias in aliases})))}
    await insert_ignore(session, UnitAlias, [
        {"unit_id": unit_id, "scope": scope, "alias": alias}
        for (scope, alias), unit_id in aliases.items() if (scope, alias) not in known
    ], ["scope", "alias"])
    return ids


async def _ids_by_name(session: AsyncSession, names: Collection[str]) -> dict[str, int]:
    found = select(Unit.name, Unit.id).where(one_of(session, Unit.name, names))
    return dict((await session.execute(found)).all())


# --- Resolving many refs at once, and written forms no document has used yet ---------------


async def resolve_many(session: AsyncSession, refs: list[str],
                       jurisdiction: str | int | None = None) -> list[UnitRef]:
    """`resolve` for a list, in two queries when every ref is an exact id, name or alias.
    The rest go through `resolve` one by one; every unknown ref is named in one error."""
    scope = await jurisdiction_id(session, jurisdiction)
    texts = [normalise(r) for r in refs]
    ids = {n for t in texts if (n := _number(t)) is not None and n <= MAX_ID}
    names = {t for t in texts if t and _number(t) is None}
    by_key: dict[str, set[UnitRef]] = {}
    direct = select(*_COLUMNS).where(or_(Unit.id.in_(ids), Unit.name.in_(names)))
    if scope is not None:
        direct = direct.where(Unit.jurisdiction_id == scope)
    for row in (await session.execute(direct)).all():
        by_key.setdefault(row.name if row.name in names else str(row.id), set()).add(UnitRef(*row))
    aliased_names = names - by_key.keys()
    if aliased_names:
        by_alias = (select(UnitAlias.alias, *_COLUMNS).join(Unit, Unit.id == UnitAlias.unit_id)
                    .where(UnitAlias.alias.in_(aliased_names)))
        if scope is not None:
            by_alias = by_alias.where(UnitAlias.scope == scope)
        for alias, *row in (await session.execute(by_alias)).all():
            by_key.setdefault(alias, set()).add(UnitRef(*row))
    found: list[UnitRef] = []
    unknown: list[dict] = []
    for ref, text in zip(refs, texts, strict=True):
        hits = by_key.get(text, set())
        if len(hits) == 1:
            found.append(next(iter(hits)))
            continue
        if len(unknown) >= 10:  # enough to act on; spare the suggestion search for the rest
            unknown.append({"unit": ref, "suggestions": []})
            continue
        try:
            found.append(await resolve(session, ref, jurisdiction))
        except UnknownUnit as exc:
            unknown.append({"unit": ref, "suggestions": exc.extra.get("suggestions", [])})
        except NotFound:
            unknown.append({"unit": ref, "suggestions": []})
    if unknown:
        listed = "; ".join(f"“{u['unit']}”" + (f" (did you mean {'、'.join(u['suggestions'])}?)"
                                                 if u["suggestions"] else "") for u in unknown)
        raise UnknownUnit(f"No such unit: {listed}. Nothing was changed.",
                          suggestions=list(dict.fromkeys(s for u in unknown for s in u["suggestions"])),
                          unknown=unknown)
    return found


async def by_written_form(session: AsyncSession, text: str, scope: int | None) -> list:
    """Units whose canonical name is what the extractor makes of `text`: 市发展改革委 within
    赣州市 is 赣州市发展和改革委员会 even before any document wrote it that way."""
    if scope is None and text[:1] not in LEVEL_PREFIXES:
        return []  # a bare 财政局 names a unit in every jurisdiction
    parent = aliased(Jurisdiction)
    query = (select(Jurisdiction.name, Jurisdiction.level, parent.name)
             .join(parent, parent.id == Jurisdiction.parent_id, isouter=True))
    query = query.where(Jurisdiction.id == scope) if scope is not None \
        else query.where(Jurisdiction.name.endswith(text[0]))
    candidates = set()
    for name, level, parent_name in (await session.execute(query)).all():
        place = WrittenJurisdiction.model_construct(name=name, level=level, prefix=name[-1],
                                                    parent=parent_name)
        candidates.add(canonical(restore_prefix(text, place), place))
    candidates.discard(text)
    if not candidates:
        return []
    return list((await session.execute(select(*_COLUMNS).where(Unit.name.in_(candidates)))).all())


# --- The registry as the API reads it ------------------------------------------------------

_PLACE = (Jurisdiction.name.label("j_name"), Jurisdiction.level.label("j_level"))


def _public(row) -> UnitPublic:
    place = None if row.jurisdiction_id is None else \
        JurisdictionRef(id=row.jurisdiction_id, name=row.j_name, level=row.j_level)
    return UnitPublic(id=row.id, name=row.name, short_name=row.short_name, jurisdiction=place,
                      is_group=row.is_group)


def _units_with_place():
    return select(*_COLUMNS, *_PLACE).join(Jurisdiction, Jurisdiction.id == Unit.jurisdiction_id,
                                           isouter=True)


def _after_id(cursor: str | None) -> int | None:
    after = decode(cursor, 1)
    if after is not None and not (isinstance(after[0], int) and 0 <= after[0] <= MAX_ID):
        raise InvalidInput("The cursor is not valid: pass next_cursor from the previous page unchanged.")
    return after[0] if after else None


async def jurisdictions(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[JurisdictionPublic]:
    after = _after_id(cursor)
    parent = aliased(Jurisdiction)
    query = (select(Jurisdiction.id, Jurisdiction.name, Jurisdiction.level, parent.id.label("p_id"),
                    parent.name.label("p_name"), parent.level.label("p_level"))
             .join(parent, parent.id == Jurisdiction.parent_id, isouter=True)
             .order_by(Jurisdiction.id).limit(limit + 1))
    if after is not None:
        query = query.where(Jurisdiction.id > after)
    rows = (await session.execute(query)).all()
    items = [JurisdictionPublic(id=r.id, name=r.name, level=r.level, parent=None if r.p_id is None
                                else JurisdictionRef(id=r.p_id, name=r.p_name, level=r.p_level))
             for r in rows[:limit]]
    return Page(items=items, next_cursor=next_cursor(rows, limit, lambda r: [r.id]))


async def units(session: AsyncSession, *, jurisdiction: str | None, q: str | None,
                group: bool | None, limit: int, cursor: str | None) -> Page[UnitPublic]:
    after = _after_id(cursor)
    scope = await jurisdiction_id(session, jurisdiction)
    query = _units_with_place().order_by(Unit.id).limit(limit + 1)
    if after is not None:
        query = query.where(Unit.id > after)
    if scope is not None:
        query = query.where(Unit.jurisdiction_id == scope)
    if group is not None:
        query = query.where(Unit.is_group.is_(group))
    if q and normalise(q):
        text = normalise(q)
        query = query.where(or_(Unit.name.icontains(text, autoescape=True),
                                Unit.short_name.icontains(text, autoescape=True)))
    rows = (await session.execute(query)).all()
    return Page(items=[_public(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit, lambda r: [r.id]))


async def jurisdiction_ref(session: AsyncSession, jurisdiction: int | None) -> JurisdictionRef | None:
    if not jurisdiction:
        return None
    row = (await session.execute(select(Jurisdiction.id, Jurisdiction.name, Jurisdiction.level)
                                 .where(Jurisdiction.id == jurisdiction))).one()
    return JurisdictionRef(id=row.id, name=row.name, level=row.level)


async def publics(session: AsyncSession, unit_ids: list[int]) -> list[UnitPublic]:
    """The units in the order of `unit_ids`, each with its jurisdiction."""
    rows = {r.id: r for r in (await session.execute(_units_with_place().where(Unit.id.in_(unit_ids)))).all()}
    return [_public(rows[i]) for i in unit_ids]


async def detail(session: AsyncSession, principal: Principal, ref: str,
                 jurisdiction: str | None) -> UnitDetail:
    unit = await resolve(session, ref, jurisdiction)
    place = (await session.execute(_units_with_place().where(Unit.id == unit.id))).one()
    aliases = (await session.execute(
        select(UnitAlias.alias, Jurisdiction.id, Jurisdiction.name, Jurisdiction.level)
        .join(Jurisdiction, Jurisdiction.id == UnitAlias.scope, isouter=True)
        .where(UnitAlias.unit_id == unit.id).order_by(UnitAlias.scope, UnitAlias.alias))).all()
    related: dict[str, list[UnitPublic]] = {"member": [], "member_of": []}
    for row in (await session.execute(_related(unit.id))).all():
        related[row.kind].append(_public(row))
    counts = await obligation_counts(session, unit) if principal.sees_unit(unit.id) else None
    return UnitDetail(
        **_public(place).model_dump(), members=related["member"], member_of=related["member_of"],
        aliases=[AliasPublic(alias=a.alias, jurisdiction=None if a.id is None
                             else JurisdictionRef(id=a.id, name=a.name, level=a.level)) for a in aliases],
        obligations=counts)


def _related(unit_id: int):
    """Members of the unit (a group) and the groups it belongs to, in one statement."""
    def side(kind: str, other, this):
        return (select(literal(kind).label("kind"), *_COLUMNS, *_PLACE).select_from(GroupMember)
                .join(Unit, Unit.id == other)
                .join(Jurisdiction, Jurisdiction.id == Unit.jurisdiction_id, isouter=True)
                .where(this == unit_id))
    both = union_all(side("member", GroupMember.member_id, GroupMember.group_id),
                     side("member_of", GroupMember.group_id, GroupMember.member_id)).subquery()
    return select(both).order_by(both.c.kind, both.c.id)


async def obligation_counts(session: AsyncSession, unit: UnitRef) -> ObligationCounts:
    """A unit's own obligations; for a group, the ones its members hold through it."""
    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
    mine = Assignment.unit_id == unit.id
    query = select(count(Assignment.is_open.is_(True)),
                   count(Assignment.status == AssignmentStatus.closed),
                   count(Assignment.status == AssignmentStatus.removed),
                   count(Assignment.status == AssignmentStatus.group))
    query = query.where(or_(mine, Assignment.via_group_id == unit.id) if unit.is_group else mine)
    open_, closed, removed, placed = (await session.execute(query)).one()
    return ObligationCounts(open=open_, closed=closed, removed=removed,
                            total=open_ + closed + removed, group_placements=placed)


async def members(session: AsyncSession, ref: str, jurisdiction: str | None, *, limit: int,
                  cursor: str | None) -> Page[UnitPublic]:
    group = await resolve(session, ref, jurisdiction)
    after = _after_id(cursor)
    query = (_units_with_place().join(GroupMember, GroupMember.member_id == Unit.id)
             .where(GroupMember.group_id == group.id).order_by(Unit.id).limit(limit + 1))
    if after is not None:
        query = query.where(Unit.id > after)
    rows = (await session.execute(query)).all()
    return Page(items=[_public(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit, lambda r: [r.id]))
