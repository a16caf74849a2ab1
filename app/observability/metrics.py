"""Prometheus metrics: credit decisions, the lock, order latency, HTTP requests.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set before this module is imported (gunicorn.conf.py),
so each worker writes its samples to files there and /metrics sums them across workers; without
it, the process's own registry is served.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from app.services.transactions import CallStats

#: 1 ms to 2 s (the lock deadline); 0.1 s is a bucket edge so the alert's threshold is exact.
LOCK_WAIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
#: An order is a few queries plus any lock wait: 5 ms to 5 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

ORDERS = Counter("creditline_orders", "Order placements by outcome: OK or the refusal's code.", ["outcome"])
CREDIT_OPERATIONS = Counter("creditline_credit_operations", "Locked credit operations by operation and outcome.",
                            ["operation", "outcome"])
LOCK_WAIT = Histogram("creditline_credit_lock_wait_seconds",
                      "Time spent acquiring the credit account's row lock, per locked call.", ["operation"],
                      buckets=LOCK_WAIT_BUCKETS)
LOCK_RETRIES = Counter("creditline_credit_lock_retries", "Lock attempts after the first (the row was busy).",
                       ["operation"])
ORDER_LATENCY = Histogram("creditline_order_duration_seconds",
                          "Time to place an order under the lock, from the first attempt to commit or refusal.",
                          buckets=LATENCY_BUCKETS)
HTTP_REQUESTS = Counter("creditline_http_requests", "HTTP requests by method, Flask endpoint and status.",
                        ["method", "endpoint", "status"])
HTTP_LATENCY = Histogram("creditline_http_request_duration_seconds", "HTTP request duration by endpoint.",
                         ["endpoint"], buckets=LATENCY_BUCKETS)


def record_credit_call(sender, *, stats: CallStats) -> None:
    """Subscriber of ``credit_call_finished``: one locked call's outcome, lock wait and retries."""
    CREDIT_OPERATIONS.labels(stats.operation, stats.outcome).inc()
    LOCK_WAIT.labels(stats.operation).observe(stats.lock_wait_seconds)
    if stats.attempts > 1:
        LOCK_RETRIES.labels(stats.operation).inc(stats.attempts - 1)
    if stats.operation == "place_order":
        ORDERS.labels(stats.outcome).inc()
        ORDER_LATENCY.observe(stats.duration_seconds)


def record_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, endpoint, str(status)).inc()
    HTTP_LATENCY.labels(endpoint).observe(seconds)


def exposition(queue: dict[str, float]) -> tuple[bytes, str]:
    """The text format and its content type: summed over every worker's files in multiprocess mode, then the job
    queue's and the mail's figures as the database has them now (``queue``: app.jobs.queue_figures)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    now = CollectorRegistry()
    now.register(_QueueNow(queue))
    return generate_latest(registry) + generate_latest(now), CONTENT_TYPE_LATEST


class _QueueNow:
    """Gauges read at scrape time: the worker processes serve no metrics, the database knows their work."""

    def __init__(self, figures: dict[str, float]):
        self.figures = figures

    def collect(self):
        jobs = GaugeMetricFamily("creditline_jobs", "Background jobs by state: due (waiting for a worker), "
                                 "scheduled (a retry's wait), running, failed (out of attempts).", labels=["state"])
        for state in ("due", "scheduled", "running", "failed"):
            jobs.add_metric([state], self.figures[state])
        yield jobs
        yield GaugeMetricFamily("creditline_jobs_oldest_due_seconds",
                                "How long the oldest due job has waited for a worker.",
                                value=self.figures["oldest_due_seconds"])
        yield GaugeMetricFamily("creditline_mail_unsent", "Mails written and not yet sent.",
                                value=self.figures["mail_unsent"])
        yield GaugeMetricFamily("creditline_mail_failed_attempts",
                                "Delivery attempts of unsent mails that failed (each is retried with backoff).",
                                value=self.figures["mail_failed_attempts"])
