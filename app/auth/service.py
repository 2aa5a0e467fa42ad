"""Minting and revoking API tokens. A token is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.principal import Principal, hash_token
from app.errors import InvalidInput, NotFound
from app.models import ApiToken, TokenRole, utcnow
from app.units import service as units


async def mint(session: AsyncSession, principal: Principal, *, role: TokenRole, unit: str | None,
               jurisdiction: str | None, label: str | None) -> tuple[str, ApiToken]:
    if role is TokenRole.admin:
        raise InvalidInput("Tokens are minted for a unit or a reader; the office uses DUBAN_ADMIN_TOKEN.")
    if role is TokenRole.unit and not unit:
        raise InvalidInput("A unit token needs the unit it acts for: give \"unit\".")
    unit_id = (await units.resolve(session, unit, jurisdiction)).id if unit else None
    token = "dbn_" + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=hash_token(token), role=role, unit_id=unit_id, label=label)
    session.add(row)
    await session.flush()
    await audit.record(session, principal, "token.minted", "token", row.id, unit_id=unit_id,
                       after={"role": role.value, "unit_id": unit_id, "label": label})
    return token, row


async def listing(session: AsyncSession) -> list[ApiToken]:
    return list((await session.execute(select(ApiToken).order_by(ApiToken.id))).scalars())


async def revoke(session: AsyncSession, principal: Principal, token_id: int) -> None:
    done = await session.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                                 .values(revoked_at=utcnow()))
    if not done.rowcount:
        raise NotFound(f"No active token {token_id}.")
    await audit.record(session, principal, "token.revoked", "token", token_id)
