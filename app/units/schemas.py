"""Request and response bodies of the unit registry."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

# PostgreSQL text cannot hold NUL: refuse it as bad input here rather than fail in the database.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(max_length=128, pattern=NO_NUL)]
Place = Annotated[str, Field(max_length=64, pattern=NO_NUL)] | int


class JurisdictionRef(BaseModel):
    id: int
    name: str
    level: str


class JurisdictionPublic(JurisdictionRef):
    parent: JurisdictionRef | None = None


class UnitPublic(BaseModel):
    id: int
    name: str = Field(description="canonical, jurisdiction-qualified: 赣州市发展和改革委员会")
    short_name: str = Field(description="as the documents write it: 市发改委")
    jurisdiction: JurisdictionRef | None = None
    is_group: bool = Field(description="a placeholder such as 各乡镇人民政府, expandable to members")


class AliasPublic(BaseModel):
    alias: str
    jurisdiction: JurisdictionRef | None = Field(
        None, description="where the alias resolves to this unit; null: in no particular jurisdiction")


class ObligationCounts(BaseModel):
    open: int
    closed: int
    removed: int = Field(description="taken off a task (e.g. the unit left the group); kept, never deleted")
    total: int = Field(description="open + closed + removed")
    group_placements: int = Field(
        description="tasks on which this unit stands as a group label; for a group, open/closed/"
                    "removed count the obligations its members hold through it")


class UnitDetail(UnitPublic):
    aliases: list[AliasPublic]
    members: list[UnitPublic] = Field(description="for a group: the units it stands for")
    member_of: list[UnitPublic] = Field(description="the groups this unit belongs to")
    obligations: ObligationCounts | None = Field(
        description="null when a unit token looks at another unit: the registry is public, "
                    "a unit's workload is not")


class UnitCreate(BaseModel):
    name: Text = Field(min_length=1, description="canonical, jurisdiction-qualified: 兴国县潋江镇人民政府")
    short_name: Text | None = Field(None, min_length=1, description="as documents write it; default the name")
    jurisdiction: Place | None = Field(None, description="jurisdiction name or id")
    is_group: bool = Field(False, strict=True)
    aliases: list[Text] = Field(default_factory=list, max_length=50,
                               description="other written forms, valid within the unit's jurisdiction")


class AliasCreate(BaseModel):
    alias: Text = Field(min_length=1)
    jurisdiction: Place | None = Field(
        None, description="where the alias is valid (name or id); default the unit's own")


class AliasAdded(BaseModel):
    unit: UnitPublic
    alias: AliasPublic
    created: bool = Field(description="false when the unit already had this alias (answered 200)")


class MembersUpdate(BaseModel):
    members: list[Text | int] = Field(
        max_length=500, description="unit ids, names or aliases; replaces the set")
    jurisdiction: Place | None = Field(
        None, description="resolves member names within this jurisdiction (name or id)")


class MembersChanged(BaseModel):
    group: UnitPublic
    members: list[UnitPublic]
    obligations_added: int = Field(description="obligations created or reinstated for members")
    obligations_removed: int = Field(description="open obligations of units that left the group")
