"""The unit registry: jurisdictions, units, aliases, groups and their members.

Any token reads the registry, unit tokens included: who exists and what they are called is
not secret, and a unit needs the registry to name the units it works with. A unit's workload
(`obligations` on GET /units/{unit}) is shown only to the office, readers and the unit itself.
Only the office (admin) writes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from app.auth.principal import Admin, CurrentPrincipal
from app.db import SessionDep
from app.pagination import Cursor, Limit, Page
from app.problems import responses
from app.routing import API_PREFIX, api_router
from app.units import registry
from app.units import service as units
from app.units.schemas import (
    NO_NUL,
    AliasAdded,
    AliasCreate,
    JurisdictionPublic,
    MembersChanged,
    MembersUpdate,
    UnitCreate,
    UnitDetail,
    UnitPublic,
)

router = api_router(tags=["units"])

Scope = Annotated[str | None, Query(max_length=64, pattern=NO_NUL, description=(
    "jurisdiction (name or id) within which a unit name in the path is resolved"))]
UnitRef = Annotated[str, Path(max_length=128, pattern=NO_NUL, description=(
    "a unit id, its canonical name, or a name or alias as the documents write it"))]


@router.get("/jurisdictions", response_model=Page[JurisdictionPublic])
async def list_jurisdictions(session: SessionDep, principal: CurrentPrincipal,
                             limit: Limit = 100, cursor: Cursor = None) -> Page[JurisdictionPublic]:
    """Jurisdictions (province, city, county, district, township), each with its parent."""
    return await units.jurisdictions(session, limit=limit, cursor=cursor)


@router.get("/units", response_model=Page[UnitPublic], responses=responses(404))
async def list_units(
    session: SessionDep, principal: CurrentPrincipal,
    jurisdiction: Annotated[str | None, Query(max_length=64, pattern=NO_NUL, description="name or id")] = None,
    q: Annotated[str | None, Query(max_length=128, pattern=NO_NUL,
                                   description="part of the name or short name")] = None,
    group: Annotated[bool | None, Query(description="true: groups only; false: units only")] = None,
    limit: Limit = 100, cursor: Cursor = None,
) -> Page[UnitPublic]:
    """Units in id order, filtered by jurisdiction, name and kind; an unknown jurisdiction is 404."""
    return await units.units(session, jurisdiction=jurisdiction, q=q, group=group, limit=limit,
                             cursor=cursor)


@router.post("/units", status_code=201, response_model=UnitPublic, responses=responses(409))
async def create_unit(body: UnitCreate, response: Response, session: SessionDep,
                      principal: Admin) -> UnitPublic:
    """Register a unit or group; a name or alias another unit holds in its jurisdiction is 409."""
    created = await registry.create_unit(session, principal, body)
    response.headers["Location"] = f"{API_PREFIX}/units/{created.id}"
    return created


@router.get("/units/{unit}", response_model=UnitDetail, responses=responses(404))
async def get_unit(unit: UnitRef, session: SessionDep, principal: CurrentPrincipal,
                   jurisdiction: Scope = None) -> UnitDetail:
    """One unit by id, name or alias: its aliases, members, groups and obligation counts."""
    return await units.detail(session, principal, unit, jurisdiction)


@router.post("/units/{unit}/aliases", status_code=201, response_model=AliasAdded,
             responses={200: {"description": "the unit already had this alias; nothing changed",
                              "model": AliasAdded}, **responses(404, 409)})
async def add_alias(unit: UnitRef, body: AliasCreate, response: Response, session: SessionDep,
                    principal: Admin, jurisdiction: Scope = None) -> AliasAdded:
    """Teach the registry another written form of a unit (201; 200 when it already knew it)."""
    added = await registry.add_alias(session, principal, unit, jurisdiction, body)
    response.status_code = 201 if added.created else 200
    response.headers["Location"] = f"{API_PREFIX}/units/{added.unit.id}"
    return added


@router.get("/units/{unit}/members", response_model=Page[UnitPublic], responses=responses(404))
async def list_members(unit: UnitRef, session: SessionDep, principal: CurrentPrincipal,
                       jurisdiction: Scope = None, limit: Limit = 100,
                       cursor: Cursor = None) -> Page[UnitPublic]:
    """The units a group stands for, in id order (empty for a unit that is not a group)."""
    return await units.members(session, unit, jurisdiction, limit=limit, cursor=cursor)


@router.put("/units/{unit}/members", response_model=MembersChanged, responses=responses(404, 409))
async def set_members(unit: UnitRef, body: MembersUpdate, session: SessionDep, principal: Admin,
                      jurisdiction: Scope = None) -> MembersChanged:
    """Replace a group's members (all or nothing); each member gets the group's obligations."""
    return await registry.set_members(session, principal, unit, jurisdiction, body)

