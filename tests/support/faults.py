"""Faults to inject under load (connections terminated, a worker killed, a row held) and the bounds they allow."""

import random
import time

from tests.support.http_harness import Window, app_backends, row_held

#: How long a credit operation waits for a busy account (CREDIT_LOCK_DEADLINE_SECONDS, the default).
DEADLINE = 2.0
#: What a request may take beyond the longest wait the app itself allows, on a busy 2-core machine.
MARGIN = 2.5


def terminate_connections(admin, application_name: str, seconds: float, rng: random.Random) -> list[Window]:
    """pg_terminate_backend on one or two random app connections every 0.1-0.4 s, for ``seconds``."""
    windows, ends = [], time.monotonic() + seconds
    while time.monotonic() < ends:
        pids = app_backends(admin, application_name)
        for pid in rng.sample(pids, k=min(len(pids), rng.randint(1, 2))):
            started = time.monotonic()
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            windows.append(Window("pg_terminate_backend", started, time.monotonic()))
        time.sleep(rng.uniform(0.1, 0.4))
    return windows


def kill_a_worker(server, rng: random.Random) -> Window:
    """SIGKILL a random worker, then wait until its replacement has loaded the app."""
    victim = rng.choice(server.worker_pids())
    started = time.monotonic()
    server.kill_worker(victim)
    window = Window("gunicorn worker SIGKILL", started, time.monotonic())
    server.wait_for_new_workers([victim])  # a worker killed while still booting would cut nothing
    return window


def hold_a_row(admin_url: str, account_id: int, seconds: float) -> Window:
    """A transaction that locks the account's row and then sits idle for ``seconds``."""
    with row_held(admin_url, account_id):
        window = Window("row held FOR UPDATE in an idle transaction", time.monotonic(), 0)
        time.sleep(seconds)
    window.ended = time.monotonic()
    return window
