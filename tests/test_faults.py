"""Faults under load, against real gunicorn (2 workers): connections killed in PostgreSQL, a worker killed
mid-request, a credit row held by a stuck transaction, an exhausted connection pool, PostgreSQL restarted.

Load: the bank test's mix through /api/v1 (tests/support/http_harness.py MIXED): retailers placing orders (each with its
own Idempotency-Key) and cancelling them, the wholesaler recording payments and posting adjustments (each with
its own key) and changing limits, an admin blocking accounts and unblocking them; orders the large majority.
Through every fault: each request answers within a bound (no hang); a 5xx or a dropped connection only for
requests that overlapped the fault; the app recovers by itself within seconds (/healthz and an order answer);
and afterwards, every order a client was told is confirmed exists with that total and every payment and
adjustment told recorded is in the ledger once with its amount, no order or entry exists that no client sent,
every unseen order, cancel, payment and adjustment is settled by retrying under the same key (a 200 replay or
one 201, never two), each final limit and status is one a client may have set last (or the initial one), no
DEBIT went past the limit in force or onto a blocked account (recorded by a trigger in the order's
transaction), and find_ledger_problems() is empty. Figures are printed (pytest -s shows them). The long
versions: tests/stress/test_http_faults_long.py.

What the faults brought out is pinned at the end: an order answered 500 after it had committed (the request
logger reloaded the user), and a finished response replaced by gunicorn's bare HTML 500 when the connection
died before the request ended (the session's close raised); both fixed, both now regression tests.
"""

import random
import threading
import time
import uuid

import pytest
from sqlalchemy import text

from app.extensions import db as _db
from tests.support.factory import Factory
from tests.support.faults import DEADLINE, MARGIN, kill_a_worker, terminate_connections
from tests.support.http_harness import (
    APP_NAME_PREFIX,
    KEYED,
    Load,
    Window,
    admin_connection,
    assert_mixed,
    assert_recovers,
    call,
    check_the_run,
    database_url,
    healthy,
    open_shop,
    private_postgres,
    recording_debits,
    row_held,
    serving,
    start_recording_debits,
    stop_recording_debits,
    wait_until,
)
from tests.support.isolated_client import IsolatedClient


@pytest.fixture
def shop(db, make):
    with recording_debits(db):
        yield open_shop(make, retailers=4, credit_limit="5000.00")


#: The pool test's settings: one connection per worker process for four threads, refused after a second.
POOL = {"DB_POOL_SIZE": "1", "DB_MAX_OVERFLOW": "0", "DB_POOL_TIMEOUT_SECONDS": "1.0"}


@pytest.fixture(scope="module")
def gunicorns(app, tmp_path_factory):
    """Two gunicorns for this module, started side by side: one as production runs it (2 sync workers, the
    default settings) for the faults that need nothing special, one with a starved pool (2 workers of 4
    threads, POOL). Each test still starts from empty tables: the app keeps no state between requests."""
    name = f"{APP_NAME_PREFIX}-{uuid.uuid4().hex[:10]}"
    with serving(database_url(app, name), tmp_path_factory.mktemp("gunicorn"), workers=2,
                 each=[{}, {"threads": 4, "env": POOL}]) as servers:
        yield name, servers, database_url(app)


@pytest.fixture
def gunicorn(gunicorns):
    name, (server, _), admin_url = gunicorns
    return name, server, admin_url


def report(figures, name: str) -> None:
    print("\n" + figures.line(name))
    assert not figures.violations, "\n".join(figures.violations[:30])


#: The operations beside the retailers' that change an account: what the mixed load adds to the faults.
ACCOUNT_WRITES = ("payment", "adjustment", "set_limit", "block", "unblock")


def assert_the_faults_met_the_mix(figures, load) -> None:
    """Each kind of operation of the load was sent, and the wholesaler's or admin's writes were in flight
    during a fault, not only orders."""
    assert_mixed(figures, load)
    assert sum(figures.during_faults[op] for op in ACCOUNT_WRITES) > 0, figures.during_faults


