"""Processes for section 4: the real gunicorn on a free loopback port, the load generator, and CPU times.

Everything started here stops by itself: each command runs under coreutils ``timeout`` (a hard
upper bound on its life, even if this process is killed), in its own process group, and is
terminated in ``finally`` — SIGTERM first, then SIGKILL to that group only.
"""

import contextlib
import http.client
import ipaddress
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def plain_database_url(app) -> str:
    """The bench database as a plain postgresql:// URL, the form DATABASE_URL takes."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _bounded(command: list[str], lifetime: float) -> list[str]:
    # timeout(1) makes itself a group leader and signals the whole group when the time is up.
    return ["timeout", "--kill-after=10", f"{int(lifetime)}s", *command]


def stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM (gunicorn shuts down gracefully), then SIGKILL to the process group this module made."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants (none if it has gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class Gunicorn:
    """A running `gunicorn -c gunicorn.conf.py wsgi:app`."""

    def __init__(self, process: subprocess.Popen, port: int, workers: int, log: Path):
        self.process, self.port, self.workers, self.log = process, port, workers, log

    @property
    def master(self) -> psutil.Process:
        children = psutil.Process(self.process.pid).children()  # timeout(1) → gunicorn master
        return children[0]

    def worker_processes(self) -> list[psutil.Process]:
        return self.master.children()

    def processes(self) -> list[psutil.Process]:
        return tree(self.process.pid)

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            connection.request("GET", "/healthz")
            status = connection.getresponse().status
            connection.close()
        except OSError:
            return False
        return status == 200

    def wait_idle(self, limit: float = 60.0) -> float:
        """Wait until the requests a run left queued are served: /healthz, queued behind them, answers
        and the workers stop using CPU. Returns the seconds waited."""
        started = time.monotonic()
        deadline = started + limit
        while time.monotonic() < deadline:
            if self.healthy(timeout=max(0.1, deadline - time.monotonic())):
                workers = self.worker_processes()
                before = sum(sum(p.cpu_times()[:2]) for p in workers)
                time.sleep(0.25)
                if sum(sum(p.cpu_times()[:2]) for p in workers) - before < 0.025:
                    return time.monotonic() - started
            else:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn still busy {limit:.0f} s after a run:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def gunicorn(app, *, workers: int, directory: Path, lifetime: float, wsgi: str = "wsgi:app") -> Iterator[Gunicorn]:
    """Gunicorn serving ``wsgi`` on the bench database at 127.0.0.1:<free port>, its workers booted;
    stopped on exit."""
    port = free_port()
    metrics = directory / "prometheus"
    metrics.mkdir()
    env = os.environ | {
        "DATABASE_URL": plain_database_url(app), "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": "1", "GUNICORN_GRACEFUL_TIMEOUT": "5",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics), "APP_ENV": "production",
        # Production refuses a key under 32 bytes.
        "SECRET_KEY": secrets.token_urlsafe(48),
        # The hot-account run sends one token's orders as fast as the server takes them: measured, not limited.
        "API_RATE_LIMIT": "1000000 per minute",
        "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    env.pop("GUNICORN_CONTROL_SOCKET", None)
    log = directory / "gunicorn.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            _bounded([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", wsgi], lifetime),
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
    server = Gunicorn(process, port, workers, log)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        stop(process)


def _wait_until_serving(server: Gunicorn, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log_tail()}")
        if server.healthy() and len(server.worker_processes()) >= server.workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz within {limit:.0f} s:\n{server.log_tail()}")


class CpuSampler:
    """CPU seconds (user + system) of named groups of processes, and of the whole machine."""

    def __init__(self, dsn: str | None):
        self.dsn = dsn  # the bench database: its backends, the server's own processes, the postmaster

    def postgres_processes(self) -> list[psutil.Process]:
        if self.dsn is None:
            return []
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            address = conn.execute("SELECT host(inet_server_addr())").fetchone()[0]
            if address is not None and not ipaddress.ip_address(address).is_loopback:
                return []  # a server on another machine: its process ids mean nothing here
            pids = [pid for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " OR backend_type <> 'client backend'")]
        found = []
        for pid in pids:
            try:
                process = psutil.Process(pid)
                if "postgres" in process.name() or "postgres" in " ".join(process.cmdline()[:1]):
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # gone since the query
        if found:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                found.append(found[0].parent())  # the postmaster
        return found

    @staticmethod
    def _times(processes: list[psutil.Process]) -> dict[int, float]:
        times = {}
        for process in processes:
            try:
                cpu = process.cpu_times()
                times[process.pid] = cpu.user + cpu.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return times

    def sample(self, groups: dict[str, list[psutil.Process]]) -> dict:
        machine = psutil.cpu_times()
        busy = sum(getattr(machine, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))
        return {"machine": busy, "groups": {name: self._times(processes) for name, processes in groups.items()}}

    @staticmethod
    def difference(before: dict, after: dict) -> dict:
        """CPU seconds spent by each group between two samples; a process new in ``after`` counts whole."""
        spent = {name: sum(t - before["groups"].get(name, {}).get(pid, 0.0) for pid, t in times.items())
                 for name, times in after["groups"].items()}
        spent["whole machine"] = after["machine"] - before["machine"]
        return spent


def run_loadgen(config: dict, directory: Path, *, sample) -> tuple[dict, dict]:
    """Run bench.loadgen with ``config``; ``sample(loadgen_pid)`` is called at the window's START and END.

    Returns the generator's figures and the two samples.
    """
    path = directory / "loadgen.json"
    path.write_text(json.dumps(config))
    lifetime = config["seconds"] + config.get("drain_seconds", 5.0) + 60
    errors = directory / "loadgen.stderr"
    with open(errors, "wb") as error_file:
        process = subprocess.Popen(_bounded([sys.executable, "-m", "bench.loadgen", str(path)], lifetime),
                                   cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=error_file, text=True, start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line.strip())
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    samples, result = {}, None
    deadline = time.monotonic() + lifetime
    try:
        while result is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError("the load generator did not finish in time") from None
            if line is None:
                raise RuntimeError(f"the load generator stopped: {errors.read_text()[-2000:]}")
            if line in ("START", "END"):
                samples[line] = sample(process.pid)
            elif line.startswith("{"):
                result = json.loads(line)
        process.wait(10)
    finally:
        stop(process, grace=5)
        reader.join(5)
    return result, samples
