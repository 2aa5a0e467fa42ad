"""Routes of the documents domain."""

from app.routing import api_router

router = api_router(tags=["documents"])