def lock_waiters(admin, application_name: str) -> int:
    return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                         "AND wait_event_type = 'Lock'", (application_name,)).fetchone()[0]


# --- PostgreSQL ends the app's connections -------------------------------------------------------

def test_connections_terminated_by_postgresql_cost_only_the_requests_on_them(db, shop, gunicorn):
    name, server, admin_url = gunicorn
    with admin_connection(admin_url) as admin:
        load = Load(shop, [server.base], threads=6, seconds=30.0).start()
        try:
            time.sleep(0.5)
            windows = terminate_connections(admin, name, 2.5, random.Random())
            time.sleep(1.0)  # the load goes on after the last fault: it must be clean again
        finally:
            load.stop()
        recovered = assert_recovers([server.base], load)
        figures = check_the_run(db, shop, load, [server.base], windows=windows, bound=MARGIN + 5)
    report(figures, f"pg_terminate_backend (recovered in {recovered:.2f} s)")
    assert figures.faults["pg_terminate_backend"] >= 6
    assert figures.by_outcome["order 201"] > 30
    assert_the_faults_met_the_mix(figures, load)


# --- A gunicorn worker is killed --------------------------------------------------------------------

def test_a_worker_killed_mid_request_loses_only_that_request_and_is_replaced(db, shop, gunicorn):
    name, server, admin_url = gunicorn
    held = shop.buyers[0]
    with admin_connection(admin_url) as admin:
        # Certainly mid-request: both sync workers wait for a held credit row, one request each; kill one.
        # Both must be waiting within the lock deadline; on a machine too busy for that, try again.
        for _ in range(3):
            replies, keys = {}, [f"victim-{uuid.uuid4().hex}" for _ in range(2)]

            def order(key, replies=replies):
                replies[key] = call(server.base, "POST", "/api/v1/orders", body=shop.order_body(1),
                                    token=held.token, headers={"Idempotency-Key": key})

            with row_held(admin_url, held.account_id):
                threads = [threading.Thread(target=order, args=(key,)) for key in keys]
                for thread in threads:
                    thread.start()
                try:
                    wait_until(lambda: lock_waiters(admin, name) == 2, DEADLINE * 0.75,
                               "both workers to wait for the row", every=0.02)
                except AssertionError:
                    victim = None
                else:
                    victim = random.choice(server.worker_pids())
                    killed_at = time.monotonic()
                    server.kill_worker(victim)
                    time.sleep(0.2)
            for thread in threads:
                thread.join(timeout=20)
            if victim is not None:
                break
        else:
            pytest.fail("the two sync workers were never both waiting for the row within the lock deadline")
        cut = [key for key in keys if replies[key].status is None]
        served = [key for key in keys if replies[key].status is not None]
        assert len(cut) == 1 and len(served) == 1, {k: (r.status, r.error) for k, r in replies.items()}
        assert replies[cut[0]].ended - killed_at < 2.0  # the client learns at once, it does not hang
        # The other worker's order: placed once the row was free, or refused as busy if that took too long.
        assert replies[served[0]].status in (201, 503), replies[served[0]]
        server.wait_for_new_workers([victim])
        replaced = time.monotonic() - killed_at
        # The cut request's outcome was unseen; the same key again places it, once.
        retried = call(server.base, "POST", "/api/v1/orders", body=shop.order_body(1), token=held.token,
                       headers={"Idempotency-Key": cut[0]})
        assert retried.status == 201, retried
        again = call(server.base, "POST", "/api/v1/orders", body=shop.order_body(1), token=held.token,
                     headers={"Idempotency-Key": cut[0]})
        assert again.status == 200 and again.body["id"] == retried.body["id"]

        # Then at random moments under load: whatever each worker was doing.
        load = Load(shop, [server.base], threads=6, seconds=30.0, buyers=[1, 2, 3]).start()
        try:
            windows = []
            time.sleep(random.uniform(0.3, 0.8))
            windows.append(kill_a_worker(server, random))
            time.sleep(1.0)
        finally:
            load.stop()
        recovered = assert_recovers([server.base], load, buyer=1)
        figures = check_the_run(db, shop, load, [server.base], windows=windows, grace=1.0, bound=MARGIN + 5)
    figures.faults["worker SIGKILL while both wait for a row"] += 1
    report(figures, f"gunicorn worker SIGKILL (replaced within {replaced:.2f} s, recovered in {recovered:.2f} s)")
    assert figures.by_outcome["order 201"] > 20
    assert_mixed(figures, load)  # the kill is an instant: what was in flight then is a handful of requests


