"""The data model: organisations, users, catalogues, credit accounts, the ledger, orders, audit."""

import enum
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship
from sqlalchemy.sql import ColumnElement

from app.extensions import db
from app.services import clock
from app.services.text import TIME_ZONE_MAX_LENGTH

#: Every money column: 12 digits before the point, 2 after.
Money = Numeric(14, 2)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """A VARCHAR with a CHECK constraint: values stay readable and migrations stay simple."""
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=16,
                values_callable=lambda members: [m.value for m in members])


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Role(enum.StrEnum):
    RETAILER = "retailer"
    WHOLESALER = "wholesaler"
    ADMIN = "admin"


class AccountStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"


class EntryType(enum.StrEnum):
    DEBIT = "DEBIT"            # an order placed: raises the balance
    CREDIT = "CREDIT"          # a payment received: lowers it
    ADJUSTMENT = "ADJUSTMENT"  # a signed correction with a reason
    REVERSAL = "REVERSAL"      # an order cancelled: undoes its DEBIT
    CREDIT_NOTE = "CREDIT_NOTE"  # goods of an order credited back by line: lowers it

    @property
    def raises_balance(self) -> bool:
        """DEBIT and ADJUSTMENT add their amount to the balance (an adjustment's carries its sign); the
        others subtract it. The one place the direction of an entry is decided."""
        return self in (EntryType.DEBIT, EntryType.ADJUSTMENT)

    def signed(self, amount: Decimal) -> Decimal:
        """The change an entry of this type and ``amount`` makes to the balance."""
        return amount if self.raises_balance else -amount


class OverduePolicy(enum.StrEnum):
    OFF = "off"    # overdue items never stop orders
    HOLD = "hold"  # orders stop while more than the minimum is overdue, and start again once it is paid


class ItemSide(enum.StrEnum):
    CHARGE = "CHARGE"  # owed by the retailer: an order (its DEBIT) or a positive adjustment
    CREDIT = "CREDIT"  # in its favour: a payment or a negative adjustment


class HoldStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"      # reserves its amount until it expires, is captured or is released
    CAPTURED = "CAPTURED"  # became an order (at most its amount; the rest was released)
    RELEASED = "RELEASED"  # voided before it was captured
    EXPIRED = "EXPIRED"    # reached its expiry first (it counted for nothing from that moment)


class LimitRequestStatus(enum.StrEnum):
    OPEN = "OPEN"            # waiting for the wholesaler's decision (one per credit account at a time)
    APPROVED = "APPROVED"    # the limit was raised: for good, or by a temporary increase
    DECLINED = "DECLINED"    # the wholesaler said no, with a note
    WITHDRAWN = "WITHDRAWN"  # the retailer took it back before a decision


class HoldPurpose(enum.StrEnum):
    CART = "CART"          # a retailer keeps a cart's or a quote's credit and prices for a while
    APPROVAL = "APPROVAL"  # a buyer's order above its order limit, waiting for an approver (expiry declines it)


class OrderStatus(enum.StrEnum):
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"  # the goods left: only the wholesaler's side may still reverse it
    CANCELLED = "CANCELLED"


class Wholesaler(db.Model):
    __tablename__ = "wholesalers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: ISO 4217 code its catalogue prices and credit accounts are in.
    currency: Mapped[str] = mapped_column(String(3), server_default="EUR")
    #: IANA time zone in which its business dates (order dates, due dates, "today") are counted.
    time_zone: Mapped[str] = mapped_column(String(TIME_ZONE_MAX_LENGTH), server_default="UTC")
    #: Payment terms new credit accounts start with, in days.
    default_payment_terms_days: Mapped[int] = mapped_column(server_default=text("30"))
    #: Since when each retailer is mailed its statement of account every month (None: not mailed); months that
    #: ended before are not sent.
    statements_by_mail_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created_at()

    products: Mapped[list["Product"]] = relationship(back_populates="wholesaler")
    #: Its dunning schedule (app/services/dunning.py).
    reminder_levels: Mapped[list["ReminderLevel"]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("default_payment_terms_days BETWEEN 0 AND 365", name="default_terms_in_range"),
    )


class Retailer(db.Model):
    __tablename__ = "retailers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = _created_at()


