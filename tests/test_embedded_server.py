"""The development database: `make run` stopped with SIGTERM stops its embedded PostgreSQL server too."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
#: A process that starts the embedded server under its own instance directory, says the server's pid, and waits.
SERVE = """
import sys, time
from app.embedded_db import _server, embedded_database_url
embedded_database_url(sys.argv[1], database="demo")
print(_server(sys.argv[1]).get_pid(), flush=True)
time.sleep(120)
"""


def test_sigterm_stops_the_embedded_server_with_the_app(tmp_path):
    app = subprocess.Popen([sys.executable, "-c", SERVE, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
    try:
        postgres = psutil.Process(int(app.stdout.readline()))
        assert postgres.is_running()
        app.send_signal(signal.SIGTERM)
        assert app.wait(60) == 128 + signal.SIGTERM, app.stderr.read()
        deadline = time.monotonic() + 30
        while postgres.is_running() and postgres.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not postgres.is_running() or postgres.status() == psutil.STATUS_ZOMBIE, "the server was left running"
    finally:
        app.kill()
