"""Metrics, health, JSON logs with request ids, the alert rules, and metrics summed across gunicorn workers."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app import create_app
from app.extensions import db as _db
from app.observability.metrics import LOCK_WAIT_BUCKETS
from tests.support.api_client import World

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy" / "prometheus-alerts.yml"


@pytest.fixture
def world(app, make):
    return World(app, make)


def samples(exposition: str) -> dict[tuple, float]:
    """(sample name, sorted labels) → value, from Prometheus text format."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(exposition) for s in family.samples}


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


@pytest.fixture
def held_lock():
    """Hold one account's row lock from another connection until the block ends."""

    class Holder:
        def __init__(self, account_id):
            self.connection = _db.engine.connect()
            self.connection.execute(text("SELECT id FROM credit_accounts WHERE id = :id FOR UPDATE"),
                                    {"id": account_id})

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.connection.rollback()
            self.connection.close()

    return Holder


# --- Metrics --------------------------------------------------------------------------------------

def test_metrics_count_orders_by_outcome_with_lock_and_latency_histograms(app, client, world, held_lock,
                                                                          monkeypatch):
    before = scrape(client)
    assert world.retailer.post("/orders", world.order_body(2)).status_code == 201
    assert world.retailer.post("/orders", world.order_body(3)).status_code == 201
    assert world.retailer.post("/orders", world.order_body(1000)).status_code == 400  # INSUFFICIENT_CREDIT
    monkeypatch.setitem(app.config, "CREDIT_LOCK_DEADLINE_SECONDS", 0.2)
    with held_lock(world.account_id):
        assert world.retailer.post("/orders", world.order_body(1)).status_code == 503
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("creditline_orders_total", outcome="OK") == 2
    assert delta("creditline_orders_total", outcome="INSUFFICIENT_CREDIT") == 1
    assert delta("creditline_orders_total", outcome="MAX_RETRIES_EXCEEDED") == 1
    assert delta("creditline_credit_lock_wait_seconds_count", operation="place_order") == 4
    assert delta("creditline_credit_lock_retries_total", operation="place_order") == 1  # the busy one's retry
    # The busy order waited about 0.2 s: above the 0.1 s bucket the alert uses, within 0.25 s... or 0.5 s.
    assert delta("creditline_credit_lock_wait_seconds_bucket", operation="place_order", le="0.1") == 3
    assert delta("creditline_credit_lock_wait_seconds_bucket", operation="place_order", le="+Inf") == 4
    assert delta("creditline_order_duration_seconds_count") == 4
    for status, count in (("201", 2), ("400", 1), ("503", 1)):
        assert delta("creditline_http_requests_total", method="POST", endpoint="api.place_order",
                     status=status) == count
    assert delta("creditline_credit_operations_total", operation="place_order", outcome="OK") == 2


def test_lock_wait_buckets_resolve_1_ms_to_2_s_with_the_alert_threshold_on_an_edge():
    assert LOCK_WAIT_BUCKETS[0] == 0.001 and LOCK_WAIT_BUCKETS[-1] == 2.0 and 0.1 in LOCK_WAIT_BUCKETS


def test_other_credit_operations_are_measured_but_not_counted_as_orders(client, world):
    before = scrape(client)
    world.wholesaler.post(f"/credit-accounts/{world.account_id}/payments", {"amount": "5.00", "reference": "r"})
    after = scrape(client)
    labels = {"operation": "record_payment", "outcome": "OK"}
    assert value(after, "creditline_credit_operations_total", **labels) \
        - value(before, "creditline_credit_operations_total", **labels) == 1
    assert sum(v for (name, _), v in after.items() if name == "creditline_orders_total") == \
        sum(v for (name, _), v in before.items() if name == "creditline_orders_total")


def test_unmatched_urls_share_one_endpoint_label(client):
    client.get("/no/such/page/1")
    client.get("/no/such/page/2")
    names = {dict(labels).get("endpoint") for (name, labels) in scrape(client)
             if name == "creditline_http_requests_total"}
    assert "unmatched" in names and not any(n and n.startswith("/no/") for n in names)


def in_production(app, monkeypatch, metrics_token: str | None) -> None:
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    monkeypatch.setitem(app.config, "METRICS_TOKEN", metrics_token)


def test_in_production_metrics_answer_only_the_metrics_token(app, client, monkeypatch):
    token = "m" * 40
    in_production(app, monkeypatch, token)
    for sent in [None, "Bearer wrong", f"Bearer {token}x", f"Bearer {token[:-1]}", f"Basic {token}", token]:
        response = client.get("/metrics", headers={"Authorization": sent} if sent else {})
        assert response.status_code == 401, sent
        assert response.headers["WWW-Authenticate"].startswith("Bearer") and b"creditline_" not in response.data
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and "creditline_http_requests_total" in response.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_in_production_without_a_metrics_token_metrics_are_not_there(app, client, monkeypatch):
    in_production(app, monkeypatch, None)
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    assert client.get("/healthz").status_code == 200  # the load balancer's check stays open


def test_outside_production_metrics_stay_open(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "m" * 40)
    assert client.get("/metrics").status_code == 200


# --- Health ---------------------------------------------------------------------------------------

def test_healthz_is_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"
    assert set(response.json["jobs"]) == {"due", "scheduled", "running", "failed", "oldest_due_seconds",
                                          "mail_unsent", "mail_failed_attempts"}


def test_healthz_is_503_when_the_database_does_not(app):
    unreachable = create_app({"SQLALCHEMY_DATABASE_URI":
                              "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"})
    response = unreachable.test_client().get("/healthz")
    assert response.status_code == 503 and response.json == {"status": "unavailable"}


# --- Request ids and JSON logs --------------------------------------------------------------------

