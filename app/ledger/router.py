"""The 台账 as a spreadsheet: export it (XLSX, CSV), import a task list kept in a spreadsheet,
and re-import an edited ledger as an update. Each handler makes one service call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from app.auth.principal import Admin, CurrentPrincipal, Principal
from app.db import SessionDep
from app.documents.schemas import ImportSummary
from app.extraction.models import Extraction
from app.http import PERIOD, Day, today
from app.ledger import export, imports, update
from app.ledger.schemas import LedgerApplied, LedgerPreview
from app.problems import responses
from app.routing import api_router
from app.uow import MAX_ID

router = api_router(tags=["ledger"])

Period = Annotated[str, Path(max_length=16, description="YYYY-MM (a month), YYYY-Qn or YYYY; "
                                                        "本期进展 is the latest report in it")]
UnitRef = Annotated[str | None, Query(max_length=128, description="unit id, or name/alias as the "
                                      "documents write it; a unit token gets its own rows only")]
JurisdictionRef = Annotated[str | None, Query(max_length=64, description="jurisdiction name or "
                                              "id: resolves `unit`; without one, keeps its units")]
DocumentRef = Annotated[int | None, Query(ge=1, le=MAX_ID, description="document id")]
AsOf = Annotated[Day | None, Query(description="the day overdue and lights are judged on "
                                                "(YYYY-MM-DD); default today, or the period's "
                                                "last day once it has ended")]
_BINARY = {"schema": {"type": "string", "format": "binary"}}


def _file(media_type: str, what: str) -> dict:
    return {200: {"content": {media_type: _BINARY}, "description": what}, **responses(404)}


def _send(download: export.Download) -> StreamingResponse:
    ascii_name = download.filename.replace("台账", "ledger")
    return StreamingResponse(download.chunks, media_type=download.media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(download.filename)}"})


@router.get("/dispatch/{period}/ledger.xlsx", response_class=StreamingResponse,
            responses=_file(export.XLSX_TYPE, "the 台账 workbook: one sheet, a frozen header"))
async def ledger_xlsx(period: Period, request: Request, session: SessionDep,
                      principal: CurrentPrincipal, unit: UnitRef = None,
                      jurisdiction: JurisdictionRef = None, document: DocumentRef = None,
                      as_of: AsOf = None) -> StreamingResponse:
    """台账 as XLSX: one row per obligation (task and unit), with this period's progress and light."""
    return _send(await export.download(
        session, principal, period, "xlsx", unit=unit, jurisdiction=jurisdiction,
        document=document, as_of=as_of, today=today(request), db=request.app.state.db,
        settings=request.app.state.settings))


@router.get("/dispatch/{period}/ledger.csv", response_class=StreamingResponse,
            responses=_file("text/csv", "the 台账 as UTF-8 CSV with a byte-order mark"))
async def ledger_csv(period: Period, request: Request, session: SessionDep,
                     principal: CurrentPrincipal, unit: UnitRef = None,
                     jurisdiction: JurisdictionRef = None, document: DocumentRef = None,
                     as_of: AsOf = None) -> StreamingResponse:
    """台账 as CSV (UTF-8 with BOM, so Excel shows the Chinese), streamed row by row."""
    return _send(await export.download(
        session, principal, period, "csv", unit=unit, jurisdiction=jurisdiction,
        document=document, as_of=as_of, today=today(request), db=request.app.state.db,
        settings=request.app.state.settings))


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str | None


async def read_sheet(file: Annotated[UploadFile, File(
        description=".xlsx, or .csv in UTF-8 (with or without BOM) or GB18030; told apart by "
                    "content")]) -> Upload:
    return Upload(await file.read(), file.filename)


SheetDep = Annotated[Upload, Depends(read_sheet)]
Title = Annotated[str | None, Form(max_length=200, description="the task list's title; default "
                                                               "the file name")]
Place = Annotated[str | None, Form(max_length=64, description="the jurisdiction whose units the "
                                                              "sheet names, e.g. 赣州市")]


# 400: a multipart body the parser cannot read (no boundary, a torn part), as for documents.
@router.post("/imports/preview", response_model=Extraction, responses=responses(400, 413))
async def preview_import(principal: CurrentPrincipal, session: SessionDep, sheet: SheetDep,
                         title: Title = None, jurisdiction: Place = None) -> Extraction:
    """What a task list in a spreadsheet would import as, read like a document. Saves nothing."""
    return await imports.preview(session, sheet.data, sheet.filename, title, jurisdiction)


@router.post("/imports", status_code=201, response_model=ImportSummary,
             responses={200: {"model": ImportSummary,
                              "description": "already imported (nothing changed), or a revision "
                                             "of a sheet imported before (see changes)"},
                        **responses(400, 409, 413)})
async def import_sheet(principal: Admin, session: SessionDep, sheet: SheetDep, response: Response,
                       title: Title = None, jurisdiction: Place = None) -> ImportSummary:
    """Import a task list from a spreadsheet: 201 if new; 200 if unchanged or a revision."""
    result = await imports.import_sheet(session, principal, sheet.data, sheet.filename, title,
                                        jurisdiction)
    if result.created:
        response.headers["Location"] = f"/api/v1/documents/{result.id}"
    else:
        response.status_code = 200
    return result


LedgerPeriod = Annotated[str, Form(pattern=PERIOD.pattern,
                                   description="YYYY-MM: the month 本期进展 reports on")]


@router.post("/ledger/preview", response_model=LedgerPreview, responses=responses(400, 413))
async def preview_ledger(principal: Admin, request: Request, session: SessionDep,
                         sheet: SheetDep, period: LedgerPeriod) -> LedgerPreview:
    """Every change an edited 台账 would make, and every row it would refuse. Saves nothing."""
    return await update.preview(session, _context(request, principal, period), sheet.data,
                                sheet.filename)


@router.post("/ledger/apply", response_model=LedgerApplied, responses=responses(400, 413))
async def apply_ledger(principal: Admin, request: Request, session: SessionDep, sheet: SheetDep,
                       period: LedgerPeriod) -> LedgerApplied:
    """Apply an edited 台账: deadlines, units and progress, all or nothing; stale rows are skipped."""
    return await update.apply(session, _context(request, principal, period), sheet.data,
                              sheet.filename)


def _context(request: Request, principal: Principal, period: str) -> update.Context:
    return update.Context(principal, period, today(request),
                          request.app.state.settings.report_due_day)
