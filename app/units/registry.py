"""Changing the registry: new units, aliases, and the members of a group. Only the office
(admin) writes here; every change is audited.

Uniqueness is left to the database (ON CONFLICT DO NOTHING … RETURNING): a name or alias
that is already taken, even by a request racing this one, answers 409, and the raised error
rolls back everything the request wrote.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal
from app.dbutil import dialect_insert, insert_ignore
from app.errors import Conflict, InvalidInput, NotFound
from app.models import GroupMember, Unit, UnitAlias
from app.tasks import obligations
from app.units import service as units
from app.units.schemas import (
    AliasAdded,
    AliasCreate,
    AliasPublic,
    MembersChanged,
    MembersUpdate,
    UnitCreate,
    UnitPublic,
)


async def create_unit(session: AsyncSession, principal: Principal, body: UnitCreate) -> UnitPublic:
    name = units.normalise(body.name)
    short_name = units.normalise(body.short_name or "") or name
    if not name:
        raise InvalidInput("Give the unit's canonical name, e.g. 兴国县潋江镇人民政府.")
    place = await _jurisdiction(session, body.jurisdiction)
    aliases = list(dict.fromkeys(a for a in (name, short_name, *map(units.normalise, body.aliases)) if a))
    await _refuse_other_units_names(session, aliases, name)
    unit_id = (await session.execute(
        dialect_insert(session, Unit).values(name=name, short_name=short_name, jurisdiction_id=place,
                                             is_group=body.is_group)
        .on_conflict_do_nothing(index_elements=["name"]).returning(Unit.id))).scalar()
    if unit_id is None:
        held = (await session.execute(select(Unit.id).where(Unit.name == name))).scalar()
        raise Conflict(f"A unit called {name} already exists (id {held}); add another written "
                       "form of it with POST /api/v1/units/{unit}/aliases.", unit_id=held)
    stored = set((await session.execute(
        dialect_insert(session, UnitAlias).values(
            [{"unit_id": unit_id, "scope": place or 0, "alias": a} for a in aliases])
        .on_conflict_do_nothing(index_elements=["scope", "alias"]).returning(UnitAlias.alias))).scalars())
    taken = [a for a in aliases if a not in stored]
    if taken:
        raise Conflict(f"{'、'.join(taken)} already names another unit in this jurisdiction; "
                       "nothing was created. Drop it from the aliases or pick another jurisdiction.",
                       aliases=taken)
    created = (await units.publics(session, [unit_id]))[0]
    await audit.record(session, principal, "unit.created", "unit", unit_id, unit_id=unit_id,
                       after={**created.model_dump(), "aliases": aliases})
    return created


async def add_alias(session: AsyncSession, principal: Principal, ref: str, jurisdiction: str | None,
                    body: AliasCreate) -> AliasAdded:
    """Idempotent: the same alias of the same unit again is `created=False`, not an error."""
    unit = await units.resolve(session, ref, jurisdiction)
    alias = units.normalise(body.alias)
    if not alias:
        raise InvalidInput("The alias is empty: give the unit's name as a document writes it.")
    scope = await _jurisdiction(session, body.jurisdiction) if body.jurisdiction else unit.jurisdiction_id
    await _refuse_other_units_names(session, [alias], unit.name)
    inserted = (await session.execute(
        dialect_insert(session, UnitAlias).values(unit_id=unit.id, scope=scope or 0, alias=alias)
        .on_conflict_do_nothing(index_elements=["scope", "alias"]).returning(UnitAlias.id))).scalar()
    if inserted is None:
        holder = (await session.execute(select(UnitAlias.unit_id, Unit.name)
                                        .join(Unit, Unit.id == UnitAlias.unit_id)
                                        .where(UnitAlias.scope == (scope or 0), UnitAlias.alias == alias))).one()
        if holder.unit_id != unit.id:
            raise Conflict(f"“{alias}” already names {holder.name} (id {holder.unit_id}) in this "
                           "jurisdiction; an alias names one unit per jurisdiction.", unit_id=holder.unit_id)
    else:
        await audit.record(session, principal, "unit.alias_added", "unit", unit.id, unit_id=unit.id,
                           after={"alias": alias, "scope": scope})
    public = (await units.publics(session, [unit.id]))[0]
    place = await units.jurisdiction_ref(session, scope)
    return AliasAdded(unit=public, alias=AliasPublic(alias=alias, jurisdiction=place),
                      created=inserted is not None)


async def set_members(session: AsyncSession, principal: Principal, ref: str, jurisdiction: str | None,
                      body: MembersUpdate) -> MembersChanged:
    """Replace a group's members, then expand the group on every task that names it, in the
    same transaction: all of it happens, or (any unknown member) none of it."""
    group = await units.resolve(session, ref, jurisdiction)
    if not group.is_group:
        raise Conflict(f"{group.name} is not a group; only a group (is_group) has members.")
    # Serialise member changes of one group (a no-op on SQLite, which has one writer anyway).
    await session.execute(select(Unit.id).where(Unit.id == group.id).with_for_update())
    scope = await _jurisdiction(session, body.jurisdiction)
    found = await units.resolve_many(session, [str(m) for m in body.members], scope)
    nested = sorted({u.name for u in found if u.is_group})
    if nested:
        raise InvalidInput(f"A group's members are units, not groups: {'、'.join(nested)}. "
                           "List the units they stand for instead.", groups=nested)
    wanted = list(dict.fromkeys(u.id for u in found))
    before = dict((await session.execute(
        select(Unit.id, Unit.name).join(GroupMember, GroupMember.member_id == Unit.id)
        .where(GroupMember.group_id == group.id).order_by(Unit.id))).all())
    await session.execute(delete(GroupMember).where(GroupMember.group_id == group.id,
                                                    GroupMember.member_id.not_in(wanted)))
    await insert_ignore(session, GroupMember, [{"group_id": group.id, "member_id": m} for m in wanted],
                        ["group_id", "member_id"])
    added, removed = await obligations.expand_group(session, group.id, joined=set(wanted) - before.keys())
    listed = await units.publics(session, [group.id, *wanted])
    await audit.record(session, principal, "group.members_set", "unit", group.id, unit_id=group.id,
                       before={"members": list(before.values())},
                       after={"members": [u.name for u in listed[1:]], "obligations_added": added,
                              "obligations_removed": removed})
    return MembersChanged(group=listed[0], members=listed[1:], obligations_added=added,
                          obligations_removed=removed)


async def _jurisdiction(session: AsyncSession, ref: str | int | None) -> int | None:
    """A jurisdiction named in a request body: unknown is bad input (422), not a missing page."""
    try:
        return await units.jurisdiction_id(session, ref)
    except NotFound as exc:
        raise InvalidInput(exc.detail) from None


async def _refuse_other_units_names(session: AsyncSession, aliases: list[str], own_name: str) -> None:
    # Resolution tries canonical names before aliases: another unit's name as an alias would
    # be shadowed in some places and win in others.
    clash = (await session.execute(select(Unit.name).where(Unit.name.in_(aliases),
                                                           Unit.name != own_name))).scalars().all()
    if clash:
        raise Conflict(f"{'、'.join(clash)} is the canonical name of another unit; "
                       "it cannot be an alias of this one.", aliases=list(clash))
