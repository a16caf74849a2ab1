"""Mail delivery by the worker: to a real SMTP server on 127.0.0.1, kept when there is none, retried when it is down."""

import email
import email.policy
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.models import MailMessage, Role
from app.services import accounts, mail
from app.services.actors import SYSTEM
from app.services.transactions import transaction


@pytest.fixture
def blocked(make):
    """A blocked account whose retailer has one user: one mail written, its delivery deferred."""
    account = make.account()
    user = make.user(Role.RETAILER, retailer=account.retailer, email="owner@shop.example")
    accounts.block_account(SYSTEM, account.id, reason="Returned direct debit")
    return account, user


def message(db) -> MailMessage:
    db.session.expire_all()
    return db.session.scalars(select(MailMessage)).one()


def test_the_worker_sends_a_text_and_html_mail_with_absolute_links(db, smtp, run_jobs, blocked, app):
    account, user = blocked
    run_jobs()
    [received] = smtp.inbox.wait_for(1)
    sent = message(db)
    assert received["To"] == user.email
    assert received["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert received["Subject"] == sent.subject == (f"Credit account blocked: {account.retailer.name} with "
                                                   f"{account.wholesaler.name}")
    assert received["Message-ID"] == sent.message_id and sent.message_id.endswith("@creditline.test>")
    plain, html = received.get_body(("plain",)).get_content(), received.get_body(("html",)).get_content()
    assert "Reason: Returned direct debit" in plain and "Returned direct debit" in html
    assert "http://creditline.test/retailer/" in plain and 'href="http://creditline.test/retailer/"' in html
    assert "http://creditline.test/settings/notifications" in plain
    assert (sent.delivery, sent.failed_attempts) == ("smtp", 0) and sent.sent_at is not None
    assert db.session.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == 0  # done jobs are not kept


def test_without_a_mail_server_mail_is_kept_as_an_eml_file(db, run_jobs, blocked, app):
    run_jobs()
    kept = message(db)
    assert kept.delivery == "kept"
    path = Path(app.config["MAIL_KEPT_FOLDER"]) / f"{kept.message_id.strip('<>')}.eml"
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == kept.subject and parsed["Message-ID"] == kept.message_id
    assert parsed.get_body(("plain",)).get_content().strip() == kept.text_body.strip()


def test_an_smtp_server_that_is_down_gets_the_mail_when_it_is_back(db, app, run_jobs, blocked):
    from tests.support.smtp import SmtpServer

    server = SmtpServer()  # its port is chosen, nothing listens on it yet
    saved = {name: app.config[name] for name in server.settings()}
    app.config.update(server.settings())
    try:
        run_jobs()
        waiting = message(db)
        assert waiting.sent_at is None and waiting.failed_attempts == 1
        assert "Connection refused" in waiting.last_error or "ConnectionRefused" in waiting.last_error
        retry_in = db.session.scalar(text("SELECT extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs "
                                          "WHERE status = 'todo'"))
        assert 0 < retry_in <= 2  # the first retry: 2 s later
        server.start()
        db.session.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now()"))  # those 2 s have passed
        db.session.commit()
        run_jobs()
        [received] = server.inbox.wait_for(1)
        assert received["Message-ID"] == waiting.message_id
        assert message(db).delivery == "smtp"
    finally:
        app.config.update(saved)
        server.stop()


def test_a_message_is_sent_once_however_often_its_delivery_runs(db, smtp, run_jobs, blocked):
    run_jobs()
    mail_id = message(db).id
    mail.deliver(mail_id)  # a second run of the same job (a worker that died before the job was marked done)
    assert len(smtp.inbox.wait_for(1)) == 1
    assert len(smtp.inbox.messages) == 1


def test_a_rolled_back_write_leaves_neither_mail_nor_job(db, make):
    user = make.user(Role.RETAILER, retailer=make.retailer())
    with pytest.raises(RuntimeError), transaction():
        mail.queue_mail(kind="payment", to=user, subject="Never", template="account_unblocked",
                        account=make.account(), link="http://x", settings_link=None)
        raise RuntimeError("the write fails after the mail was written")
    assert db.session.scalar(text("SELECT count(*) FROM mail_messages")) == 0
    assert db.session.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == 0


def test_a_dedupe_key_writes_a_message_once(db, make):
    account = make.account()
    user = make.user(Role.RETAILER, retailer=account.retailer)
    for _ in range(2):
        with transaction():
            mail.queue_mail(kind="payment", to=user, subject="Once", template="account_unblocked", account=account,
                            link="http://x", settings_link=None, dedupe_key=f"reminder:{account.id}:1")
    assert db.session.scalar(text("SELECT count(*) FROM mail_messages")) == 1
    assert db.session.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == 1


def test_links_follow_the_configured_base_url_with_a_path(app):
    with app.app_context():
        app.config["APP_BASE_URL"], saved = "https://credit.example.com/portal", app.config["APP_BASE_URL"]
        try:
            assert mail.absolute_url("auth.login") == "https://credit.example.com/portal/login"
        finally:
            app.config["APP_BASE_URL"] = saved