#: The password_hash of an invited user who has not chosen a password: no password verifies against it.
NO_PASSWORD = "!"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased, so uniqueness ignores case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: Argon2id hash in PHC string format.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    retailer_id: Mapped[int | None] = mapped_column(ForeignKey("retailers.id"))
    wholesaler_id: Mapped[int | None] = mapped_column(ForeignKey("wholesalers.id"))
    #: A deactivated user is signed out on their next request and cannot sign in.
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    #: Part of every session cookie; raised by signing out and by deactivation, which ends every earlier session.
    session_version: Mapped[int] = mapped_column(server_default=text("1"))
    #: Kinds of notification (app/services/notifications.py) this user has switched off.
    muted_notifications: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    #: A retailer's buyer's per-order limit, set by an approver: a larger order waits for one (app/services/
    #: approvals.py). None: orders of any size, and approves others' (a retailer user without a limit approves).
    order_limit: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = _created_at()

    retailer: Mapped[Retailer | None] = relationship()
    wholesaler: Mapped[Wholesaler | None] = relationship()

    __table_args__ = (
        # Each role belongs to exactly the organisation its role names; admins to none.
        CheckConstraint(
            "(role = 'retailer' AND retailer_id IS NOT NULL AND wholesaler_id IS NULL)"
            " OR (role = 'wholesaler' AND wholesaler_id IS NOT NULL AND retailer_id IS NULL)"
            " OR (role = 'admin' AND retailer_id IS NULL AND wholesaler_id IS NULL)",
            name="role_matches_organisation",
        ),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("order_limit IS NULL OR (order_limit >= 0 AND role = 'retailer')", name="order_limit_buyers"),
    )

    @property
    def invited(self) -> bool:
        """Invited and not yet in: no password chosen, so no sign-in until the invitation's link is used."""
        return self.password_hash == NO_PASSWORD

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """What Flask-Login stores in the session: the id and the session version (app/services/sessions.py)."""
        return f"{self.id}:{self.session_version}"


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    wholesaler_id: Mapped[int] = mapped_column(ForeignKey("wholesalers.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    #: Inactive products stay on old orders but cannot be ordered.
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = _created_at()

    wholesaler: Mapped[Wholesaler] = relationship(back_populates="products")

    __table_args__ = (
        UniqueConstraint("wholesaler_id", "sku"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
    )


class CreditAccount(db.Model):
    """One per retailer–wholesaler pair; its row is the lock every credit decision takes."""

    __tablename__ = "credit_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    retailer_id: Mapped[int] = mapped_column(ForeignKey("retailers.id"))
    wholesaler_id: Mapped[int] = mapped_column(ForeignKey("wholesalers.id"), index=True)
    credit_limit: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[AccountStatus] = mapped_column(
        _enum(AccountStatus, "account_status"), server_default=AccountStatus.ACTIVE.value)
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    #: Outstanding exposure, kept equal to the sum of the ledger by every write under the row lock.
    #: Negative means credit in the retailer's favour (an overpayment).
    balance: Mapped[Decimal] = mapped_column(Money, server_default="0")
    #: Days from an order's business date to its due date; a change applies to later orders only.
    payment_terms_days: Mapped[int] = mapped_column(server_default=text("30"))
    #: "hold" for accounts opened since the overdue hold exists; accounts that existed before it got "off".
    overdue_policy: Mapped[OverduePolicy] = mapped_column(_enum(OverduePolicy, "overdue_policy"),
                                                          server_default=OverduePolicy.HOLD.value)
    #: Days after its due date before an unpaid item counts as overdue.
    overdue_grace_days: Mapped[int] = mapped_column(server_default=text("0"))
    #: Overdue amounts up to this (rounding leftovers, a disputed cent) do not stop orders.
    overdue_min_amount: Mapped[Decimal] = mapped_column(Money, server_default="0")
    #: The earliest due date of its open charges (None: nothing owed), kept by every write under the row lock:
    #: while it is not past, an order's overdue check has nothing to read.
    oldest_open_due: Mapped[date | None] = mapped_column(Date)
    #: The highest use of the limit (0, 80 or 100 %) its users were last told of: a notice goes out once per
    #: crossing, not once per order above the line; falling back below a line re-arms it.
    usage_alert_percent: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    #: Whether its users were last told it is on overdue hold (and not yet that the hold was lifted).
    overdue_hold_notified: Mapped[bool] = mapped_column(server_default=text("false"))
    #: The amounts of its holds whose status is ACTIVE, and the earliest of their expiries (None: no such hold),
    #: kept by every hold write under the row lock. Before that moment the sum is exact; from it on, some hold in
    #: it has expired without anything having written so yet, and held_amount_now sums the live ones.
    held_amount: Mapped[Decimal] = mapped_column(Money, server_default="0")
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The amounts of its live temporary limit increases and the earliest of their ends (None: no such increase),
    #: kept by every increase write under the row lock: exact before that moment, as held_amount is.
    temporary_increase: Mapped[Decimal] = mapped_column(Money, server_default="0")
    increase_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created_at()

    retailer: Mapped[Retailer] = relationship()
    wholesaler: Mapped[Wholesaler] = relationship()

    __table_args__ = (
        UniqueConstraint("retailer_id", "wholesaler_id"),
        CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("(status = 'BLOCKED') = (blocked_reason IS NOT NULL)",
                        name="blocked_has_reason"),
        CheckConstraint("payment_terms_days BETWEEN 0 AND 365", name="terms_in_range"),
        CheckConstraint("overdue_grace_days BETWEEN 0 AND 365", name="grace_in_range"),
        CheckConstraint("overdue_min_amount >= 0", name="overdue_min_not_negative"),
        CheckConstraint("usage_alert_percent IN (0, 80, 100)", name="usage_alert_percent_known"),
        CheckConstraint("held_amount >= 0 AND (held_until IS NULL) = (held_amount = 0)", name="held_has_expiry"),
        CheckConstraint("temporary_increase >= 0 AND (increase_until IS NULL) = (temporary_increase = 0)",
                        name="increase_has_end"),
        # The job that recounts increases once one has ended.
        Index("ix_credit_accounts_increase_until", "increase_until",
              postgresql_where=text("increase_until IS NOT NULL")),
    )

    @property
    def held_amount_now(self) -> Decimal:
        """What its live holds reserve at this moment: a hold counts for nothing from its expiry on, whether or not
        its expiry has been written yet (exact at any moment; a query only when some hold has just expired)."""
        moment = clock.now()
        if self.held_until is None or moment < self.held_until:
            return self.held_amount
        return db.session.scalar(select(func.coalesce(func.sum(CreditHold.amount), 0)).where(
            CreditHold.credit_account_id == self.id, CreditHold.live(moment)))

    @property
    def temporary_increase_now(self) -> Decimal:
        """What its live temporary increases add to the limit at this moment: one ends at its end, whether or not
        anything has recounted the kept sum yet (a query only when one has just ended)."""
        moment = clock.now()
        if self.increase_until is None or moment < self.increase_until:
            return self.temporary_increase
        return db.session.scalar(select(func.coalesce(func.sum(LimitIncrease.amount), 0)).where(
            LimitIncrease.credit_account_id == self.id, LimitIncrease.live(moment)))

    @property
    def increase_ends_on(self) -> date | None:
        """The last day, in its wholesaler's time zone, of the live increase that ends first; None without one."""
        moment, until = clock.now(), self.increase_until
        if until is not None and until <= moment:  # not yet recounted since it ended: the next end from the rows
            until = db.session.scalar(select(func.min(LimitIncrease.ends_at)).where(
                LimitIncrease.credit_account_id == self.id, LimitIncrease.live(moment)))
        if until is None:
            return None
        return clock.business_date(self.wholesaler.time_zone, until - timedelta(microseconds=1))

    @hybrid_property
    def effective_limit(self) -> Decimal:
        """The limit every decision applies: the credit limit and its live temporary increases."""
        return self.credit_limit + self.temporary_increase_now

    @effective_limit.inplace.expression
    @classmethod
    def _effective_limit_expression(cls) -> ColumnElement[Decimal]:
        # For sorting and filtering lists: the kept sums, which count an increase (and below, a hold) until the
        # minute's job has recounted them after their end (the figures shown come from the properties).
        return cls.credit_limit + cls.temporary_increase

    @hybrid_property
    def available_credit(self) -> Decimal:
        """What may still be ordered or held: the effective limit less the balance and the live holds (more than
        the limit when in credit)."""
        return self.effective_limit - self.balance - self.held_amount_now

    @available_credit.inplace.expression
    @classmethod
    def _available_credit_expression(cls) -> ColumnElement[Decimal]:
        return cls.credit_limit + cls.temporary_increase - cls.balance - cls.held_amount

    @hybrid_property
    def unapplied_credit(self) -> Decimal:
        """Credit not yet applied to any charge. Unapplied credit is applied as soon as there is a charge to
        pay, so it exists only when nothing is outstanding: then it is all of a negative balance (verify-ledger
        checks this against the open items)."""
        return -self.balance if self.balance < 0 else Decimal("0.00")

    @unapplied_credit.inplace.expression
    @classmethod
    def _unapplied_credit_expression(cls) -> ColumnElement[Decimal]:
        return func.greatest(-cls.balance, 0)

    @hybrid_property
    def utilisation(self) -> int:
        """Percent of the effective limit in use, the figure pages show and the dashboard sorts by: 0 when in
        credit, above 100 when over the limit, and 100 for a balance on a zero limit (all of nothing is in use)."""
        if self.balance <= 0:
            return 0
        if (limit := self.effective_limit) <= 0:
            return 100
        return int(self.balance * 100 / limit)

    @utilisation.inplace.expression
    @classmethod
    def _utilisation_expression(cls) -> ColumnElement[int]:
        limit = cls.credit_limit + cls.temporary_increase
        return case((cls.balance <= 0, 0), (limit <= 0, 100), else_=func.floor(cls.balance * 100 / limit))


class LimitIncrease(db.Model):
    """A temporary rise of an account's credit limit, granted by its wholesaler with a reason: it counts in the
    effective limit from its grant to the end of its last day in the wholesaler's time zone, unless ended early."""

    __tablename__ = "limit_increases"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    #: Its last day (inclusive) in the wholesaler's time zone, as granted.
    ends_on: Mapped[date] = mapped_column(Date)
    #: The moment that day ended in the wholesaler's time zone when it was granted: from then on it adds nothing.
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created_at()
    #: When it was ended before its end, and by whom; None otherwise.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("ends_at > created_at", name="ends_after_granted"),
        CheckConstraint("ended_at IS NULL OR ended_at < ends_at", name="ended_early_only"),
        # An account's increases: its history, and its live ones once one has ended (an account has few).
        Index("ix_limit_increases_credit_account_id", "credit_account_id", text("id DESC")),
    )

    @classmethod
    def live(cls, moment: datetime) -> ColumnElement[bool]:
        """Increases that count at ``moment``: not ended early and not yet at their end."""
        return and_(cls.ended_at.is_(None), cls.ends_at > moment)

    def is_live(self, moment: datetime) -> bool:
        return self.ended_at is None and moment < self.ends_at

    def ended(self) -> datetime:
        """When it stopped counting, or will."""
        return self.ended_at or self.ends_at


class LimitRequest(db.Model):
    """A retailer's request for a higher limit on a credit line, for good or until a day; its wholesaler approves
    it (as asked, or another limit, for good or until a day) or declines it with a note."""

    __tablename__ = "limit_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    retailer_id: Mapped[int] = mapped_column(ForeignKey("retailers.id"))
    wholesaler_id: Mapped[int] = mapped_column(ForeignKey("wholesalers.id"))
    status: Mapped[LimitRequestStatus] = mapped_column(_enum(LimitRequestStatus, "limit_request_status"))
    #: The limit asked for (the whole of it, not the rise), and until when (inclusive; None: for good).
    requested_limit: Mapped[Decimal] = mapped_column(Money)
    ends_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created_at()
    #: When it was approved, declined or withdrawn, by whom, and what they said.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: What an approval gave: the limit and until when (None: for good); a temporary one is an increase.
    granted_limit: Mapped[Decimal | None] = mapped_column(Money)
    granted_ends_on: Mapped[date | None] = mapped_column(Date)
    increase_id: Mapped[int | None] = mapped_column(ForeignKey("limit_increases.id"), unique=True)

    retailer: Mapped[Retailer] = relationship()
    account: Mapped["CreditAccount"] = relationship()

    __table_args__ = (
        CheckConstraint("requested_limit > 0", name="requested_limit_positive"),
        CheckConstraint("(status = 'OPEN') = (closed_at IS NULL)", name="closed_unless_open"),
        CheckConstraint("(status = 'APPROVED') = (granted_limit IS NOT NULL)", name="granted_when_approved"),
        CheckConstraint("(increase_id IS NOT NULL) = (granted_ends_on IS NOT NULL)", name="increase_when_temporary"),
        # One open request per credit line: the service refuses a second under the row lock; this is the backstop.
        Index("uq_limit_requests_one_open", "credit_account_id", unique=True, postgresql_where=text("status = 'OPEN'")),
        Index("ix_limit_requests_credit_account_id", "credit_account_id", text("id DESC")),
        Index("ix_limit_requests_retailer_id", "retailer_id", text("id DESC")),
        Index("ix_limit_requests_wholesaler_id", "wholesaler_id", text("id DESC")),
    )


class LedgerEntry(db.Model):
    """An append-only movement on a credit account (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    type: Mapped[EntryType] = mapped_column(_enum(EntryType, "entry_type"))
    #: Positive for DEBIT, CREDIT and REVERSAL (the type gives the direction); signed for ADJUSTMENT.
    amount: Mapped[Decimal] = mapped_column(Money)
    #: The account's balance right after this entry: the chain verify-ledger walks.
    balance_after: Mapped[Decimal] = mapped_column(Money)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    reverses_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    memo: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created_at()
    #: Client-chosen key of a payment or adjustment: a retried request returns this entry instead of a
    #: second one. Unique per credit account; entries written without one (and every order's) have none.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    #: Digest of the request (operation, amount, memo), to refuse a reused key with a different request.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(
            "(type = 'ADJUSTMENT' AND amount <> 0) OR (type <> 'ADJUSTMENT' AND amount > 0)",
            name="amount_sign"),
        CheckConstraint("type NOT IN ('DEBIT', 'REVERSAL', 'CREDIT_NOTE') OR order_id IS NOT NULL",
                        name="order_entries_name_order"),
        CheckConstraint("(type = 'REVERSAL') = (reverses_entry_id IS NOT NULL)",
                        name="reversal_names_entry"),
        CheckConstraint("type <> 'ADJUSTMENT' OR memo IS NOT NULL", name="adjustment_has_reason"),
        # Keyset pagination of one account's ledger, newest first.
        Index("ix_ledger_entries_account_id", "credit_account_id", text("id DESC")),
        Index("uq_ledger_one_debit_per_order", "order_id", unique=True,
              postgresql_where=text("type = 'DEBIT'")),
        Index("uq_ledger_one_reversal_per_entry", "reverses_entry_id", unique=True),
        # What each order was credited (Order.credited_amount).
        Index("ix_ledger_entries_credit_notes", "order_id", postgresql_where=text("type = 'CREDIT_NOTE'")),
        # Partial: the many entries without a key stay out of the index.
        Index("uq_ledger_entries_account_idempotency_key", "credit_account_id", "idempotency_key", unique=True,
              postgresql_where=text("idempotency_key IS NOT NULL")),
    )

    @property
    def effect(self) -> Decimal:
        """Signed change this entry made to the balance (in SQL: app/services/ledger_check.py, the same rule)."""
        return self.type.signed(self.amount)

    @classmethod
    def of_type(cls, entry_type: EntryType) -> ColumnElement[bool]:
        """Entries of ``entry_type``, as a literal: a partial index's predicate sent as a bind parameter cannot
        be proved once the driver has prepared the statement (see OpenItem.still_open)."""
        return cls.type == literal_column(f"'{entry_type.value}'")


class Order(db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    retailer_id: Mapped[int] = mapped_column(ForeignKey("retailers.id"))
    wholesaler_id: Mapped[int] = mapped_column(ForeignKey("wholesalers.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"))
    #: Computed on the server from catalogue prices, never taken from the client.
    total_amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    #: The DEBIT that reserved this order's credit.
    credit_ledger_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_entries.id", use_alter=True, name="fk_orders_credit_ledger_entry"),
        unique=True)
    #: Client-chosen key: a retried request returns the original order instead of a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    #: Digest of the ordered lines, to refuse a reused key with different lines.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created_at()
    #: The business date it was placed on, in the wholesaler's time zone, plus the account's terms then.
    due_date: Mapped[date] = mapped_column(Date)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: What credit notes have given back of it.
    credited_amount: Mapped[Decimal] = column_property(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.order_id == id, LedgerEntry.of_type(EntryType.CREDIT_NOTE))
        .correlate_except(LedgerEntry).scalar_subquery())
    #: When the wholesaler marked it shipped (kept if it is cancelled afterwards).
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shipped_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", order_by="OrderLine.id")
    #: Its charge: what is paid of it and what is still outstanding.
    item: Mapped["OpenItem"] = relationship(viewonly=True)
    retailer: Mapped[Retailer] = relationship()
    wholesaler: Mapped[Wholesaler] = relationship()

    __table_args__ = (
        UniqueConstraint("retailer_id", "idempotency_key", name="uq_orders_retailer_idempotency_key"),
        CheckConstraint("total_amount > 0", name="total_positive"),
        CheckConstraint("(status = 'CANCELLED') = (cancelled_at IS NOT NULL)",
                        name="cancelled_has_time"),
        CheckConstraint("status <> 'SHIPPED' OR shipped_at IS NOT NULL", name="shipped_has_time"),
        Index("ix_orders_retailer_id", "retailer_id", text("id DESC")),
    )


class CreditHold(db.Model):
    """Credit reserved for a while at today's prices (a cart, a quote): it counts against the limit like an order
    until it expires, is captured into an order or is released. Never a debt: the balance never includes it."""

    __tablename__ = "credit_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    retailer_id: Mapped[int] = mapped_column(ForeignKey("retailers.id"))
    wholesaler_id: Mapped[int] = mapped_column(ForeignKey("wholesalers.id"), index=True)
    status: Mapped[HoldStatus] = mapped_column(_enum(HoldStatus, "hold_status"))
    purpose: Mapped[HoldPurpose] = mapped_column(_enum(HoldPurpose, "hold_purpose"), server_default="CART")
    #: What it reserves: its lines at the catalogue's prices when it was placed.
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    #: From this moment on it holds nothing.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Client-chosen key: a retried request returns this hold instead of a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    #: Digest of the held lines, to refuse a reused key with different lines.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created_at()
    #: When it was captured, released or (at its expiry) expired; None while ACTIVE.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: What the approver said approving or declining an order waiting for approval.
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: The order a capture made of it.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)

    lines: Mapped[list["CreditHoldLine"]] = relationship(order_by="CreditHoldLine.product_id")
    placer: Mapped[User | None] = relationship(foreign_keys=[placed_by])
    retailer: Mapped[Retailer] = relationship()
    wholesaler: Mapped[Wholesaler] = relationship()

    __table_args__ = (
        UniqueConstraint("retailer_id", "idempotency_key", name="uq_credit_holds_retailer_idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("expires_at > created_at", name="expires_after_placed"),
        CheckConstraint("(status = 'ACTIVE') = (closed_at IS NULL)", name="closed_unless_active"),
        # Only a captured hold has an order. (That every captured hold has one is verify-ledger's to check: a
        # capture closes the hold before it writes the order, so the order's figures no longer count the hold.)
        CheckConstraint("order_id IS NULL OR status = 'CAPTURED'", name="order_only_when_captured"),
        # The live holds of an account (its held amount once one has expired) and the expiry job's look-up.
        Index("ix_credit_holds_active", "credit_account_id", "expires_at", postgresql_where=text("status = 'ACTIVE'")),
        Index("ix_credit_holds_expiring", "expires_at", postgresql_where=text("status = 'ACTIVE'")),
        Index("ix_credit_holds_retailer_id", "retailer_id", text("id DESC")),
    )

    @classmethod
    def live(cls, moment: datetime) -> ColumnElement[bool]:
        """Holds that reserve credit at ``moment``: ACTIVE and not yet expired (the partial index's predicate as a
        literal, as OpenItem.still_open explains)."""
        return and_(cls.status == literal_column("'ACTIVE'"), cls.expires_at > moment)

    def status_at(self, moment: datetime) -> HoldStatus:
        """Its status as it stands at ``moment``: an ACTIVE hold past its expiry is EXPIRED, written or not."""
        if self.status == HoldStatus.ACTIVE and moment >= self.expires_at:
            return HoldStatus.EXPIRED
        return self.status


class CreditHoldLine(db.Model):
    __tablename__ = "credit_hold_lines"

    hold_id: Mapped[int] = mapped_column(ForeignKey("credit_holds.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    quantity: Mapped[int]
    #: The catalogue price when the hold was placed: a capture orders at it.
    unit_price: Mapped[Decimal] = mapped_column(Money)

    product: Mapped["Product"] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
    )


class OrderLine(db.Model):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    #: The catalogue price when the order was placed.
    unit_price: Mapped[Decimal] = mapped_column(Money)
    line_total: Mapped[Decimal] = mapped_column(Money)

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        UniqueConstraint("order_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
        CheckConstraint("line_total = unit_price * quantity", name="line_total_matches"),
    )


class OpenItem(db.Model):
    """What one ledger entry leaves to settle: a charge's outstanding amount, or a credit's unapplied amount.

    Kept under the account's row lock beside the ledger, which says how much is owed; allocations say which
    charges each credit paid. After every write at most one side of an account has anything open (unapplied
    credit is applied at once), so the account's balance is its outstanding total less its unapplied credit.
    """

    __tablename__ = "open_items"

    ledger_entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.id"), primary_key=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    side: Mapped[ItemSide] = mapped_column(_enum(ItemSide, "item_side"))
    #: The order a DEBIT's charge belongs to.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    #: Positive on both sides: what the entry charged or credited.
    amount: Mapped[Decimal] = mapped_column(Money)
    #: Still to pay on a charge, still to apply of a credit.
    open_amount: Mapped[Decimal] = mapped_column(Money)
    #: A charge's due date; credits have none.
    due_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()
    #: When its order was cancelled: the REVERSAL closed the charge and its allocations were released.
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("open_amount >= 0 AND open_amount <= amount", name="open_within_amount"),
        CheckConstraint("(side = 'CHARGE') = (due_date IS NOT NULL)", name="charges_have_due_dates"),
        CheckConstraint("cancelled_at IS NULL OR (side = 'CHARGE' AND open_amount = 0)", name="cancelled_is_closed"),
        # Oldest due first, and the overdue check, read only what is still open.
        Index("ix_open_items_open_charges", "credit_account_id", "due_date", "ledger_entry_id",
              postgresql_where=text("side = 'CHARGE' AND open_amount > 0")),
        Index("ix_open_items_open_credits", "credit_account_id", "ledger_entry_id",
              postgresql_where=text("side = 'CREDIT' AND open_amount > 0")),
        # An ageing as of a past date looks for the few charges cancelled since.
        Index("ix_open_items_cancelled_at", "cancelled_at", postgresql_where=text("cancelled_at IS NOT NULL")),
    )

    @classmethod
    def still_open(cls, side: ItemSide) -> ColumnElement[bool]:
        """Open items of ``side``, written as the partial indexes' predicates: literals, not bind parameters,
        or PostgreSQL cannot prove the index covers them and reads every item of the account."""
        return and_(cls.side == literal_column(f"'{side.value}'"), cls.open_amount > literal_column("0"))

    @property
    def allocated_amount(self) -> Decimal:
        """What is paid of a charge, or applied of a credit, now (nothing of a cancelled order: released)."""
        return Decimal("0.00") if self.cancelled_at is not None else self.amount - self.open_amount


class Allocation(db.Model):
    """Part of a credit applied to a charge; a negative amount releases an earlier one. Append-only."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    charge_entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("open_items.ledger_entry_id"), index=True)
    credit_entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("open_items.ledger_entry_id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    #: The entry whose write made it: the payment itself, a later charge that took unapplied credit, or the
    #: REVERSAL whose cancellation released it and applied the credit again.
    made_by_entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created_at()

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        # An ageing as of a past date undoes what was allocated since.
        Index("ix_allocations_created_at", "created_at"),
    )


class CreditNoteLine(db.Model):
    """What a CREDIT_NOTE credits of one order line, at the price ordered. Append-only."""

    __tablename__ = "credit_note_lines"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ledger_entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Money)

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )


