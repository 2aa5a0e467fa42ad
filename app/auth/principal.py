"""Who is calling: the office (admin), one unit, or a read-only integrator."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Integer, String, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Forbidden, Unauthorized
from app.models import ApiToken, TokenRole
from app.query import Query, fetch_one


@dataclass(slots=True)
class Principal:
    role: TokenRole
    unit_id: int | None = None
    token_id: int | None = None
    # A token row taken from this process's cache is checked against the table once per request:
    # by the request's own statement where it can (live_binds), else by the unit of work (confirm).
    verified: bool = True
    digest: str | None = None
    cache: TokenCache | None = field(default=None, repr=False, compare=False)

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

    def live_binds(self) -> dict[str, Any]:
        """The binds of TOKEN_LIVE: nothing left to check (None) once the token was read."""
        if self.verified:
            return {"live_token_id": None, "live_digest": None, "live_role": None, "live_unit": None}
        return {"live_token_id": self.token_id, "live_digest": self.digest,
                "live_role": self.role, "live_unit": self.unit_id}

    def settle(self, live: bool) -> None:
        """What TOKEN_LIVE said of this token in the request's statement."""
        if not live:
            if self.cache is not None:
                self.cache.forget(self.digest)
            raise _unknown_token()
        self.verified = True


_T = ApiToken.__table__
_TOKEN = Query(select(ApiToken.id, ApiToken.role, ApiToken.unit_id)
               .where(_T.c.token_hash == bindparam("digest"), _T.c.revoked_at.is_(None)))
# The cached row is still the table's: same id, hash, role and unit, and not revoked.
_SAME = (_T.c.id == bindparam("live_token_id", type_=Integer),
         _T.c.token_hash == bindparam("live_digest", type_=String),
         _T.c.role == bindparam("live_role", type_=_T.c.role.type),
         # An office-wide token has no unit: 0 stands for none (ids start at 1).
         func.coalesce(_T.c.unit_id, 0) == func.coalesce(bindparam("live_unit", type_=Integer), 0),
         _T.c.revoked_at.is_(None))
# A column for a caller's own statement: true when the request's token needs no check or passes it.
TOKEN_LIVE = or_(bindparam("live_token_id", type_=Integer).is_(None), exists().where(*_SAME))
# The same as a guard of a staged write (app/batch.py), and as a statement of its own.
TOKEN_ROW = select(_T.c.id).where(*_SAME).with_for_update(read=True)
_LIVE = Query(select(_T.c.id).where(*_SAME))


class TokenCache:
    """Token rows by digest, as this process last read them. Never trusted alone: every request
    checks its row against the table (Principal.live_binds, confirm)."""

    def __init__(self, size: int = 10_000) -> None:
        self._rows: dict[str, tuple[TokenRole, int | None, int]] = {}
        self._size = size

    def get(self, digest: str) -> Principal | None:
        row = self._rows.get(digest)
        return None if row is None else Principal(*row, verified=False, digest=digest, cache=self)

    def keep(self, digest: str, principal: Principal) -> None:
        if len(self._rows) >= self._size:
            self._rows.pop(next(iter(self._rows)))  # the oldest: a bounded dict, in insertion order
        self._rows[digest] = (principal.role, principal.unit_id, principal.token_id)

    def forget(self, digest: str | None) -> None:
        self._rows.pop(digest, None)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _unknown_token() -> Unauthorized:
    return Unauthorized("The token is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"})


async def current_principal(request: Request) -> Principal:
    known = getattr(request.state, "principal", None)
    if known is not None:
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send Authorization: Bearer <token>.",
                           headers={"WWW-Authenticate": "Bearer"})
    return await principal_for(request, token.strip())


async def principal_for(request: Request, token: str) -> Principal:
    """The principal a bearer token stands for, wherever the token came from."""
    digest = hash_token(token)
    admin = request.app.state.settings.duban_admin_token
    # Equal-length digests compared in constant time: timing tells nothing of the admin token.
    if admin and hmac.compare_digest(digest, hash_token(admin)):
        principal = Principal(TokenRole.admin)
    else:
        cache: TokenCache = request.app.state.tokens
        principal = cache.get(digest)
        if principal is None:
            # The request's session, made only now: a cached token needs none (a dependency on
            # the session would make one for every request).
            row = await fetch_one(request.state.work.session, _TOKEN, digest=digest)
            if row is None:
                raise _unknown_token()
            principal = Principal(TokenRole(row["role"]), row["unit_id"], row["id"], digest=digest)
            cache.keep(digest, principal)
    request.state.principal = principal
    return principal


def unconfirmed(request: Request) -> Principal | None:
    """The request's principal if its token row came from the cache and no statement checked it."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal if principal is not None and not principal.verified else None


async def confirm(session: AsyncSession, principal: Principal) -> None:
    """The token checked against the table on its own (a statement of the request's could not)."""
    found = await fetch_one(session, _LIVE, **principal.live_binds())
    principal.settle(found is not None)


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
