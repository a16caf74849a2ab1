"""Dunning: payment reminders at each wholesaler's levels (days from an item's due date), and the overdue hold's
notices, sent by a periodic job.

Each account is decided under its row lock, so a payment and a reminder take turns: an item paid is never
reminded of after. Every item is reminded of at most once per level (a unique key on the item and the level), at
the highest level it has reached: an item that reached several levels since the last run (the job was down) gets
the latest one only. One mail per retailer user, account and level per run lists all its items at that level.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import groupby

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert

from app import jobs
from app.extensions import db
from app.models import CreditAccount, OverduePolicy, ReminderLevel, ReminderSent, Role, User, Wholesaler
from app.services import clock, mail, notifications
from app.services.actors import Actor, require_role
from app.services.errors import NotFound, ValidationError
from app.services.text import ascii_digits, free_text
from app.services.transactions import locked_transaction, transaction

#: The schedule a new wholesaler starts with: (days from the due date, wording).
DEFAULT_LEVELS = [
    (-3, "A friendly note: the items below fall due in a few days. If you have paid already, thank you."),
    (1, "The items below were due yesterday and we have not yet received payment. Please pay them now, or tell "
        "us if something is wrong with them."),
    (7, "The items below are a week overdue. Please pay them now: new orders stop while items stay overdue."),
    (14, "The items below are two weeks overdue. Please pay them today, or call us to agree how you will: new "
         "orders stay stopped until they are paid."),
]
#: Offsets a level may have: up to 60 days before the due date, a year after.
DAYS_RANGE = (-60, 365)
WORDING_MAX_LENGTH = 2000


@dataclass(frozen=True)
class Reminded:
    """One item in a reminder: what it is, when it was due, what it still owes."""

    order_id: int | None
    due_date: date
    open_amount: Decimal


def default_levels() -> list[ReminderLevel]:
    return [ReminderLevel(days_after_due=days, wording=wording) for days, wording in DEFAULT_LEVELS]


def levels_of(wholesaler_id: int) -> list[ReminderLevel]:
    return list(db.session.scalars(select(ReminderLevel).where(ReminderLevel.wholesaler_id == wholesaler_id)
                                   .order_by(ReminderLevel.days_after_due)))


def save_level(actor: Actor, *, days_after_due: object, wording: object, level_id: int | None = None
               ) -> ReminderLevel:
    """Add a level to the actor's (a wholesaler's) schedule, or change one of its levels. Items already reminded
    at a changed level's old offset are not reminded again at it.

    Raises Forbidden, NotFound (another wholesaler's level), ValidationError (an offset out of range or taken, a
    blank or too long wording).
    """
    require_role(actor, Role.WHOLESALER)
    days = _days(days_after_due)
    wording = free_text(wording, field="wording", max_length=WORDING_MAX_LENGTH)
    with transaction():
        level = ReminderLevel(wholesaler_id=actor.wholesaler_id) if level_id is None else _own_level(actor, level_id)
        taken = db.session.scalar(select(ReminderLevel.id).where(
            ReminderLevel.wholesaler_id == actor.wholesaler_id, ReminderLevel.days_after_due == days))
        if taken is not None and taken != level.id:
            raise ValidationError("Another level already has this many days.", field_errors={"days_after_due": "taken"})
        level.days_after_due, level.wording = days, wording
        db.session.add(level)
    return level


def remove_level(actor: Actor, level_id: int) -> None:
    """Take a level out of the actor's schedule; what was sent at it stays on record. Raises Forbidden, NotFound."""
    require_role(actor, Role.WHOLESALER)
    with transaction():
        db.session.delete(_own_level(actor, level_id))


def send_reminders() -> int:
    """One run of the dunning: every wholesaler, every account with an item at a level not yet sent or whose
    overdue hold its users do not know of. Returns how many mails it wrote."""
    written = 0
    for wholesaler in db.session.scalars(select(Wholesaler).order_by(Wholesaler.id)).all():
        today = clock.business_date(wholesaler.time_zone)
        for account_id in _accounts_to_look_at(wholesaler.id, today):
            written += locked_transaction("send_reminders", functools.partial(_remind, today=today),
                                          account_id=account_id)
    return written


@jobs.queue.periodic(cron="*/15 * * * *")
@jobs.queue.task(name="send_reminders", queueing_lock="send_reminders", pass_context=False)
@jobs.in_app_context
def send_reminders_job(timestamp: int) -> None:
    """Every 15 minutes, so a level is sent soon after the wholesaler's midnight whatever its time zone."""
    send_reminders()


def sent_to(account_id: int) -> list[dict]:
    """What reminders went out for an account, newest first: one row per day and level, with its items' count
    and total."""
    rows = db.session.execute(
        select(ReminderSent.sent_on, ReminderSent.days_after_due, func.count(), func.sum(ReminderSent.open_amount))
        .where(ReminderSent.credit_account_id == account_id)
        .group_by(ReminderSent.sent_on, ReminderSent.days_after_due)
        .order_by(ReminderSent.sent_on.desc(), ReminderSent.days_after_due.desc()).limit(50))
    return [{"sent_on": sent_on, "days_after_due": days, "items": items, "total": total}
            for sent_on, days, items, total in rows]


