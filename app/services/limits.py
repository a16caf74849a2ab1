"""Temporary limit increases: a wholesaler lifts an account's limit by an amount until the end of a day in its own
time zone, with a reason; audited, decided under the account's row lock.

The effective limit (the credit limit and its live increases) is what every decision applies. An increase ends
exactly at its end, whether or not anything has written so (CreditAccount.temporary_increase_now); the minute's
job then recounts the account's kept sum, so lists sort by it. An increase may be ended early, once.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Select, bindparam, func, select

from app import jobs
from app.extensions import db
from app.models import CreditAccount, LimitIncrease, Role
from app.services import audit, clock, notifications, tenancy
from app.services.actors import Actor, require_role
from app.services.errors import ValidationError
from app.services.money import MAX_AMOUNT, parse_amount
from app.services.text import free_text
from app.services.transactions import each_locked, locked_transaction

#: The furthest ahead an increase may end: a temporary limit, not a new one.
MAX_INCREASE_DAYS = 366
#: The most increases an account's page shows.
MAX_LISTED = 100

# What the account keeps of its live increases (app/models.py CreditAccount.temporary_increase).
_LIVE = select(func.coalesce(func.sum(LimitIncrease.amount), 0), func.min(LimitIncrease.ends_at)).where(
    LimitIncrease.credit_account_id == bindparam("account_id"), LimitIncrease.ended_at.is_(None),
    LimitIncrease.ends_at > bindparam("now"))
_LAPSED_ACCOUNTS = select(CreditAccount.id).where(CreditAccount.increase_until <= bindparam("now"))


@dataclass(frozen=True)
class IncreaseResult:
    increase: LimitIncrease
    account: CreditAccount
    #: True when nothing was written: an end of an increase that had already ended.
    repeated: bool = False


def grant_increase(actor: Actor, account_id: int, *, amount: object, ends_on: object, reason: object
                   ) -> IncreaseResult:
    """Lift the account's limit by ``amount`` until the end of ``ends_on`` (inclusive, in the wholesaler's time
    zone; today at the earliest, a year ahead at the latest), for ``reason`` (its wholesaler, or admins).

    Raises Forbidden, NotFound, ValidationError, MaxRetriesExceeded.
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    tenancy.managed_account_for(actor, account_id)
    increase = parse_amount(amount, field="amount")
    reason = free_text(reason, field="reason")
    if not isinstance(ends_on, date):
        raise ValidationError("Give the increase's last day.", field_errors={"ends_on": "must be a date"})
    actor_id = actor.id
    return locked_transaction("grant_increase", lambda account: IncreaseResult(
        add_increase(account, increase, ends_on, reason, actor_id), account), account_id=account_id)


def add_increase(account: CreditAccount, amount: Decimal, ends_on: date, reason: str, actor_id: int | None, *,
                 field: str = "amount") -> LimitIncrease:
    """Under the account's row lock: the increase of ``amount`` until the end of ``ends_on``, audited and told.
    Raises ValidationError for a last day out of range or an effective limit beyond what an account records (named
    ``field``)."""
    now, time_zone = clock.now(), account.wholesaler.time_zone
    check_last_day(ends_on, clock.business_date(time_zone, now), field="ends_on")
    previous = account.effective_limit
    if previous + amount > MAX_AMOUNT:
        raise ValidationError("This would take the limit beyond what an account can record.",
                              field_errors={field: "too large"})
    granted = LimitIncrease(credit_account_id=account.id, amount=amount, ends_on=ends_on,
                            ends_at=clock.start_of_day(ends_on + timedelta(days=1), time_zone), reason=reason,
                            granted_by=actor_id, created_at=now)
    db.session.add(granted)
    db.session.flush()  # its id, for the audit event
    _applied(account, previous, actor_id, "credit_account.grant_increase", after=_snapshot(granted))
    return granted


def check_last_day(ends_on: date, today: date, *, field: str) -> None:
    """A temporary limit's last day: today at the earliest, a year ahead at the latest; ValidationError otherwise."""
    if not today <= ends_on <= today + timedelta(days=MAX_INCREASE_DAYS):
        raise ValidationError(f"A temporary limit ends today ({today:%d %B %Y}) at the earliest and within a year.",
                              field_errors={field: "in the past" if ends_on < today else "over a year ahead"})


def end_increase(actor: Actor, increase_id: int) -> IncreaseResult:
    """End an increase now, before its end (its wholesaler, or admins). Ending one that has ended answers it as it
    is and writes nothing. Raises Forbidden, NotFound, MaxRetriesExceeded."""
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    account_id, actor_id = tenancy.managed_increase_for(actor, increase_id).credit_account_id, actor.id

    def decide(account: CreditAccount) -> IncreaseResult:
        increase, now = db.session.get(LimitIncrease, increase_id, populate_existing=True), clock.now()
        if not increase.is_live(now):
            return IncreaseResult(increase, account, repeated=True)
        previous = account.effective_limit
        increase.ended_at, increase.ended_by = now, actor_id
        _applied(account, previous, actor_id, "credit_account.end_increase", before=_snapshot(increase))
        return IncreaseResult(increase, account)

    return locked_transaction("end_increase", decide, account_id=account_id)


def recount_ended_increases() -> int:
    """Recount, under each one's row lock, the kept sum of every account one of whose increases has reached its
    end; how many. Only lists and their sorts need this: decisions count an increase for nothing from its end."""
    def decide(account: CreditAccount) -> int:
        if account.increase_until is None or account.increase_until > clock.now():
            return 0  # recounted since the look-up
        previous = account.credit_limit + account.temporary_increase
        _recount(account)
        _changed(account, previous)
        return 1

    return each_locked("recount_increases", _LAPSED_ACCOUNTS, {"now": clock.now()}, decide)


@jobs.queue.periodic(cron="* * * * *")
@jobs.queue.task(name="recount_ended_increases", queueing_lock="recount_ended_increases", pass_context=False)
@jobs.in_app_context
def recount_ended_increases_job(timestamp: int) -> None:
    recount_ended_increases()


def increases_query(account_id: int) -> Select:
    """An account's increases, for keyset pages by id (ix_limit_increases_credit_account_id)."""
    return select(LimitIncrease).where(LimitIncrease.credit_account_id == account_id)


def increases_of(account_id: int) -> list[LimitIncrease]:
    """An account's newest increases, newest first, for its page (an account has a handful a year)."""
    return db.session.scalars(increases_query(account_id).order_by(LimitIncrease.id.desc()).limit(MAX_LISTED)).all()


def _applied(account: CreditAccount, previous: Decimal, actor_id: int | None, action: str, **snapshot: dict) -> None:
    """After a grant or an early end: the kept sum recounted, the change audited, both sides told."""
    db.session.flush()
    _recount(account)
    audit.record(actor_id=actor_id, action=action, entity_type="credit_account", entity_id=account.id, **snapshot)
    _changed(account, previous)


def _recount(account: CreditAccount) -> None:
    """What the account keeps of its live increases, from the rows (both figures in one UPDATE: a CHECK ties them)."""
    account.temporary_increase, account.increase_until = db.session.execute(
        _LIVE, {"account_id": account.id, "now": clock.now()}).one()


def _changed(account: CreditAccount, previous: Decimal) -> None:
    """Tell both sides of a new effective limit (the credit limit is as it was)."""
    notifications.limit_changed(account, account.credit_limit, previous)


def _snapshot(increase: LimitIncrease) -> dict:
    return {"increase_id": increase.id, "amount": str(increase.amount), "ends_on": increase.ends_on.isoformat(),
            "reason": increase.reason}
