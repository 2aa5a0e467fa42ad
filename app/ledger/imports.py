"""A task list kept in a spreadsheet (任务分工表) imported like a document.

The first sheet becomes text: a title line, then the header row and each data row with its
cells joined by TAB, which is how the engine reads a table a .docx or web page kept whole.
The same engine then finds the header (in any column order) and reads every row by the rules
it applies to documents, and the same import path stores it: the same sheet twice changes
nothing, a changed sheet under the same title is a revision that keeps the reports filed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.auth.principal import Principal
from app.documents import service as documents
from app.documents.schemas import ImportSummary
from app.errors import InvalidInput
from app.extraction import extract_text
from app.extraction.context import fill_role_lists
from app.extraction.models import Extraction
from app.extraction.models import Jurisdiction as Place
from app.extraction.tables import HEADER_KINDS, header_kind
from app.extraction.units import canonical, restore_prefix
from app.ledger.sheets import open_sheet, text_of
from app.models import Jurisdiction
from app.units import service as units

_LEVELS = {"省": ("province", "省"), "市": ("city", "市"), "县": ("county", "县"), "区": ("district", "区")}
_TEXTUAL = {"title", "content"}
_DUTIES = {"lead", "responsible", "cooperating", "deadline"}
_HEADER_SEARCH = 20  # rows above the header: a sheet title, a note, blank rows


async def preview(session: AsyncSession, data: bytes, filename: str | None, title: str | None,
                  jurisdiction: str | None) -> Extraction:
    place = await _place(session, jurisdiction)
    return (await documents.extracted(_read, data, filename, title, place))[1]


async def import_sheet(session: AsyncSession, principal: Principal, data: bytes,
                       filename: str | None, title: str | None,
                       jurisdiction: str | None) -> ImportSummary:
    """The documents import path, fed the sheet's text: 201 new, 200 unchanged or revised."""
    place = await _place(session, jurisdiction)
    text, extraction = await documents.extracted(_read, data, filename, title, place)
    return await documents.import_extraction(session, principal, text, extraction)


def _read(data: bytes, filename: str | None, title: str | None,
          place: Place | None) -> tuple[str, Extraction]:
    sheet = open_sheet(data, filename)
    heading = _title(title, filename, place)
    text = "\n".join([heading, *sheet_lines(sheet.rows, filename)]) + "\n"
    extraction = extract_text(text, fmt="table", encoding=sheet.encoding)
    # A title the caller gives is the title; else the engine's, else the file's name.
    if (title or "").strip() or extraction.document.title is None:
        extraction.document.title = heading
    if place is not None:
        _put_in_place(extraction, place)
    return text, extraction


def _title(title: str | None, filename: str | None, place: Place | None) -> str:
    heading = " ".join((title or "").split()) or (PurePath(filename).stem if filename else "") \
        or "任务清单"
    # The place belongs in the title: it keys the document (title within its jurisdiction)
    # and makes the same sheet for two places two documents.
    if place is not None and place.name not in heading:
        heading = place.name + heading
    return heading


def sheet_lines(rows: Iterator[list[Any]], filename: str | None) -> list[str]:
    """Rows above the header as plain lines, then the header and the data rows TAB-joined,
    the 序号 column first: the engine starts a row at its number."""
    above: list[str] = []
    for values in rows:
        cells = [text_of(v) for v in values]
        kinds = {header_kind(c) for c in cells if c}
        if kinds & _TEXTUAL and kinds & _DUTIES:
            return [*above, *_table(cells, rows)]
        if any(cells):
            above.append(" ".join(c for c in cells if c))
        if len(above) >= _HEADER_SEARCH:
            break
    raise InvalidInput(
        f"{f'“{filename}”' if filename else 'The sheet'} has no header row the task-list reader "
        "knows: it needs a task column (任务, 重点任务, 工作任务, 任务名称, 工作内容 …) and at least "
        "one of 牵头单位, 责任单位, 配合单位, 完成时限, plus 序号. Known headers: "
        + "、".join(sorted(HEADER_KINDS)) + ".", expected=sorted(HEADER_KINDS))


def _table(header: list[str], rows: Iterator[list[Any]]) -> list[str]:
    kinds = [header_kind(c) for c in header]
    number = kinds.index("number") if "number" in kinds else None
    width = len(header)
    order = [number, *(i for i in range(width) if i != number)] if number is not None \
        else list(range(width))
    lines = ["\t".join(["序号" if number is None else header[number],
                        *(header[i] for i in order if i != number)])]
    counted = 0
    for values in rows:
        cells = [text_of(v) for v in values]
        filled = [c for c in cells if c]
        if not filled:
            continue
        cells += [""] * (width - len(cells))
        if len(filled) == 1 and (number is None or not cells[number]):
            # A category row (一、产业结构) sits in whichever column it was typed in.
            lines.append(filled[0] + "\t" * (width - (0 if number is None else 1)))
            continue
        if number is None:
            counted += 1
            lead = str(counted)
        else:
            lead = cells[number]
        rest = [cells[i] for i in order if i != number] + cells[width:]
        lines.append("\t".join([lead, *rest]))
    return lines


def _put_in_place(extraction: Extraction, place: Place) -> None:
    """A sheet seldom prints its issuer: the jurisdiction the caller names stands in for what
    a document's head says, and unit names are qualified by the engine's own rules."""
    extraction.document.jurisdiction = place
    for task in _walk(extraction.tasks):
        for mention in task.units:
            mention.name = restore_prefix(mention.name, place)
            mention.canonical = canonical(mention.name, place)
        fill_role_lists(task)
    extraction.warnings = [w for w in extraction.warnings if w.code != "jurisdiction_unknown"]


def _walk(tasks):
    for task in tasks:
        yield task
        yield from _walk(task.subtasks)


async def _place(session: AsyncSession, ref: str | None) -> Place | None:
    name = "".join((ref or "").split())
    if not name:
        return None
    parent = aliased(Jurisdiction)
    # An unknown id is this field's mistake (422 below), not a missing resource (404).
    known = Jurisdiction.id == units.plain_id(name) if name.isdigit() else Jurisdiction.name == name
    found = (await session.execute(
        select(Jurisdiction.name, Jurisdiction.level, parent.name.label("parent"))
        .outerjoin(parent, parent.id == Jurisdiction.parent_id).where(known))).first()
    if found is not None:
        prefix = next((p for level, p in _LEVELS.values() if level == found.level), found.name[-1])
        return Place(name=found.name, level=found.level, prefix=prefix, parent=found.parent)
    if name[-1] not in _LEVELS:
        raise InvalidInput(f"Jurisdiction “{ref}” is not known: give its full name ending in "
                           "省, 市, 县 or 区 (e.g. 赣州市), or an id from GET /api/v1/jurisdictions.")
    level, prefix = _LEVELS[name[-1]]
    return Place(name=name, level=level, prefix=prefix)
