"""The fault tests, long (make stress): STRESS_HTTP_SECONDS (60) of API load on real gunicorn with a random
fault every 1-3 s, and STRESS_RESTARTS (5) PostgreSQL restarts under load on a private server.

The same mixed load (orders, cancels, payments, adjustments, limit changes, blocks and unblocks) and the same
checks as tests/test_faults.py, over many more requests and faults: every request answers within a bound, 5xx or
a dropped connection only for requests that overlapped a fault, recovery within seconds after each, and
afterwards every confirmed order stored with its total and every recorded payment and adjustment in the ledger
once, no order or entry nobody sent, every unseen order, cancel, payment and adjustment settled by retrying
under its key (never two), final limits and statuses ones a client may have set last, no DEBIT past its limit or
on a blocked account, find_ledger_problems() empty. Printed per operation: requests sent, in flight during a
fault, unseen, how they were settled, and every answer; then the faults and the violations.
"""

import os
import random
import time
import uuid

import pytest

from app.extensions import db as _db
from tests.support.factory import Factory
from tests.support.faults import DEADLINE, MARGIN, hold_a_row, kill_a_worker, terminate_connections
from tests.support.http_harness import (
    APP_NAME_PREFIX,
    Load,
    Window,
    admin_connection,
    assert_mixed,
    assert_recovers,
    check_the_run,
    database_url,
    healthy,
    open_shop,
    private_postgres,
    recording_debits,
    serving,
    start_recording_debits,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

SECONDS = float(os.environ.get("STRESS_HTTP_SECONDS", "60"))
RESTARTS = int(os.environ.get("STRESS_RESTARTS", "5"))
SEED = int(os.environ.get("STRESS_HTTP_SEED", random.randrange(2**32)))
#: A bound on each load far above what 8 threads send in the run (about 100 requests a second): the load must
#: last until the last fault, not run out of requests before it.
MAX_REQUESTS = 500 * int(SECONDS + 30 * RESTARTS + 60)


def report(figures, load, name: str) -> None:
    print("\n" + figures.table(name))
    assert not figures.violations, "\n".join(figures.violations[:30])
    assert_mixed(figures, load)


def test_random_faults_under_a_long_load(app, db, make, tmp_path):
    rng = random.Random(SEED)
    print(f"\nseed {SEED} (STRESS_HTTP_SEED to repeat)")
    shop = open_shop(make, retailers=8, credit_limit="20000.00")
    name = f"{APP_NAME_PREFIX}-{uuid.uuid4().hex[:10]}"
    admin_url = database_url(app)
    with recording_debits(db), serving(database_url(app, name), tmp_path, workers=2, lifetime=SECONDS + 300) \
            as [server], admin_connection(admin_url) as admin:
        load = Load(shop, [server.base], threads=8, seconds=SECONDS + 60, max_requests=MAX_REQUESTS,
                    seed=SEED).start()
        windows: list[Window] = []
        try:
            ends = time.monotonic() + SECONDS
            while time.monotonic() < ends:
                time.sleep(rng.uniform(1.0, 3.0))
                fault = rng.choice(["terminate", "kill", "hold"])
                if fault == "terminate":
                    windows += terminate_connections(admin, name, 1.0, rng)
                elif fault == "kill":
                    windows.append(kill_a_worker(server, rng))
                else:
                    windows.append(hold_a_row(admin_url, rng.choice(shop.buyers).account_id, DEADLINE + 1.0))
            time.sleep(2.0)
        finally:
            load.stop()
        recovered = assert_recovers([server.base], load)
        figures = check_the_run(db, shop, load, [server.base], windows=windows, grace=DEADLINE + 1.0,
                                bound=2 * DEADLINE + MARGIN + 5, replays=200)
    report(figures, load, f"{SECONDS:.0f} s of random faults (recovered in {recovered:.2f} s)")


def test_many_postgresql_restarts_under_load(app, tmp_path):
    from app import create_app
    from app.config import TestConfig
    from app.extensions import limiter

    rng = random.Random(SEED)
    name = f"{APP_NAME_PREFIX}-{uuid.uuid4().hex[:10]}"
    with private_postgres() as postgres:
        config = type("Private", (TestConfig,), {
            "SQLALCHEMY_DATABASE_URI": postgres.url("credit").replace("postgresql://", "postgresql+psycopg://")})
        private = create_app(config)
        limiter.init_app(app)
        try:
            with private.app_context():
                start_recording_debits(_db)  # a server of this test's own, deleted with the recorder afterwards
                shop = open_shop(Factory(_db), retailers=6, credit_limit="20000.00")
                with serving(postgres.url("credit", name), tmp_path, workers=2, lifetime=RESTARTS * 30 + 300) \
                        as [server]:
                    load = Load(shop, [server.base], threads=8, seconds=RESTARTS * 30 + 60,
                                max_requests=MAX_REQUESTS, seed=SEED).start()
                    windows, recoveries = [], []
                    try:
                        for _ in range(RESTARTS):
                            time.sleep(rng.uniform(2.0, 4.0))
                            outage = Window("PostgreSQL restart", time.monotonic(), 0)
                            postgres.stop(rng.choice(["fast", "immediate"]))
                            time.sleep(rng.uniform(0.5, 3.0))
                            postgres.start()
                            outage.ended = time.monotonic()
                            windows.append(outage)
                            recoveries.append(wait_until(lambda: healthy(server.base), 20, "/healthz"))
                        time.sleep(2.0)
                    finally:
                        load.stop()
                    assert_recovers([server.base], load)
                    figures = check_the_run(_db, shop, load, [server.base], windows=windows, grace=3.0,
                                            bound=MARGIN + 5, replays=200)
                _db.engine.dispose()
        finally:
            limiter.init_app(app)
    report(figures, load,
           f"{RESTARTS} PostgreSQL restarts (healthy again within {max(recoveries):.2f} s of each start)")
