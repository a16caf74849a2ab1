"""Faults, against real worker processes, a real SMTP server and a real webhook receiver: a worker killed in the
middle of a delivery, the SMTP server down for a while, two workers at once, a thousand events under load."""

import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from app.models import MailMessage, Role, WebhookDelivery, WebhookEvent
from app.services import accounts, orders, webhooks
from app.services.actors import SYSTEM
from tests.support.receiver import Receiver
from tests.support.smtp import SmtpServer
from tests.test_jobs import process_env, stop

#: How long a silent worker takes to count as dead in these tests (30 s in production).
STALLED = 2


def start_worker(app, port: int, **settings) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "worker"],
                            env=process_env(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                                            WORKER_STALLED_SECONDS=STALLED, **settings))


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


def unsent(db) -> int:
    db.session.rollback()  # a fresh look at what the workers committed
    return db.session.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.sent_at.is_(None)))


@pytest.fixture
def mail_to_send(make):
    """``mail_to_send(n)``: n mails committed (an account blocked with n retailer users), not yet delivered."""
    def write(n: int = 1):
        account = make.account()
        for i in range(n):
            make.user(Role.RETAILER, retailer=account.retailer, email=f"owner{i}@shop{account.id}.example")
        accounts.block_account(SYSTEM, account.id, reason="Returned direct debit")
    return write


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_worker_killed_mid_delivery_leaves_the_mail_to_the_next(app, db, mail_to_send, stage):
    """Killed before the server had the message ("rcpt"): it arrives once. Killed after the server had it and
    before the worker recorded it ("data"): it arrives once more, with the same Message-ID."""
    server = SmtpServer().start()
    server.inbox.hold_at, server.inbox.hold_seconds = stage, 30
    first = start_worker(app, server.port)
    try:
        mail_to_send(1)
        assert server.inbox.holding.wait(20), "the first worker did not start the delivery"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert unsent(db) == 1  # its transaction died with it: the row lock is gone, nothing recorded
        second = start_worker(app, server.port)
        try:
            wait_until(lambda: unsent(db) == 0, 30, "the second worker's delivery of the stalled job")
        finally:
            assert stop(second) == 0
        copies = server.inbox.messages
        message_id = db.session.scalar(select(MailMessage.message_id))
        assert [m["Message-ID"] for m in copies] == [message_id] * (1 if stage == "rcpt" else 2)
    finally:
        if first.poll() is None:
            first.kill()
        server.stop()


def test_mail_waits_out_an_smtp_server_that_is_down(app, db, client, mail_to_send):
    """Down for about 10 s: each mail is tried at once, then 2, 4 and 8 s later (the waits double), and arrives on
    the first attempt after the server is back; /metrics counts the failed attempts meanwhile."""
    server = SmtpServer()  # the port is chosen, nothing listens on it yet
    worker = start_worker(app, server.port)
    try:
        mail_to_send(3)
        wait_until(lambda: unsent(db) == 3 and db.session.scalar(select(func.sum(MailMessage.failed_attempts))) >= 6,
                   20, "two failed attempts for each mail")
        metrics = client.get("/metrics").text
        failed = next(line for line in metrics.splitlines() if line.startswith("creditline_mail_failed_attempts "))
        assert float(failed.split()[1]) >= 6 and "creditline_mail_unsent 3.0" in metrics
        server.start()
        wait_until(lambda: unsent(db) == 0, 30, "delivery once the server was back")
        assert sorted(m["To"] for m in server.inbox.messages) == sorted(
            db.session.scalars(select(MailMessage.to_address)))  # each once, none lost
    finally:
        stop(worker)
        server.stop()


def test_two_workers_at_once_deliver_each_mail_once(app, db, mail_to_send):
    server = SmtpServer().start()
    workers = [start_worker(app, server.port, WORKER_CONCURRENCY=3) for _ in range(2)]
    try:
        time.sleep(1.5)  # both listening
        for _ in range(4):
            mail_to_send(6)
        wait_until(lambda: unsent(db) == 0, 30, "delivery of 24 mails")
        ids = [m["Message-ID"] for m in server.inbox.messages]
        assert len(ids) == 24 and len(set(ids)) == 24
    finally:
        assert [stop(worker) for worker in workers] == [0, 0]
        server.stop()


def test_a_worker_killed_mid_delivery_of_a_webhook_sends_it_again_with_the_same_event_id(app, db, make):
    receiver = Receiver()
    receiver.hold_first = 30
    account = make.account()
    desk = make.user(Role.WHOLESALER, wholesaler=account.wholesaler)
    webhooks.register_endpoint(desk, url=receiver.url, events=["account.blocked"])
    first = start_worker(app, 9)
    try:
        accounts.block_account(SYSTEM, account.id, reason="Returned direct debit")
        assert receiver.holding.wait(20), "the first worker did not start the delivery"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = start_worker(app, 9)
        try:
            wait_until(lambda: delivered(db) == 1, 30, "the second worker's delivery")
        finally:
            assert stop(second) == 0
        ids = [request.event["id"] for request in receiver.received]
        assert len(ids) == 2 and len(set(ids)) == 1  # the receiver had it, got it again, and can drop it by id
    finally:
        if first.poll() is None:
            first.kill()
        receiver.stop()


def test_a_thousand_events_under_load_arrive_with_a_thousand_ids(app, db, make):
    receiver = Receiver()
    wholesaler = make.wholesaler()
    desk = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    webhooks.register_endpoint(desk, url=receiver.url, events=["order.confirmed"])
    accounts_ = [make.account(wholesaler=wholesaler, credit_limit="100000.00") for _ in range(4)]
    product = make.product(wholesaler, unit_price="1.00")
    buyers = [make.user(Role.RETAILER, retailer=a.retailer) for a in accounts_]
    workers = [start_worker(app, 9, WORKER_CONCURRENCY=8) for _ in range(2)]
    try:
        for i in range(1000):  # orders keep coming while the workers deliver
            orders.place_order(buyers[i % 4], wholesaler_id=wholesaler.id, lines=[(product.id, 1)])
        wait_until(lambda: delivered(db) == 1000, 120, "1,000 deliveries")
        ids = {request.event["id"] for request in receiver.received}
        assert len(ids) == 1000 and ids == set(db.session.scalars(select(WebhookEvent.id)))
    finally:
        assert [stop(worker) for worker in workers] == [0, 0]
        receiver.stop()


def delivered(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(WebhookDelivery.delivered_at.is_not(None)))
