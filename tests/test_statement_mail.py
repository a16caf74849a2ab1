"""Monthly statements by mail: last month's statement, from the first of the month in the wholesaler's time zone,
once per credit line and month however often the job runs, to each retailer user who has not switched it off,
with the PDF attached; delivered through a real SMTP server."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from app import demo
from app.models import AuditEvent, MailMessage, OverduePolicy, Role, StatementSent
from app.services import accounts, notifications, orders, statement_mail
from app.services.actors import SYSTEM
from app.services.errors import Forbidden
from tests.support.auth import csrf_token
from tests.support.pdf import pdf_pages, pdf_text

ZONE = "Pacific/Auckland"  # 1 March begins there at 11:00 UTC on 28 February


def local(year, month, day, hour=9):
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(ZONE))


@pytest.fixture
def book(db, make):
    """A wholesaler in Auckland that switched statements on in mid-February; a line that traded in February with
    two retailer users (one does not want statements), and a line with nothing on it."""
    wholesaler = make.wholesaler(name="Kauri Provisions")
    wholesaler.time_zone = ZONE
    account = make.account(wholesaler=wholesaler, credit_limit="2000.00", overdue_policy=OverduePolicy.OFF)
    idle = make.account(wholesaler=wholesaler, credit_limit="500.00")
    product = make.product(wholesaler, unit_price="40.00")
    buyer = make.user(Role.RETAILER, retailer=account.retailer, email="buyer@deli.example")
    muted = make.user(Role.RETAILER, retailer=account.retailer, email="owner@deli.example")
    make.user(Role.RETAILER, retailer=idle.retailer)
    desk = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    notifications.set_muted(muted, muted=["statement"])
    with time_machine.travel(local(2027, 2, 3), tick=False):
        orders.place_order(buyer, wholesaler_id=wholesaler.id, lines=[(product.id, 5)])  # 200.00
    with time_machine.travel(local(2027, 2, 15), tick=False):
        statement_mail.set_statements_by_mail(desk, on=True)
    with time_machine.travel(local(2027, 2, 20), tick=False):
        accounts.record_payment(SYSTEM, account.id, amount="120.00", reference="Transfer 55")
    return account, idle, desk


def statement_mails(db) -> list[MailMessage]:
    return db.session.scalars(select(MailMessage).where(MailMessage.kind == "statement")).all()


def test_last_month_is_sent_once_from_the_first_in_the_wholesaler_s_zone(db, book):
    account, idle, _ = book
    with time_machine.travel(datetime(2027, 2, 28, 10, 30, tzinfo=UTC), tick=False):  # 23:30 on 28 Feb there
        assert statement_mail.send_statements() == 0  # January ended before statements were switched on
    with time_machine.travel(datetime(2027, 2, 28, 11, 30, tzinfo=UTC), tick=False):  # 00:30 on 1 March there
        assert statement_mail.send_statements() == 1
        assert statement_mail.send_statements() == 0  # a second run: nothing more
    with time_machine.travel(datetime(2027, 3, 9, tzinfo=UTC), tick=False):
        assert statement_mail.send_statements() == 0
    [sent] = statement_mails(db)
    assert sent.to_address == "buyer@deli.example"  # the other user switched statements off
    assert sent.subject == "Statement of account from Kauri Provisions: February 2027"
    assert "Closing balance: 80.00 EUR" in sent.text_body and "Credits:         120.00 EUR" in sent.text_body
    assert sent.attachment_name == f"statement-{account.id}-20270201-20270228.pdf"
    text = pdf_text(sent.attachment)
    assert "Payment Transfer 55" in text and "80.00" in text
    claims = {(s.credit_account_id, s.period_start.isoformat(), s.recipients)
              for s in db.session.scalars(select(StatementSent))}
    assert claims == {(account.id, "2027-02-01", 1), (idle.id, "2027-02-01", 0)}  # the idle line: nothing to tell


def test_switched_off_nothing_is_sent_and_the_switch_is_audited(db, book):
    _, _, desk = book
    with time_machine.travel(local(2027, 2, 27), tick=False):
        statement_mail.set_statements_by_mail(desk, on=False)
        statement_mail.set_statements_by_mail(desk, on=False)  # again: no change, nothing audited
    with time_machine.travel(local(2027, 3, 1), tick=False):
        assert statement_mail.send_statements() == 0
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "wholesaler.statements_by_mail")) == 2
    with pytest.raises(Forbidden):
        statement_mail.set_statements_by_mail(SYSTEM, on=True)


def test_the_mail_reaches_a_real_smtp_server_with_its_pdf(db, book, smtp, run_jobs):
    with time_machine.travel(local(2027, 3, 1), tick=False):
        statement_mail.send_statements()
    run_jobs()
    everything = smtp.inbox.wait_for(db.session.scalar(select(func.count()).select_from(MailMessage)))
    [received] = [m for m in everything if m["Subject"].startswith("Statement of account")]
    [attached] = list(received.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename().endswith("-20270201-20270228.pdf")
    assert pdf_pages(attached.get_content())[0].extract_text().startswith("Statement of account")
    assert "See it online: http://creditline.test/statements/" in received.get_body(("plain",)).get_content()


def test_the_wholesaler_switches_it_on_and_off_on_the_reminders_page(client, auth, db, make):
    desk = make.user(Role.WHOLESALER, wholesaler=make.wholesaler())
    auth.login(desk)
    assert "Mail monthly statements" in client.get("/wholesaler/reminders").text
    token = csrf_token(client, "/wholesaler/reminders")
    answer = client.post("/wholesaler/reminders/statements", data={"statements-csrf_token": token, "on": "1"})
    assert answer.status_code == 302
    page = client.get("/wholesaler/reminders").text
    assert "Stop mailing statements" in page and "Mailed since" in page
    client.post("/wholesaler/reminders/statements", data={"statements-csrf_token": token, "on": "maybe"})
    assert "Stop mailing statements" in client.get("/wholesaler/reminders").text  # a bad value changes nothing
    client.post("/wholesaler/reminders/statements", data={"statements-csrf_token": token, "on": "0"})
    assert "Mail monthly statements" in client.get("/wholesaler/reminders").text


def test_the_demo_wholesaler_mails_last_month_s_statements(db):
    demo.load()
    written = statement_mail.send_statements()
    sent = statement_mails(db)
    assert written == len(sent) >= 1
    assert {m.to_address for m in sent} == {"buyer@corner.example"}  # Acme's only retailer user
    assert all(m.subject.startswith("Statement of account from Acme Foods Wholesale") for m in sent)
