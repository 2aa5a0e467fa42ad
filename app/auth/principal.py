"""Who is calling: the office (admin), one unit, or a read-only integrator."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionDep
from app.errors import Forbidden, Unauthorized
from app.models import ApiToken, TokenRole
from app.query import Query, fetch_one


@dataclass(frozen=True, slots=True)
class Principal:
    role: TokenRole
    unit_id: int | None = None
    token_id: int | None = None

    @property
    def actor(self) -> str:
        return "admin" if self.token_id is None else f"token:{self.token_id}"

    @property
    def is_admin(self) -> bool:
        return self.role is TokenRole.admin

    @property
    def can_write(self) -> bool:
        return self.role in (TokenRole.admin, TokenRole.unit)

    def sees_unit(self, unit_id: int) -> bool:
        """Whether this caller may see what concerns `unit_id`."""
        return self.unit_id is None or self.unit_id == unit_id


_T = ApiToken.__table__
# The token behind a digest: a condition other statements can join on (see found_with).
TOKEN_OF = (_T.c.token_hash == bindparam("digest")) & _T.c.revoked_at.is_(None)
TOKEN_COLUMNS = (_T.c.id.label("token_id"), _T.c.role.label("token_role"),
                 _T.c.unit_id.label("token_unit_id"))
_TOKEN = Query(select(ApiToken.id, ApiToken.role, ApiToken.unit_id).where(TOKEN_OF))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_digest(request: Request) -> str | None:
    """The digest of the request's bearer token, as the token table keeps it."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return hash_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None


def found_with(request: Request, row: Mapping[str, Any]) -> None:
    """The caller's token row, read by a statement the request ran anyway (the Idempotency-Key
    lookup): current_principal takes it instead of asking again. For this request only."""
    if row["token_id"] is not None:
        request.state.principal = Principal(TokenRole(row["token_role"]), row["token_unit_id"],
                                            row["token_id"])


async def current_principal(request: Request, session: SessionDep) -> Principal:
    known = getattr(request.state, "principal", None)
    if known is not None:
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send Authorization: Bearer <token>.",
                           headers={"WWW-Authenticate": "Bearer"})
    return await principal_for(request, session, token.strip())


async def principal_for(request: Request, session: AsyncSession, token: str) -> Principal:
    """The principal a bearer token stands for, wherever the token came from."""
    digest = hash_token(token)
    admin = request.app.state.settings.duban_admin_token
    # Equal-length digests compared in constant time: timing tells nothing of the admin token.
    if admin and hmac.compare_digest(digest, hash_token(admin)):
        return Principal(TokenRole.admin)
    row = await fetch_one(session, _TOKEN, digest=digest)
    if row is None:
        raise Unauthorized("The token is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"})
    return Principal(TokenRole(row["role"]), row["unit_id"], row["id"])


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def admin_only(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only the supervising office (admin token) may do this.")
    return principal


async def writer(principal: CurrentPrincipal) -> Principal:
    if not principal.can_write:
        raise Forbidden("This token is read-only.")
    return principal


Admin = Annotated[Principal, Depends(admin_only)]
Writer = Annotated[Principal, Depends(writer)]
