"""Routes of the workflow domain."""

from app.routing import api_router

router = api_router(tags=["workflow"])