# Open charges at the highest level they have reached, when it (or a later one) has not been sent yet.
_AT_A_LEVEL_NOT_SENT = """
    FROM open_items i
    CROSS JOIN LATERAL (
        SELECT days_after_due FROM reminder_levels
        WHERE wholesaler_id = :wholesaler_id AND i.due_date + days_after_due <= :today
        ORDER BY days_after_due DESC LIMIT 1) l
    WHERE i.side = 'CHARGE' AND i.open_amount > 0
      AND NOT EXISTS (SELECT 1 FROM reminders_sent s
                      WHERE s.open_item_id = i.ledger_entry_id AND s.days_after_due >= l.days_after_due)
"""
#: An account's items due for a reminder, by level and oldest due first.
_DUE_FOR_A_REMINDER = text("SELECT i.ledger_entry_id, i.order_id, i.due_date, i.open_amount, l.days_after_due"
                           + _AT_A_LEVEL_NOT_SENT + " AND i.credit_account_id = :account_id"
                           " ORDER BY l.days_after_due, i.due_date, i.ledger_entry_id")
#: The wholesaler's accounts with an item due for a reminder.
_WITH_A_LEVEL_DUE = text("SELECT DISTINCT i.credit_account_id" + _AT_A_LEVEL_NOT_SENT
                         + " AND i.credit_account_id IN (SELECT id FROM credit_accounts"
                           " WHERE wholesaler_id = :wholesaler_id)")


def _remind(account: CreditAccount, today: date) -> int:
    """Under the account's lock: record and mail the reminders it is due, and tell of a change of its hold."""
    notifications.overdue_hold_changed(account, today)
    due = db.session.execute(_DUE_FOR_A_REMINDER, {"wholesaler_id": account.wholesaler_id, "today": today,
                                                   "account_id": account.id}).all()
    if not due:
        return 0
    recorded = db.session.execute(insert(ReminderSent).values([
        {"open_item_id": row.ledger_entry_id, "credit_account_id": account.id, "days_after_due": row.days_after_due,
         "open_amount": row.open_amount, "sent_on": today} for row in due])
        .on_conflict_do_nothing().returning(ReminderSent.open_item_id)).scalars().all()
    ours = set(recorded)  # a second run that got here first has sent the rest
    readers = _retailer_users(account)
    written = 0
    for days, rows in groupby((row for row in due if row.ledger_entry_id in ours), key=lambda row: row.days_after_due):
        items = [Reminded(row.order_id, row.due_date, row.open_amount) for row in rows]
        level = db.session.scalar(select(ReminderLevel).where(ReminderLevel.wholesaler_id == account.wholesaler_id,
                                                              ReminderLevel.days_after_due == days))
        for user in readers:
            mail.queue_mail(kind="reminder", to=user, subject=_subject(account, days, items), template="reminder",
                            account=account, items=items, total=sum(i.open_amount for i in items), today=today,
                            wording=level.wording, link=mail.absolute_url("retailers.dashboard"))
            written += 1
    return written


def _accounts_to_look_at(wholesaler_id: int, today: date) -> list[int]:
    """Accounts with an open item at a level it has not been sent (read without the lock, then decided under it),
    or that may have gone on overdue hold since their users were last told. Accounts reminded of everything they
    owe, or already known to be on hold, are not locked again run after run."""
    reminded = set(db.session.scalars(_WITH_A_LEVEL_DUE, {"wholesaler_id": wholesaler_id, "today": today}))
    maybe_held = db.session.scalars(select(CreditAccount.id).where(
        CreditAccount.wholesaler_id == wholesaler_id, CreditAccount.overdue_policy == OverduePolicy.HOLD,
        ~CreditAccount.overdue_hold_notified, CreditAccount.oldest_open_due + CreditAccount.overdue_grace_days < today))
    return sorted(reminded.union(maybe_held))





def _retailer_users(account: CreditAccount) -> list[User]:
    # Reminders are not a notification to switch off: they are how the wholesaler asks to be paid.
    return list(db.session.scalars(select(User).where(User.retailer_id == account.retailer_id, User.active)
                                   .order_by(User.id)))


def _subject(account: CreditAccount, days: int, items: Iterable[Reminded]) -> str:
    total = f"{sum(i.open_amount for i in items):,.2f} {account.currency}"
    if days < 0:
        return f"Coming due with {account.wholesaler.name}: {total}"
    return f"Payment reminder from {account.wholesaler.name}: {total} overdue"


def _own_level(actor: Actor, level_id: int) -> ReminderLevel:
    level = db.session.get(ReminderLevel, level_id)
    if level is None or level.wholesaler_id != actor.wholesaler_id:
        raise NotFound("No such reminder level.")
    return level


def _days(value: object) -> int:
    low, high = DAYS_RANGE
    given = (value if isinstance(value, str) else str(value)).strip()
    digits = given[1:] if given.startswith("-") else given
    days = int(given) if ascii_digits(digits) and len(digits) <= 3 else None
    if days is None or not low <= days <= high:
        raise ValidationError(f"A level is {-low} days before the due date to {high} days after it.",
                              field_errors={"days_after_due": f"{low} to {high}"})
    return days
