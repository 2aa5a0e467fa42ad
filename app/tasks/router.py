"""Routes of the tasks domain."""

from app.routing import api_router

router = api_router(tags=["tasks"])
