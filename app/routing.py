"""Routers for the API: every route runs in the unit of work (app/uow.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.problems import responses
from app.uow import UnitOfWorkRoute

API_PREFIX = "/api/v1"


def api_router(*, tags: list[str], auth: bool = True, **kwargs: Any) -> APIRouter:
    # Every authenticated route can answer 401 and 403; validation adds 422.
    extra = responses(401, 403, 422) if auth else responses(422)
    return APIRouter(prefix=API_PREFIX, tags=tags, route_class=UnitOfWorkRoute,
                     responses=extra, **kwargs)
