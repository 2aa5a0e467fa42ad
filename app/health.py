"""GET /api/v1/health: the service is up and its database answers."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel

from app.errors import ServiceUnavailable
from app.problems import responses
from app.routing import api_router

router = api_router(tags=["health"], auth=False)


class Health(BaseModel):
    status: str
    database: str


@router.get("/health", response_model=Health, responses=responses(503))
async def health(request: Request) -> Health:
    """200 when the database is reachable, 503 (with Retry-After) when it is not."""
    if not await request.app.state.db.ping():
        raise ServiceUnavailable("The database does not answer; retry shortly.")
    return Health(status="ok", database="reachable")
