"""The job queue: real `flask worker` and `flask dev-server` processes, and the queue's figures on /healthz and
/metrics."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from sqlalchemy import text

from app import jobs
from app.models import Role
from app.services import accounts
from app.services.actors import SYSTEM
from tests.support.smtp import free_port


def process_env(app, **settings) -> dict:
    """The environment of an app process working on the test database, with ``settings`` on top."""
    return os.environ | {"FLASK_APP": "wsgi", "DATABASE_URL": jobs.conninfo(app), "APP_ENV": "development",
                         "APP_BASE_URL": "http://creditline.test", "MAIL_KEPT_FOLDER": app.config["MAIL_KEPT_FOLDER"]
                         } | {k: str(v) for k, v in settings.items()}


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 20) -> int:
    process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture
def blocked_account(make):
    account = make.account()
    make.user(Role.RETAILER, retailer=account.retailer, email="owner@shop.example")
    return account


def test_a_worker_process_sends_what_commits_while_it_runs_and_stops_cleanly(app, smtp, blocked_account):
    worker = subprocess.Popen([sys.executable, "-m", "flask", "worker"],
                              env=process_env(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port))
    try:
        time.sleep(1.5)  # listening by now; a job committed earlier would be found anyway
        accounts.block_account(SYSTEM, blocked_account.id, reason="Returned cheque")
        [received] = smtp.inbox.wait_for(1, timeout=15)  # woken by the commit's NOTIFY
        assert received["To"] == "owner@shop.example"
    finally:
        code = stop(worker)
    assert code == 0  # SIGTERM: the worker finishes what it holds and exits


def test_make_run_s_server_starts_a_worker_and_one_ctrl_c_stops_both(app, db, blocked_account):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "flask", "dev-server", "--port", str(port)],
                              env=process_env(app), start_new_session=True)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the development server did not answer")
        children = psutil.Process(server.pid).children(recursive=True)
        assert any("worker" in " ".join(child.cmdline()) for child in children)
        accounts.block_account(SYSTEM, blocked_account.id, reason="Returned cheque")
        for _ in range(100):  # no MAIL_SERVER: the worker keeps the mail
            if db.session.scalar(text("SELECT delivery FROM mail_messages")) == "kept":
                break
            db.session.rollback()
            time.sleep(0.1)
        else:
            pytest.fail("the worker beside the server did not deliver the mail")
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends: the whole process group
        assert server.wait(timeout=20) == 0
        psutil.wait_procs(children, timeout=20)
        assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)


def test_healthz_and_metrics_show_the_queue(client, db, blocked_account, run_jobs):
    accounts.block_account(SYSTEM, blocked_account.id, reason="Returned cheque")
    db.session.execute(text("UPDATE procrastinate_events SET at = now() - interval '90 seconds'"))
    db.session.commit()
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok"
    assert health["jobs"]["due"] == 1 and health["jobs"]["mail_unsent"] == 1
    assert 89 <= health["jobs"]["oldest_due_seconds"] < 120
    metrics = client.get("/metrics").text
    assert 'creditline_jobs{state="due"} 1.0' in metrics
    assert "creditline_mail_unsent 1.0" in metrics
    run_jobs()
    after = client.get("/healthz").get_json()["jobs"]
    assert (after["due"], after["mail_unsent"], after["oldest_due_seconds"]) == (0, 0, 0)
