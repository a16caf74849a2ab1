"""Production serving: `gunicorn -c gunicorn.conf.py wsgi:app`, every setting from the environment.

Metrics: prometheus-client's multiprocess mode needs PROMETHEUS_MULTIPROC_DIR set before any
worker imports it. This file runs in the master first, so it sets the directory here (a fresh
temporary one unless given), empties it when the master starts, and marks each dead worker's
files so its live gauges stop counting; counters and histograms keep what the worker recorded.
"""

import os
import shutil
import tempfile
from pathlib import Path

_METRICS_DIR_PREFIX = "creditline-prometheus-"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The usual 2 per core + 1: a worker waiting on PostgreSQL leaves the core to another. The app reads the same
# variable and default (GUNICORN_WORKERS in app/config.py) to warn when each worker would count rate limits alone.
workers = _int("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1)
# Above 1, gunicorn uses its gthread worker; keep threads <= DB_POOL_SIZE + DB_MAX_OVERFLOW.
threads = _int("GUNICORN_THREADS", 1)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle a worker after this many requests (0: never); the jitter keeps them from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0)
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicornc's control socket; off unless a path is given, since its default path is shared by every
# gunicorn of the same user on the host.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # set once: a reload (HUP) keeps the same directory
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=_METRICS_DIR_PREFIX)
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

# Gunicorn's own lines (start, worker boot, timeouts) in the same JSON shape as the app's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "app.observability.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
                 "discard": {"class": "logging.NullHandler"}},
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        # The app logs one JSON line per request itself, with its request id: no second access line.
        "gunicorn.access": {"level": "INFO", "handlers": ["discard"], "propagate": False},
    },
}


def on_starting(server):
    """Master start: files left by an earlier run would be added to this run's counts."""
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker exited: its live gauges stop counting (its counters and histograms are kept)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Master exit: remove the metrics directory if this file made it."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if directory.parent == Path(tempfile.gettempdir()) and directory.name.startswith(_METRICS_DIR_PREFIX):
        shutil.rmtree(directory, ignore_errors=True)
