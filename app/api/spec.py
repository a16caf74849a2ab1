"""Serves the OpenAPI document; public, so client generators need no token."""

from app.api import bp
from app.api.openapi import DOCUMENT


@bp.get("/openapi.json")
def openapi_document():
    return DOCUMENT
