"""Per request: an id (the caller's X-Request-ID when sane), one log line, and the HTTP metrics."""

import logging
import re
import time
import uuid

from flask import Flask, g, request
from flask.wrappers import Response

from app.observability import metrics

log = logging.getLogger("app.requests")

#: A caller's id is kept only if it is short and plain, so it cannot forge log lines or bloat them.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def register(app: Flask) -> None:
    app.before_request(start_request)
    app.after_request(finish_request)


def start_request() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def finish_request(response: Response) -> Response:
    if "request_id" not in g:  # an earlier before_request answered first
        start_request()
    seconds = time.perf_counter() - g.request_started
    # The endpoint name, never the raw path: a label per distinct URL would grow without bound.
    endpoint = request.endpoint or "unmatched"
    metrics.record_request(request.method, endpoint, response.status_code, seconds)
    response.headers["X-Request-ID"] = g.request_id
    user = g.get("api_user")  # plain values (services/actors.py ActingUser): reading them needs no database
    user_id = user.id if user is not None else None
    log.info("request", extra={"method": request.method, "path": request.path, "endpoint": endpoint,
                               "status": response.status_code, "duration_ms": round(seconds * 1000, 3),
                               "user_id": user_id,
                               "remote_addr": request.remote_addr})
    return response
