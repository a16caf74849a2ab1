"""GET /healthz (a database round trip) and GET /metrics (Prometheus text format)."""

import logging

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.observability.metrics import exposition

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not: load balancers route on this."""
    try:
        with db.engine.connect() as connection:  # back to the pool at once, with no session to end
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: database unreachable", exc_info=True)
        return {"status": "unavailable"}, 503
    return {"status": "ok"}


@bp.get("/metrics")
def prometheus_metrics():
    body, content_type = exposition()
    return body, 200, {"Content-Type": content_type}
