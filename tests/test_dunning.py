"""Dunning: each level once per unpaid item, at the wholesaler's dates, one mail per retailer user and level, never
after payment; the overdue hold's notices; the schedule's page."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select, text

from app.models import MailMessage, OverduePolicy, ReminderSent, Role
from app.services import accounts, directory, dunning, orders
from app.services.actors import SYSTEM
from app.services.errors import NotFound, ValidationError
from tests.support.auth import csrf_token
from tests.test_jobs import process_env

#: Orders placed at noon UTC on 10 January 2027 are due on 9 February (30 days' terms).
PLACED = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
DUE = PLACED.date() + timedelta(days=30)


def on(day_offset: int, hour: int = 12):
    """The clock at ``hour`` UTC, ``day_offset`` days from the due date."""
    return time_machine.travel(datetime.combine(DUE + timedelta(days=day_offset), datetime.min.time(), UTC)
                               + timedelta(hours=hour), tick=False)


@pytest.fixture
def book(make, db):
    """A wholesaler on the default schedule, an account with a 1,000.00 limit, two retailer users."""
    wholesaler = directory.create_wholesaler(SYSTEM, name="Acme Foods")
    account = make.account(wholesaler=wholesaler, credit_limit="1000.00")
    product = make.product(wholesaler, unit_price="10.00")
    buyers = [make.user(Role.RETAILER, retailer=account.retailer, email=f"buyer{i}@shop.example") for i in (1, 2)]
    desk = make.user(Role.WHOLESALER, wholesaler=wholesaler, email="credit@acme.example")
    return wholesaler, account, product, buyers, desk


def place(book, quantity: int, at: datetime = PLACED) -> int:
    _, account, product, buyers, _ = book
    with time_machine.travel(at, tick=False):
        placed = orders.place_order(buyers[0], wholesaler_id=account.wholesaler_id, lines=[(product.id, quantity)])
    return placed.order_id


def reminders(db) -> list[MailMessage]:
    return db.session.scalars(select(MailMessage).where(MailMessage.kind == "reminder").order_by(MailMessage.id)).all()


def test_each_level_goes_out_once_on_its_day(db, book):
    order_id = place(book, 3)
    sent_days = []
    for offset in range(-6, 20):
        with on(offset):
            before = len(reminders(db))
            dunning.send_reminders()
            dunning.send_reminders()  # a second run the same day: nothing more
            if len(reminders(db)) > before:
                sent_days.append(offset)
    assert sent_days == [-3, 1, 7, 14]
    mails = reminders(db)
    assert len(mails) == 8  # two retailer users, four levels
    assert {m.to_address for m in mails} == {"buyer1@shop.example", "buyer2@shop.example"}
    assert mails[0].subject == "Coming due with Acme Foods: 30.00 EUR"
    assert mails[2].subject == "Payment reminder from Acme Foods: 30.00 EUR overdue"
    assert f"Order #{order_id}, due {DUE.isoformat()}" in mails[2].text_body
    assert "(7 days overdue)" in mails[4].text_body and "a week overdue" in mails[4].text_body
    assert sorted(db.session.scalars(select(ReminderSent.days_after_due))) == [-3, 1, 7, 14]


def test_a_paid_item_is_not_reminded_of_again(db, book):
    _, account, *_ = book
    place(book, 3)
    with on(1):
        dunning.send_reminders()
    with on(2):
        accounts.record_payment(SYSTEM, account.id, amount="30.00", reference="Transfer")
    with on(7):
        dunning.send_reminders()
    assert sorted(db.session.scalars(select(ReminderSent.days_after_due))) == [1]


def test_a_partly_paid_item_is_reminded_of_what_it_still_owes(db, book):
    _, account, *_ = book
    place(book, 3)
    with on(0):
        accounts.record_payment(SYSTEM, account.id, amount="12.50", reference="Part")
    with on(1):
        dunning.send_reminders()
    assert "17.50 EUR" in reminders(db)[0].subject


def test_one_mail_per_user_and_level_lists_every_item_at_that_level(db, book):
    first, second = place(book, 2), place(book, 5)
    place(book, 1, at=PLACED + timedelta(days=3))  # due three days later: at another level
    with on(1):
        dunning.send_reminders()
    mails = [m for m in reminders(db) if m.to_address == "buyer1@shop.example"]
    assert len(mails) == 2  # -3 for the later order, +1 for the two first
    overdue = next(m for m in mails if "overdue" in m.subject)
    assert f"Order #{first}" in overdue.text_body and f"Order #{second}" in overdue.text_body
    assert "Total: 70.00 EUR" in overdue.text_body


def test_a_run_after_a_gap_sends_only_the_latest_level_reached(db, book):
    place(book, 3)
    with on(8):  # nothing ran since before the first level
        dunning.send_reminders()
    assert sorted(db.session.scalars(select(ReminderSent.days_after_due))) == [7]
    with on(9):
        dunning.send_reminders()  # the +1 level is not sent late
    assert sorted(db.session.scalars(select(ReminderSent.days_after_due))) == [7]


@pytest.mark.parametrize(("zone", "by_7_utc"), [("UTC", True), ("Pacific/Auckland", False),
                                               ("America/Los_Angeles", False)])
def test_the_days_are_counted_in_the_wholesaler_s_time_zone(db, book, zone, by_7_utc):
    """Placed at noon UTC on 10 January: due 9 February in UTC and Los Angeles, 10 February in Auckland (already
    the 11th there). At 07:00 UTC on 10 February it is the 10th in UTC (a day overdue), 20:00 on the 10th in
    Auckland (due today) and 23:00 on the 9th in Los Angeles (due today); by 11:00 UTC all three are a day over."""
    wholesaler = book[0]
    wholesaler.time_zone = zone
    db.session.commit()
    place(book, 3)
    with on(1, hour=7):
        dunning.send_reminders()
    assert (1 in db.session.scalars(select(ReminderSent.days_after_due)).all()) is by_7_utc
    with on(1, hour=11):
        dunning.send_reminders()
    assert 1 in db.session.scalars(select(ReminderSent.days_after_due)).all()


def test_concurrent_runs_send_each_level_once(db, book, in_parallel):
    for quantity in (1, 2, 3):
        place(book, quantity)
    with on(1):
        written = in_parallel(lambda i: dunning.send_reminders(), 4)
    assert sum(written) == 2  # one mail per retailer user, whichever run wrote it
    assert len(reminders(db)) == 2
    assert db.session.scalar(select(func.count()).select_from(ReminderSent)) == 3


def test_two_processes_at_once_send_each_level_once(app, db, book):
    due_yesterday = datetime.now(UTC) - timedelta(days=31)  # the processes run on the real clock
    for quantity in (1, 2):
        place(book, quantity, at=due_yesterday)
    runs = [subprocess.Popen([sys.executable, "-m", "flask", "send-reminders"], env=process_env(app),
                             stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert sorted(int(out.split()[0]) for out in outputs) == [0, 2]
    assert len(reminders(db)) == 2


def test_the_overdue_hold_is_told_when_it_begins_and_when_a_payment_lifts_it(db, book):
    _, account, _, buyers, desk = book
    account.overdue_policy = OverduePolicy.HOLD
    db.session.commit()
    place(book, 3)
    with on(0):
        dunning.send_reminders()
    assert db.session.scalar(select(func.count()).where(MailMessage.kind == "overdue_hold")) == 0  # due today: fine
    with on(1):
        dunning.send_reminders()
        dunning.send_reminders()
    held = db.session.scalars(select(MailMessage).where(MailMessage.kind == "overdue_hold")).all()
    assert sorted(m.to_address for m in held) == sorted([buyers[0].email, buyers[1].email, desk.email])
    assert all(m.subject.startswith("On overdue hold") and "30.00 EUR" in m.text_body for m in held)
    with on(2):
        accounts.record_payment(SYSTEM, account.id, amount="30.00", reference="Transfer")  # lifted at once
    lifted = db.session.scalars(select(MailMessage).where(MailMessage.kind == "overdue_hold")).all()[3:]
    assert len(lifted) == 3 and all(m.subject.startswith("Overdue hold lifted") for m in lifted)
    with on(3):
        dunning.send_reminders()
    assert db.session.scalar(select(func.count()).where(MailMessage.kind == "overdue_hold")) == 6


def test_the_schedule_is_the_wholesaler_s_own_and_checked(db, make, book):
    wholesaler, _, _, _, desk = book
    other = make.user(Role.WHOLESALER, wholesaler=directory.create_wholesaler(SYSTEM, name="Other Foods"))
    level = dunning.save_level(desk, days_after_due="30", wording="A month overdue: we will call you.")
    assert [lvl.days_after_due for lvl in dunning.levels_of(wholesaler.id)] == [-3, 1, 7, 14, 30]
    for days, wording in [("7", "Taken"), ("-61", "Too early"), ("366", "Too late"), ("1_0", "Odd"), ("x", "No"),
                          ("5", "   ")]:
        with pytest.raises(ValidationError):
            dunning.save_level(desk, days_after_due=days, wording=wording)
    with pytest.raises(NotFound):
        dunning.save_level(other, level_id=level.id, days_after_due="31", wording="Mine now")
    with pytest.raises(NotFound):
        dunning.remove_level(other, level.id)
    dunning.save_level(desk, level_id=level.id, days_after_due="21", wording="Three weeks overdue.")
    dunning.remove_level(desk, level.id)
    assert [lvl.days_after_due for lvl in dunning.levels_of(wholesaler.id)] == [-3, 1, 7, 14]


def test_the_schedule_page_edits_a_level_and_the_account_page_lists_what_was_sent(client, auth, db, book):
    _, account, _, _, desk = book
    place(book, 3)
    with on(1):
        dunning.send_reminders()
    auth.login(desk)
    page = client.get("/wholesaler/reminders")
    assert page.status_code == 200 and "a week overdue" in page.text
    level = dunning.levels_of(account.wholesaler_id)[1]
    prefix = f"level-{level.id}"
    answer = client.post(f"/wholesaler/reminders/{level.id}", data={
        f"{prefix}-csrf_token": csrf_token(client, "/wholesaler/reminders"), f"{prefix}-days_after_due": "2",
        f"{prefix}-wording": "Two days overdue now."})
    assert answer.status_code == 302
    assert db.session.scalar(text("SELECT days_after_due FROM reminder_levels WHERE id = :id"), {"id": level.id}) == 2
    refused = client.post(f"/wholesaler/reminders/{level.id}", data={
        f"{prefix}-csrf_token": csrf_token(client, "/wholesaler/reminders"), f"{prefix}-days_after_due": "7",
        f"{prefix}-wording": "Clash"})
    assert refused.status_code == 422 and "Another level already has this many days." in refused.text
    account_page = client.get(f"/wholesaler/accounts/{account.id}")
    assert "Reminders sent" in account_page.text and "1 day overdue" in account_page.text
    assert "30.00 EUR" in account_page.text


def test_the_worker_runs_the_dunning_and_delivers_it(db, book, smtp, run_jobs):
    from app import jobs

    place(book, 3)
    with on(1):
        with db.session.begin():
            jobs.defer(dunning.send_reminders_job, timestamp=0)
        run_jobs()  # the dunning job, then the mails it deferred
    received = smtp.inbox.wait_for(5)  # and the overdue hold's notice to both sides (the account's policy is hold)
    reminded = [m for m in received if m["Subject"] == "Payment reminder from Acme Foods: 30.00 EUR overdue"]
    assert sorted(m["To"] for m in reminded) == ["buyer1@shop.example", "buyer2@shop.example"]
    assert Decimal("30.00") == db.session.scalar(select(ReminderSent.open_amount))


def test_an_account_reminded_of_all_it_owes_is_not_locked_again(db, book):
    wholesaler, account, *_ = book
    account.overdue_policy = OverduePolicy.OFF
    db.session.commit()
    place(book, 3)
    with on(1):
        assert dunning._accounts_to_look_at(wholesaler.id, DUE + timedelta(days=1)) == [account.id]
        dunning.send_reminders()
        assert dunning._accounts_to_look_at(wholesaler.id, DUE + timedelta(days=1)) == []
    assert dunning._accounts_to_look_at(wholesaler.id, DUE + timedelta(days=7)) == [account.id]  # the next level


def test_switching_the_hold_off_tells_of_it_at_once(db, book):
    _, account, _, _, desk = book
    place(book, 3)
    with on(1):
        dunning.send_reminders()  # on hold (the account's policy is hold), and told
        accounts.update_account(desk, account.id, overdue_policy="off")
    lifted = db.session.scalars(select(MailMessage).where(MailMessage.kind == "overdue_hold")
                                .order_by(MailMessage.id)).all()
    assert [m.subject.split(":")[0] for m in lifted] == ["On overdue hold"] * 3 + ["Overdue hold lifted"] * 3