class AuditEvent(db.Model):
    """Who changed what and when; append-only like the ledger."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: A dotted verb such as ``credit_account.block``.
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created_at()

    actor: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)


class ApiToken(db.Model):
    """A bearer token for the JSON API; it acts as its user, and only its digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The token's first characters, shown in lists so a user can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the whole token (hex): the secret has 256 random bits, so no slow hash is needed.
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: What the user called it, e.g. the system that uses it.
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()
    #: Updated at most once a minute, so a busy client does not write on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Set once; a revoked token is refused and never comes back.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    __table_args__ = (
        # Only a digest fits here, never the token itself.
        CheckConstraint("token_digest ~ '^[0-9a-f]{64}$'", name="digest_is_sha256_hex"),
    )


class MailMessage(db.Model):
    """One e-mail to one address, written in the transaction of what it tells of and delivered by a job."""

    __tablename__ = "mail_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: What it is about: a notification kind (app/services/notifications.py) or a security mail.
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    #: The Message-ID header, ``<...@domain>``: the same on every delivery attempt, so a receiver can drop a repeat.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    #: Set when something must be sent only once (a reminder level for an item): a second writer meets it.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = _created_at()
    #: When it was handed to the SMTP server, or kept (no MAIL_SERVER): None while it waits or is retried.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: "smtp" or "kept"; None until it is sent.
    delivery: Mapped[str | None] = mapped_column(String(8))
    #: Attempts that failed, and the last one's error (the job retries with backoff).
    failed_attempts: Mapped[int] = mapped_column(server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: One attached file (a statement's PDF), sent with the text and HTML.
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    user: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("delivery IN ('smtp', 'kept')", name="delivery_known"),
        CheckConstraint("(sent_at IS NULL) = (delivery IS NULL)", name="sent_has_delivery"),
        Index("ix_mail_messages_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),
    )


class PasswordLink(db.Model):
    """A link mailed to a user to choose a password: an invitation, or a reset. Used once, then never again."""

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: "invitation" or "reset".
    purpose: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the link's secret (hex): only its reader has the secret itself.
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: Who sent the invitation (None: a reset the user asked for, or the system).
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: When a password was chosen with it, or when a newer link or a password change made it void.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    __table_args__ = (
        CheckConstraint("purpose IN ('invitation', 'reset')", name="purpose_known"),
        CheckConstraint("token_digest ~ '^[0-9a-f]{64}$'", name="digest_is_sha256_hex"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
    )


class ReminderLevel(db.Model):
    """One step of a wholesaler's dunning: a reminder sent this many days from an unpaid item's due date."""

    __tablename__ = "reminder_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    wholesaler_id: Mapped[int] = mapped_column(ForeignKey("wholesalers.id"))
    #: Negative: before the due date (a courtesy notice); 0 on it; positive: days overdue.
    days_after_due: Mapped[int] = mapped_column(SmallInteger)
    #: What the reminder says, above the list of items.
    wording: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("wholesaler_id", "days_after_due"),
        CheckConstraint("days_after_due BETWEEN -60 AND 365", name="days_in_range"),
        CheckConstraint("length(wording) BETWEEN 1 AND 2000", name="wording_length"),
    )


class StatementSent(db.Model):
    """A month's statement of account mailed for one credit line: at most once, however often the job runs."""

    __tablename__ = "statements_sent"

    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"), primary_key=True)
    #: The first day of the month it covers.
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    #: How many users it was mailed to (0: nothing to tell, or every user had statements switched off).
    recipients: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = _created_at()


class ReminderSent(db.Model):
    """A reminder level sent for one open item: at most once, whoever runs the job and however often."""

    __tablename__ = "reminders_sent"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    open_item_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("open_items.ledger_entry_id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    #: The level it was sent at, by its offset (a level is its offset: changing one makes a new one).
    days_after_due: Mapped[int] = mapped_column(SmallInteger)
    #: What the item still owed when it was sent.
    open_amount: Mapped[Decimal] = mapped_column(Money)
    #: The wholesaler's business date it was sent on.
    sent_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()

    __table_args__ = (
        UniqueConstraint("open_item_id", "days_after_due"),
        Index("ix_reminders_sent_account", "credit_account_id", "id"),
    )


class WebhookEndpoint(db.Model):
    """A URL a wholesaler or a retailer has events POSTed to, signed with its secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The organisation it belongs to: exactly one of the two; it is sent the events about its own side.
    wholesaler_id: Mapped[int | None] = mapped_column(ForeignKey("wholesalers.id"), index=True)
    retailer_id: Mapped[int | None] = mapped_column(ForeignKey("retailers.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    #: The event types it wants (app/services/webhooks.py EVENT_TYPES).
    events: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    #: Signs each delivery (HMAC-SHA256); shown to its owner once, when made or rotated.
    secret: Mapped[str] = mapped_column(String(100))
    #: The secret before the last rotation, still signing beside the new one until this time.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Set when a delivery gave up after three days of failures; cleared by the next delivery that succeeds.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created_at()
    #: Deleted endpoints are kept for their delivery log, and sent nothing more.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("(wholesaler_id IS NULL) <> (retailer_id IS NULL)", name="one_owner"),
        CheckConstraint("url ~ '^https?://'", name="http_url"),
        CheckConstraint("cardinality(events) > 0", name="some_events"),
    )


#: Whether either side of the account has a webhook endpoint: read with the row lock (app/services/transactions.py),
#: so an order of organisations without webhooks spends no query looking for subscribers.
CreditAccount.has_webhooks = column_property(
    select(WebhookEndpoint.id).where(
        or_(WebhookEndpoint.wholesaler_id == CreditAccount.wholesaler_id,
            WebhookEndpoint.retailer_id == CreditAccount.retailer_id),
        WebhookEndpoint.deleted_at.is_(None)).exists(), deferred=True)


class WebhookEvent(db.Model):
    """Something that happened, as its subscribers are sent it: written in the transaction of the change."""

    __tablename__ = "webhook_events"

    #: ``evt_`` and 24 random hex digits: receivers drop a repeat by it.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(db.Model):
    """One event to one endpoint: tried until a 2xx answer, or for three days; its last attempt is kept."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The HTTP status of the last attempt; None when it got none (refused, timed out, address not allowed).
    last_status: Mapped[int | None]
    last_latency_ms: Mapped[int | None]
    #: The start of the last answer's body, or why there was none.
    last_response: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the retries ran out; a redelivery starts it again.
    given_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()

    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )
