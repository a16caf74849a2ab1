"""Operations: JSON logs with request ids, Prometheus metrics, and the /healthz and /metrics endpoints."""

from flask import Flask


def register(app: Flask) -> None:
    """Logging, request ids and HTTP metrics, and the subscribers to every credit decision."""
    # Imported here, not at the top: gunicorn's master loads app.observability.logs for its own log
    # format, and must not create metrics (or load the app's models) before it forks the workers.
    from app.observability import logs, metrics, request_log
    from app.services.transactions import credit_call_finished

    logs.configure(app)
    request_log.register(app)
    credit_call_finished.connect(metrics.record_credit_call, sender=app)
    credit_call_finished.connect(logs.log_credit_call, sender=app)