# --- A credit row held by a stuck transaction -------------------------------------------------------

def test_a_row_held_by_an_idle_transaction_makes_only_its_account_busy(db, shop, gunicorn):
    name, server, admin_url = gunicorn
    held = 0
    load = Load(shop, [server.base], threads=6, seconds=30.0, buyers=[1, 2, 3]).start()
    # The held account gets the keyed writes only, whose retries tell whether a refused one wrote anything.
    probe = Load(shop, [server.base], threads=2, seconds=30.0, buyers=[held], mix=KEYED)
    try:
        time.sleep(0.5)
        with row_held(admin_url, shop.buyers[held].account_id):
            hold = Window("row held FOR UPDATE in an idle transaction", time.monotonic(), 0)
            probe.start()
            time.sleep(DEADLINE + 1.0)
            probe.stop()  # its requests in flight end within the deadline, while the row is still held
            hold.ended = time.monotonic()
        time.sleep(0.5)
    finally:
        probe.stop()
        load.stop()
    # The held account: every order, payment and adjustment answers 503 MAX_RETRIES_EXCEEDED with Retry-After,
    # within the deadline and a margin, once a worker takes it (a sync worker may first be busy with another
    # request waiting for the row: hence twice the deadline).
    assert len(probe.attempts) >= 2
    for attempt in probe.attempts:
        reply = attempt.reply
        assert reply.status == 503 and reply.body["error"] == "MAX_RETRIES_EXCEEDED", (reply.status, reply.body)
        assert reply.headers.get("retry-after") == "1"
        assert reply.seconds < 2 * DEADLINE + MARGIN, reply.seconds
    # Every other account: no 5xx, no dropped connection. With sync workers an order may wait in gunicorn's
    # queue behind one that waits for the row: for at most the deadline.
    others = load.attempts
    assert not [a for a in others if a.reply.unseen], [(a.reply.status, a.reply.body) for a in others
                                                      if a.reply.unseen][:5]
    slowest_other = max(a.reply.seconds for a in others)
    assert slowest_other < DEADLINE + MARGIN
    recovered = assert_recovers([server.base], probe, buyer=held)
    figures = check_the_run(db, shop, load, [server.base], bound=DEADLINE + MARGIN)
    held_figures = check_the_run(db, shop, probe, [server.base], windows=[hold], bound=2 * DEADLINE + MARGIN)
    report(figures, f"row held for {hold.ended - hold.started:.1f} s, other accounts (slowest {slowest_other:.2f} s)")
    report(held_figures, f"row held, its own account (recovered in {recovered:.2f} s)")
    assert_mixed(figures, load)
    # MAX_RETRIES_EXCEEDED never held the lock, so wrote nothing: retrying each placed or recorded it (201),
    # never a replay (200).
    assert not [s for s in held_figures.resolved if s.endswith(" 200")], held_figures.resolved
    assert sum(n for s, n in held_figures.resolved.items() if s.endswith(" 201")) == held_figures.unseen


# --- The connection pool runs dry -------------------------------------------------------------------

