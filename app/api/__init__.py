"""JSON API v1 (mounted at /api/v1): bearer tokens, strict JSON in and out, the one error document."""

from flask import Blueprint, request
from werkzeug.routing import IntegerConverter

from app.api.auth import authenticate
from app.api.bodies import MAX_ID

bp = Blueprint("api", __name__)


class IdConverter(IntegerConverter):
    """``<id:name>``: an id within the Integer column's range; a bigger one is a 404 here, not a
    database error (the driver would cast it to INTEGER and fail)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)


# Recorded before the routes below, so the converter is known when they are added to the app.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("id", IdConverter))

#: Largest request body: an order of the maximum number of lines fits many times over.
MAX_BODY_BYTES = 256 * 1024


@bp.before_request
def limit_body_size() -> None:
    # Applies before the body is read, chunked uploads included; larger bodies get a JSON 413.
    request.max_content_length = MAX_BODY_BYTES


bp.before_request(authenticate)

from app.api import accounts, admin, orders, products, spec  # noqa: E402, F401  (routes register on bp)
