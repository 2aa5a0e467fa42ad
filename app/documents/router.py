"""POST /documents/preview and /documents, GET /documents and /documents/{id}."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from app.auth.principal import Admin, CurrentPrincipal
from app.db import SessionDep
from app.documents import service
from app.documents.schemas import DocumentDetail, DocumentItem, ImportSummary
from app.errors import InvalidInput, UnsupportedMediaType
from app.extraction.models import Extraction
from app.pagination import Cursor, Limit, Page
from app.problems import responses
from app.routing import api_router

router = api_router(tags=["documents"])

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RAW_TYPES = ("text/plain", "text/html", DOCX, "application/octet-stream")
_BINARY = {"type": "string", "format": "binary"}
_BODY = {"requestBody": {"required": True, "description": (
    "The document itself: plain text (UTF-8 or GB18030), an HTML page or a Word .docx. "
    "Format and encoding are read from the content; a declared charset is ignored."),
    "content": {**{kind: {"schema": _BINARY} for kind in RAW_TYPES},
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                   "properties": {"file": _BINARY}}}}}}


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str | None


async def read_upload(request: Request) -> Upload:
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise InvalidInput('Send the document as the multipart part named "file".')
            return Upload(await part.read(), part.filename)
    if kind not in RAW_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {kind or '(none)'} is not accepted. Send the document as the body with "
            f"Content-Type {', '.join(RAW_TYPES)}, or as multipart/form-data with a part "
            "named \"file\".")
    return Upload(await request.body(), None)


UploadDep = Annotated[Upload, Depends(read_upload)]


@router.post("/documents/preview", response_model=Extraction, openapi_extra=_BODY,
             responses=responses(400, 413, 415))
async def preview_document(principal: CurrentPrincipal, upload: UploadDep) -> Extraction:
    """What the document would import as: its tasks, units, deadlines and warnings. Saves nothing."""
    return await service.preview(upload.data, upload.filename)


@router.post("/documents", status_code=201, response_model=ImportSummary, openapi_extra=_BODY,
             responses={200: {"model": ImportSummary,
                              "description": "already imported (nothing changed), or a revision "
                                             "of a known document (see changes)"},
                        **responses(400, 409, 413, 415)})
async def import_document(principal: Admin, upload: UploadDep, session: SessionDep,
                          response: Response) -> ImportSummary:
    """Import a document: 201 if new; 200 if already imported (no change) or a revision of it."""
    result = await service.import_document(session, principal, upload.data, upload.filename)
    if result.created:
        response.headers["Location"] = f"/api/v1/documents/{result.id}"
    else:
        response.status_code = 200
    return result


@router.get("/documents", response_model=Page[DocumentItem], responses=responses(404))
async def list_documents(
        session: SessionDep, principal: CurrentPrincipal,
        jurisdiction: Annotated[str | None, Query(description="jurisdiction id or name, e.g. 赣州市")] = None,
        q: Annotated[str | None, Query(max_length=100, description="part of the title")] = None,
        limit: Limit = 50, cursor: Cursor = None) -> Page[DocumentItem]:
    """The imported documents, oldest first."""
    return await service.listing(session, jurisdiction=jurisdiction, q=q, limit=limit, cursor=cursor)


@router.get("/documents/{document_id}", response_model=DocumentDetail, responses=responses(404))
async def get_document(document_id: int, session: SessionDep, principal: CurrentPrincipal) -> DocumentDetail:
    """A document's metadata, rules, warnings and indicators, with counts of what it holds."""
    return await service.detail(session, document_id)
