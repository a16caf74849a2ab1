"""JSON logs: one object per line, with the request id of the request being served."""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Flask, g, has_request_context
from flask.logging import default_handler

from app.services.errors import MaxRetriesExceeded, SystemFailure

if TYPE_CHECKING:  # gunicorn's master imports this module for its log format: keep it free of the app
    from app.services.transactions import CallStats

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

credit_log = logging.getLogger("app.credit")


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, request_id, then the record's ``extra`` fields, as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            document["request_id"] = g.request_id
        document.update((k, v) for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged, as logging's own last-resort handler does,
    so a redirection made after start-up (a test's capture, a supervisor's) still gets every line."""

    def __init__(self):
        super().__init__()
        self.setFormatter(JsonFormatter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it; the property decides instead
        pass


def configure(app: Flask) -> None:
    """Send the app's loggers (``app`` and below) to stderr as JSON, once per process."""
    logger = logging.getLogger("app")  # Flask's app.logger, named after the package
    logger.removeHandler(default_handler)
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        logger.addHandler(StderrHandler())
    logger.setLevel(app.config["LOG_LEVEL"])
    # Our handler writes every line; passing records up as well would print them twice under a root handler.
    logger.propagate = False


#: Outcomes an operator should look at: the account stayed busy, or something failed.
_WORTH_A_WARNING = (MaxRetriesExceeded.code, SystemFailure.code)


def log_credit_call(sender, *, stats: "CallStats") -> None:
    """Subscriber of ``credit_call_finished``: one line per credit decision."""
    level = logging.WARNING if stats.outcome in _WORTH_A_WARNING else logging.INFO
    credit_log.log(level, "credit decision", extra={
        "operation": stats.operation, "account_id": stats.account_id, "outcome": stats.outcome,
        "attempts": stats.attempts, "lock_wait_ms": round(stats.lock_wait_seconds * 1000, 3),
        "duration_ms": round(stats.duration_seconds * 1000, 3)})
