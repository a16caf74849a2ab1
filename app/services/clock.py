"""The one clock. Every business time and date (an order's time, its business date, its due date, "today" in a
decision) is read here, so tests freeze and move it (time-machine), and nothing asks PostgreSQL's clock: the
app's reading is written with the rows, so the database and the app never disagree about what day it is.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from app.services.errors import ValidationError

#: Payment terms an account may have, in days.
MAX_PAYMENT_TERMS_DAYS = 365
DEFAULT_PAYMENT_TERMS_DAYS = 30


#: Set by ``at``: the moment operations are written at instead of the real one.
_moment: ContextVar[datetime | None] = ContextVar("clock_moment", default=None)


def now() -> datetime:
    return _moment.get() or datetime.now(UTC)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Run operations as if it were ``moment`` (an aware datetime): the demo loader writes months of history
    through the same operations the pages use. Tests move the clock with time-machine instead."""
    token = _moment.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _moment.reset(token)


def utc_text(moment: datetime | None) -> str | None:
    """A moment as machines read it (the API, webhooks): ISO 8601 in UTC with a Z, 2026-11-25T18:56:17.761764Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None


def business_date(time_zone: str, at: datetime | None = None) -> date:
    """The calendar date in ``time_zone`` (an IANA name) at ``at``, by default now."""
    return (at or now()).astimezone(ZoneInfo(time_zone)).date()


def start_of_day(day: date, time_zone: str) -> datetime:
    """The instant ``day`` begins in ``time_zone``, in UTC."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def due_date(order_date: date, payment_terms_days: int) -> date:
    return order_date + timedelta(days=payment_terms_days)


def time_zone_name(value: str | None) -> str:
    """An IANA time zone name such as ``Europe/Berlin``, as given; ValidationError otherwise."""
    name = (value or "").strip()
    if name not in _zones():
        raise ValidationError("Give a time zone by its IANA name, such as Europe/Berlin or UTC.",
                              field_errors={"time_zone": "unknown time zone"})
    return name


def payment_terms(value: object, *, field: str = "payment_terms_days") -> int:
    """Payment terms: whole days from 0 to 365, as an int; ValidationError otherwise."""
    return _days(value, field, "Payment terms are")


def grace_days(value: object, *, field: str = "overdue_grace_days") -> int:
    """Days of grace after a due date before an item counts as overdue, 0 to 365; ValidationError otherwise."""
    return _days(value, field, "Grace is")


def _days(value: object, field: str, what: str) -> int:
    """Whole days from 0 to 365 (a bool, a float or a text is not)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PAYMENT_TERMS_DAYS:
        raise ValidationError(f"{what} a whole number of days from 0 to {MAX_PAYMENT_TERMS_DAYS}.",
                              field_errors={field: f"0 to {MAX_PAYMENT_TERMS_DAYS} days"})
    return value


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())