def test_an_exhausted_connection_pool_answers_in_bounded_time_and_recovers(db, shop, gunicorns):
    """One connection per worker process for four threads: requests waiting on a held row keep it, the
    others wait DB_POOL_TIMEOUT_SECONDS for it and are refused. Nothing may hang or stay broken."""
    _, (_, server), admin_url = gunicorns
    deadline, pool_timeout = DEADLINE, float(POOL["DB_POOL_TIMEOUT_SECONDS"])
    held = 0
    # A request may queue in gunicorn for a thread, wait for the pool, then for the row, and again for the
    # pool after the first NOWAIT attempt gives its connection back: bounded, but by all of that together.
    bound = 2 * (deadline + 2 * pool_timeout) + MARGIN
    load = Load(shop, [server.base], threads=6, seconds=30.0, buyers=[1, 2, 3]).start()
    blocked = Load(shop, [server.base], threads=2, seconds=30.0, buyers=[held], mix=KEYED)
    try:
        time.sleep(0.7)
        with row_held(admin_url, shop.buyers[held].account_id):
            dry = Window("pool dry: its connections wait on a held row", time.monotonic(), 0)
            blocked.start()
            health = []
            for _ in range(5):
                time.sleep(0.4)
                health.append(call(server.base, "GET", "/healthz"))
            blocked.stop()
        dry.ended = time.monotonic()
        time.sleep(1.0)
    finally:
        blocked.stop()
        load.stop()
    recovered = assert_recovers([server.base], load, buyer=1)
    refused = [a for a in [*load.attempts, *blocked.attempts] if a.reply.unseen]
    assert refused, "the pool never ran dry: the fault was not injected"
    # Refused as the API refuses anything: its JSON error document, with a code.
    assert all(isinstance(a.reply.body, dict) and a.reply.body.get("error") for a in refused), \
        [(a.reply.status, a.reply.body) for a in refused if not isinstance(a.reply.body, dict)][:3]
    assert all(h.status in (200, 503) and h.seconds < bound for h in health), [(h.status, h.seconds)
                                                                                for h in health]
    figures = check_the_run(db, shop, load, [server.base], windows=[dry], grace=deadline + pool_timeout,
                            bound=bound)
    held_figures = check_the_run(db, shop, blocked, [server.base], windows=[dry],
                                 grace=deadline + pool_timeout, bound=bound)
    figures.faults["pool of 1 connection per worker, 4 threads"] += 1
    report(figures, f"connection pool exhausted, other accounts (recovered in {recovered:.2f} s)")
    report(held_figures, "connection pool exhausted, the held account")
    assert_the_faults_met_the_mix(figures, load)


# --- PostgreSQL restarts ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def private(app):
    """A PostgreSQL server of this module's own with the schema migrated, and an app on it: the session's
    server is shared with other runs (and CI's is the machine's), so only this one is ever stopped.
    Yields (server, app); each test starts from empty tables."""
    from app import create_app
    from app.config import TestConfig
    from app.extensions import limiter

    with private_postgres() as postgres:
        config = type("Private", (TestConfig,), {
            "SQLALCHEMY_DATABASE_URI": postgres.url("credit").replace("postgresql://", "postgresql+psycopg://"),
            # As in production: an exception an error handler cannot turn into a page is a 500, not raised.
            "PROPAGATE_EXCEPTIONS": False})
        private_app = create_app(config)
        private_app.test_client_class = IsolatedClient
        limiter.init_app(app)  # one limiter object: it counts for the session's app again
        try:
            yield postgres, private_app
        finally:
            with private_app.app_context():
                _db.engine.dispose()


@pytest.fixture
def private_shop(private):
    postgres, private_app = private
    if not postgres.running():
        postgres.start()
    with private_app.app_context():
        tables = ", ".join(t.name for t in _db.metadata.sorted_tables)
        with _db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        start_recording_debits(_db)
        yield postgres, open_shop(Factory(_db), retailers=4, credit_limit="5000.00")
        if postgres.running():  # else the next test's start replaces the recorder (the server is ours alone)
            stop_recording_debits(_db)
        _db.session.remove()