def log_lines(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_a_sane_request_id_is_kept_and_any_other_is_replaced(client):
    assert client.get("/healthz", headers={"X-Request-ID": "lb-7f3a:42"}).headers["X-Request-ID"] == "lb-7f3a:42"
    for insane in ("has spaces", "x" * 129, "<script>", "ünïcode"):
        given = client.get("/healthz", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", given), insane
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/healthz").headers["X-Request-ID"])


def test_each_request_and_credit_decision_logs_one_json_line_with_the_request_id(world, capsys):
    capsys.readouterr()
    response = world.retailer.post("/orders", world.order_body(2), headers={"X-Request-ID": "trace-123"})
    assert response.headers["X-Request-ID"] == "trace-123"
    lines = log_lines(capsys.readouterr().err)
    decisions = [line for line in lines if line["message"] == "credit decision"]
    requests = [line for line in lines if line["message"] == "request"]
    assert len(decisions) == 1 and len(requests) == 1, lines
    decision, request = decisions[0], requests[0]
    assert decision["request_id"] == request["request_id"] == "trace-123"
    assert decision | {"lock_wait_ms": 0, "duration_ms": 0, "time": ""} == {
        "time": "", "level": "INFO", "logger": "app.credit", "message": "credit decision", "request_id": "trace-123",
        "operation": "place_order", "account_id": world.account_id, "outcome": "OK", "attempts": 1,
        "lock_wait_ms": 0, "duration_ms": 0}
    assert (request["method"], request["path"], request["endpoint"], request["status"], request["user_id"]) == \
        ("POST", "/api/v1/orders", "api.place_order", 201, world.retailer.user.id)
    assert request["time"].endswith("Z") and request["duration_ms"] > 0


def test_a_refused_decision_logs_its_code_and_a_crash_logs_its_traceback(world, monkeypatch, capsys):
    capsys.readouterr()
    world.retailer.post("/orders", world.order_body(1000))
    decision = next(line for line in log_lines(capsys.readouterr().err) if line["message"] == "credit decision")
    assert decision["outcome"] == "INSUFFICIENT_CREDIT" and decision["level"] == "INFO"

    from app.services import orders

    monkeypatch.setattr(orders, "place_order", lambda *args, **kw: 1 / 0)
    world.retailer.post("/orders", world.order_body(1), headers={"X-Request-ID": "crash-1"})
    crash = next(line for line in log_lines(capsys.readouterr().err) if line["level"] == "ERROR")
    assert crash["request_id"] == "crash-1" and "ZeroDivisionError" in crash["exception"]


# --- Alert rules ----------------------------------------------------------------------------------

def test_alert_rules_parse_and_use_only_metrics_the_app_exports(client, world):
    world.retailer.post("/orders", world.order_body(1))  # so every series has been created at least once
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert set(alerts) == {"CreditLockAcquisitionSlow", "CreditLockRetriesExhausted", "CreditRejectionSpike",
                           "JobsNotRunning", "MailNotGoingOut"}
    exported = {name for name, _ in scrape(client)}
    for name, rule in alerts.items():
        assert {"expr", "for", "labels", "annotations"} <= set(rule), name
        used = set(re.findall(r"creditline_[a-z_]+", rule["expr"]))
        assert used and used <= exported, (name, used - exported)
    assert "> 0.1" in alerts["CreditLockAcquisitionSlow"]["expr"]
    assert "> 0.01" in alerts["CreditLockRetriesExhausted"]["expr"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_alert_rules_fire_on_their_unit_test_series():
    for args in (["check", "rules", "prometheus-alerts.yml"], ["test", "rules", "prometheus-alerts.test.yml"]):
        result = subprocess.run(["promtool", *args], cwd=ALERTS.parent, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


# --- Under gunicorn -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _http(method: str, url: str, body=None, token=None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {seconds} s waiting for {what}"
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return _http("GET", url)[0] == 200
    except OSError:
        return False


def _lock_waiters() -> int:
    with _db.engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND wait_event_type = 'Lock'"))


def test_gunicorn_workers_sum_their_metrics(app, world, held_lock, tmp_path):
    port, metrics_dir = _free_port(), tmp_path / "metrics"
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "1",
        "GUNICORN_TIMEOUT": "30", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LOG_LEVEL": "warning",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "CREDIT_LOCK_DEADLINE_SECONDS": "15"}
    server_log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                              cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        _wait_until(lambda: _answers(base + "/healthz") or server.poll() is not None, 30, "gunicorn to answer")
        assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()

        # Two orders wait for one locked account at the same time. A sync worker serves one request at a
        # time, so two waiting in PostgreSQL at once are in two different workers.
        results = []
        with held_lock(world.account_id):
            threads = [threading.Thread(target=lambda: results.append(_http(
                "POST", base + "/api/v1/orders", world.order_body(1), world.retailer.token))) for _ in range(2)]
            for thread in threads:
                thread.start()
            _wait_until(lambda: _lock_waiters() == 2, 20, "both orders to queue for the lock")
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(status for status, _ in results) == [201, 201], results

        status, body = _http("GET", base + "/metrics")
        assert status == 200
        scraped = samples(body.decode())
        assert value(scraped, "creditline_orders_total", outcome="OK") == 2
        assert value(scraped, "creditline_credit_lock_wait_seconds_count", operation="place_order") == 2
        assert value(scraped, "creditline_credit_lock_retries_total", operation="place_order") == 2
        assert value(scraped, "creditline_http_requests_total", method="POST", endpoint="api.place_order",
                     status="201") == 2
        writers = {re.search(r"_(\d+)\.db$", f.name).group(1) for f in metrics_dir.glob("counter_*.db")}
        assert len(writers) == 2, writers  # each worker wrote its own file; /metrics summed them
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        server_log.close()
