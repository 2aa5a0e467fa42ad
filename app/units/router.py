"""Routes of the units domain."""

from app.routing import api_router

router = api_router(tags=["units"])
