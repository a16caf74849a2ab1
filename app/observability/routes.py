"""GET /healthz (a database round trip) and GET /metrics (Prometheus text format; in production, bearer token)."""

import hmac
import logging

from flask import Blueprint, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import NotFound, Unauthorized

from app.extensions import db
from app.jobs import queue_figures
from app.observability.metrics import exposition

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not: load balancers route on this. The answer also
    carries the job queue's figures (app.jobs.queue_figures)."""
    try:
        with db.engine.connect() as connection:  # back to the pool at once, with no session to end
            figures = queue_figures(connection)
    except SQLAlchemyError:
        log.warning("health check: database unreachable", exc_info=True)
        return {"status": "unavailable"}, 503
    # The queue's figures inform; they do not fail the check (a stopped worker must not take the web out of service).
    return {"status": "ok", "jobs": figures}


@bp.get("/metrics")
def prometheus_metrics():
    require_metrics_token()
    with db.engine.connect() as connection:
        figures = queue_figures(connection)
    body, content_type = exposition(figures)
    return body, 200, {"Content-Type": content_type}


def require_metrics_token() -> None:
    """In production, 401 unless ``Authorization: Bearer <METRICS_TOKEN>``, and 404 when no token is set (the
    figures name endpoints, outcomes and volumes: not for the internet). Development and tests stay open."""
    if current_app.config["ENV_NAME"] != "production":
        return
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        raise NotFound()
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    # In constant time, so the answer's timing tells nothing about how much of a guess was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise Unauthorized("Send the header Authorization: Bearer <METRICS_TOKEN>.",
                           www_authenticate=WWWAuthenticate("Bearer", {"realm": "metrics"}))