def test_the_app_rides_out_a_postgresql_restart(private_shop, tmp_path):
    """Stopped (fast: open transactions rolled back, connections closed) under load, down two seconds,
    started again."""
    postgres, shop = private_shop
    name = f"{APP_NAME_PREFIX}-{uuid.uuid4().hex[:10]}"
    with serving(postgres.url("credit", name), tmp_path, workers=2,
                 env={"CREDIT_LOCK_DEADLINE_SECONDS": str(DEADLINE)}) as [server]:
        load = Load(shop, [server.base], threads=6, seconds=30.0).start()
        try:
            time.sleep(1.0)
            outage = Window("PostgreSQL restart (fast stop, 2 s down)", time.monotonic(), 0)
            postgres.stop("fast")
            time.sleep(1.0)
            during = call(server.base, "GET", "/healthz")
            time.sleep(1.0)
            postgres.start()
            outage.ended = time.monotonic()
            recovered = wait_until(lambda: healthy(server.base), 15, "/healthz after the restart")
            time.sleep(1.5)
        finally:
            load.stop()
        assert during.status == 503 and during.seconds < 5, during
        slowest = assert_recovers([server.base], load)
        figures = check_the_run(_db, shop, load, [server.base], windows=[outage], grace=3.0, bound=MARGIN + 5)
    report(figures, f"PostgreSQL restart (healthy {recovered:.2f} s after start, an order in {slowest:.2f} s)")
    assert figures.unseen >= 1  # the outage did reach the clients
    assert_the_faults_met_the_mix(figures, load)


# --- What the faults above brought out ----------------------------------------------------------------

def test_an_order_that_committed_is_answered_201_even_if_the_database_goes_away_right_after(
        private, private_shop, monkeypatch):
    """Seen under load: during the PostgreSQL restart and the pg_terminate_backend runs, orders answered 500
    had been placed (a retry under the same key replayed them with 200): the request logger read
    g.api_user.id, which the order's commit had expired, and so queried the database after the commit
    (fixed in 8723dd2, which logs the identity key instead). Here the server stops the moment the order's
    transaction has committed: nothing the answer needs may be in the database any more."""
    from app.services import orders

    postgres, shop = private_shop
    _, private_app = private
    place_order = orders.place_order

    def place_then_lose_the_database(*args, **kwargs):
        placed = place_order(*args, **kwargs)
        postgres.stop("immediate")
        return placed

    monkeypatch.setattr(orders, "place_order", place_then_lose_the_database)
    try:
        response = private_app.test_client().post(
            "/api/v1/orders", json=shop.order_body(2),
            headers={"Authorization": f"Bearer {shop.buyers[0].token}", "Idempotency-Key": "placed-then-lost"})
    finally:
        postgres.start()
    stored = _db.session.execute(text("SELECT id, total_amount FROM orders")).all()
    assert len(stored) == 1  # the order is in the books...
    assert response.status_code == 201, response.get_json()  # ...so the client must be told so
    assert response.get_json()["id"] == stored[0].id


def test_a_connection_lost_at_the_end_of_a_request_does_not_replace_its_answer(app, make, admin_url_of,
                                                                                monkeypatch):
    """Seen under pg_terminate_backend: a few API calls were answered a bare HTML 500 by gunicorn, whose log
    shows psycopg.errors.AdminShutdown raised by the ROLLBACK in the app context's teardown."""
    from app.observability import metrics
    from tests.support.api_client import World

    world = World(app, make)
    record_request = metrics.record_request

    def lose_the_connection_then_record(*args):
        # The view is done; its read transaction is still open on the session's connection.
        pid = _db.session.connection().connection.dbapi_connection.info.backend_pid
        with admin_connection(admin_url_of) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_until(lambda: not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                                 (pid,)).fetchone(), 5, "the backend to end")
        record_request(*args)

    monkeypatch.setattr(metrics, "record_request", lose_the_connection_then_record)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    checked_out = _db.engine.pool.checkedout()
    try:
        response = world.retailer.get("/orders", check=False)
    except Exception as error:  # what gunicorn turns into a bare text/html 500
        pytest.fail(f"the WSGI app raised {type(error).__name__} after its view had answered")
    assert response.status_code == 200 and response.is_json
    assert _db.engine.pool.checkedout() == checked_out  # the dead connection went back to the pool, discarded
    monkeypatch.setattr(metrics, "record_request", record_request)
    assert world.retailer.get("/orders", check=False).status_code == 200  # and the next request is served


@pytest.fixture
def admin_url_of(app):
    return database_url(app)
