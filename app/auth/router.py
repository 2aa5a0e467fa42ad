"""POST/GET /api/v1/tokens, DELETE /api/v1/tokens/{id}: the office hands out tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field

from app.auth import service
from app.auth.principal import Admin
from app.db import SessionDep
from app.models import TokenRole
from app.problems import responses
from app.routing import api_router

router = api_router(tags=["tokens"])


class TokenCreate(BaseModel):
    # A misspelt "role" must not quietly mint the default kind of token.
    model_config = ConfigDict(extra="forbid")

    unit: str | None = Field(None, description="unit id, or name/alias as the documents write it")
    jurisdiction: str | None = Field(None, description="resolves a unit name within a jurisdiction")
    role: TokenRole = Field(TokenRole.unit, description="unit (acts for one unit) or reader (read-only)")
    label: str | None = Field(None, max_length=128)


class TokenPublic(BaseModel):
    id: int
    role: TokenRole
    unit_id: int | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None = None


class TokenCreated(TokenPublic):
    token: str = Field(description="shown once; store it, Duban keeps only its hash")


class TokenList(BaseModel):
    items: list[TokenPublic]
    next_cursor: str | None = None


@router.post("/tokens", status_code=201, response_model=TokenCreated, responses=responses(404, 409))
async def create_token(body: TokenCreate, session: SessionDep, principal: Admin,
                       response: Response) -> TokenCreated:
    """Mint a token for a unit (role unit) or a read-only integrator (role reader). The answer
    holds the token, once: a retry with the same Idempotency-Key is 409 secret_shown_once."""
    # No cache keeps it, and the Idempotency-Key store keeps a refusal in its place (app/uow.py).
    response.headers["Cache-Control"] = "no-store"
    token, row = await service.mint(session, principal, role=body.role, unit=body.unit,
                                    jurisdiction=body.jurisdiction, label=body.label)
    return TokenCreated(token=token, **TokenPublic.model_validate(row, from_attributes=True).model_dump())


@router.get("/tokens", response_model=TokenList)
async def list_tokens(session: SessionDep, principal: Admin) -> TokenList:
    """Every token minted, revoked ones included; never the token itself."""
    rows = await service.listing(session)
    return TokenList(items=[TokenPublic.model_validate(r, from_attributes=True) for r in rows])


@router.delete("/tokens/{token_id}", status_code=204, responses=responses(404))
async def revoke_token(token_id: int, session: SessionDep, principal: Admin) -> Response:
    """Revoke a token at once: its next request is 401."""
    await service.revoke(session, principal, token_id)
    return Response(status_code=204)
