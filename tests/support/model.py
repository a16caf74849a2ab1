"""The model-based test's machinery (tests/test_model_based.py): a small in-memory model of the credit service,
a Hypothesis state machine that drives the real service against it, and run_machine to run it."""

import copy
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import time_machine
from flask import current_app
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import event, select, text

from app.extensions import db
from app.models import CreditAccount, Product, Retailer, Wholesaler
from app.services import accounts, holds, limits
from app.services.actors import SYSTEM
from app.services.errors import Refusal
from app.services.ledger_check import find_ledger_problems
from app.services.money import MAX_AMOUNT
from app.services.orders import cancel_order, place_order, ship_order
from tests.support.actors import acting_retailer

#: Where each example's clock starts; a rule moves it forward (due dates, and which is due first, follow it).
START = datetime(2027, 1, 28, 9, 0, tzinfo=UTC)
TERMS_DAYS = 30
#: Each wholesaler's catalogue: three active products, then one that is no longer sold.
CATALOGUES = {"W1": ["10.00", "12.34", "250.00", "5.00"], "W2": ["7.50", "99.99", "1000.00", "3.00"]}
INITIAL_LIMITS = ["1000.00", "500.00"]
UNKNOWN_ORDER_ID = 10**6
#: How long each write statement waits during the two-at-once rule: the window between reading the
#: balance and writing it, where an unlocked decision would race.
WRITE_DELAY_SECONDS = 0.01
WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)

#: Outcomes seen, by operation and result, over every example of the run: printed as the figures.
FIGURES: Counter = Counter()
#: Schedules (Hypothesis examples: one sequence of operations each, shrinking included) run in the test.
SCHEDULES: Counter = Counter()


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda c: Decimal(c).scaleb(-2))


def amounts(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Cents from ``low`` to ``high``, and now and then the largest amount a column holds (negated
    below ``low``), so balances reach the ends of Numeric(14,2) and the range refusals are exercised."""
    def to_amount(c: int) -> Decimal:
        return MAX_AMOUNT if c > high else -MAX_AMOUNT if c < low else Decimal(c).scaleb(-2)
    return st.integers(low - 1 if low < 0 else low, high + 1).map(to_amount)


ACCOUNT = st.sampled_from([0, 1])
#: A product by its slot: 0-2 the account's own wholesaler's active ones, 3 its inactive one,
#: 4 another wholesaler's.
INACTIVE, FOREIGN = 3, 4
QUANTITY = st.integers(1, 12)
LINES = st.lists(st.tuples(st.integers(0, 2), QUANTITY), min_size=1, max_size=3).map(tuple)
#: Lines the service must refuse: none at all, or one product that cannot be ordered among good ones.
BAD_LINES = st.just(()) | st.tuples(LINES, st.tuples(st.sampled_from([INACTIVE, FOREIGN]), QUANTITY),
                                    st.integers(0, 3)).map(lambda t: t[0][:t[2]] + (t[1],) + t[0][t[2]:])
KEY = st.none() | st.sampled_from(["k1", "k2", "k3"])
PAYMENT = amounts(1, 200_000)
ADJUSTMENT = amounts(-100_000, 100_000)  # zero included: refused
LIMIT = amounts(0, 300_000)
ORDER_PICK = st.integers(-1, 50)  # -1: an order that does not exist
#: A payment's remittance: orders it names first, each with an amount or None (in full, or what is left).
REMITTANCE = st.just(()) | st.lists(st.tuples(ORDER_PICK, st.none() | cents(1, 60_000)), min_size=1,
                                    max_size=3).map(tuple)
DAYS = st.integers(0, 45)
#: Clock moves of a few seconds to an hour: a hold's expiry is exact to the second.
SECONDS = st.sampled_from([1, 59, 600, 3600])
#: How long a hold is placed for: a second, an hour, a day, five days.
HOLD_SECONDS = st.sampled_from([1, 3600, 86400, 5 * 86400])
HOLD_PICK = st.integers(-1, 20)  # -1: a hold that does not exist
#: A capture's lines by slot of the hold's products (past its last: a product it does not hold), or all of it.
CAPTURE_LINES = st.none() | st.lists(st.tuples(st.integers(0, 3), st.integers(1, 12)), min_size=1,
                                     max_size=2).map(tuple)
#: A temporary increase: its amount and its last day, in days from today (-1: yesterday, refused; 367: too far).
INCREASE = amounts(1, 100_000)
INCREASE_DAYS = st.sampled_from([-1, 0, 0, 1, 2, 30, 367])
INCREASE_PICK = st.integers(-1, 10)  # -1: an increase that does not exist
OVERDUE_POLICY = st.sampled_from(["hold", "off"])
GRACE = st.sampled_from([0, 0, 3, 20])
OVERDUE_MIN = st.sampled_from([Decimal("0.00"), Decimal("0.00"), Decimal("25.00")])

#: Operations before their ids are resolved against the model (see CreditMachine.resolve).
OPERATION = st.one_of(
    st.tuples(st.just("place"), ACCOUNT, LINES, KEY),
    st.tuples(st.just("retry"), st.integers(0, 10), st.booleans()),
    st.tuples(st.just("cancel"), ORDER_PICK, st.booleans()),  # True: the retailer cancels, else the system
    st.tuples(st.just("ship"), ORDER_PICK),
    st.tuples(st.just("credit"), ORDER_PICK, st.integers(0, 3), st.integers(1, 3)),  # a line (3: not the order's)
    st.tuples(st.just("pay"), ACCOUNT, PAYMENT, REMITTANCE),
    st.tuples(st.just("adjust"), ACCOUNT, ADJUSTMENT),
    st.tuples(st.just("limit"), ACCOUNT, LIMIT),
    st.tuples(st.just("overdue"), ACCOUNT, OVERDUE_POLICY, GRACE, OVERDUE_MIN),
    st.tuples(st.just("block"), ACCOUNT),
    st.tuples(st.just("unblock"), ACCOUNT),
    st.tuples(st.just("hold"), ACCOUNT, LINES, HOLD_SECONDS),
    st.tuples(st.just("capture"), HOLD_PICK, CAPTURE_LINES),
    st.tuples(st.just("release"), HOLD_PICK),
    st.tuples(st.just("expire")),
    st.tuples(st.just("increase"), ACCOUNT, INCREASE, INCREASE_DAYS),
    st.tuples(st.just("end_increase"), INCREASE_PICK),
    st.tuples(st.just("recount")),
)


# --- The model -----------------------------------------------------------------------------------

@dataclass
class ModelProduct:
    wholesaler_id: int
    price: Decimal
    active: bool


@dataclass
class ModelAccount:
    wholesaler_id: int
    limit: Decimal
    balance: Decimal = Decimal("0.00")
    blocked: bool = False
    #: The overdue hold, as new accounts get it: on, no grace, no minimum.
    hold: bool = True
    grace: int = 0
    overdue_min: Decimal = Decimal("0.00")
    #: (type, amount, balance_after, order_id) in the order they were written.
    ledger: list[tuple] = field(default_factory=list)
    #: Open items in the order they were written (the order of their entries).
    items: list["ModelItem"] = field(default_factory=list)
    #: (charge index, credit index) -> net amount allocated, indexes into ``items``.
    paid: Counter = field(default_factory=Counter)
    #: What the row keeps of its live increases, as of the last write that counted them: their sum and first end.
    kept_increase: Decimal = Decimal("0.00")
    kept_until: datetime | None = None

    def add(self, item: "ModelItem") -> None:
        self.items.append(item)
        self.settle()

    def settle(self) -> None:
        """Unapplied credits, oldest first, pay open charges, oldest due first (ties: the older entry)."""
        charges = sorted((i for i, item in enumerate(self.items) if item.side == "CHARGE" and item.open > 0),
                         key=lambda i: (self.items[i].due, i))
        for k, credit in enumerate(self.items):
            for c in charges:
                if credit.side == "CREDIT" and credit.open > 0 and self.items[c].open > 0:
                    self.allocate(c, k, min(credit.open, self.items[c].open))

    def allocate(self, charge: int, credit: int, amount: Decimal) -> None:
        self.items[charge].open -= amount
        self.items[credit].open -= amount
        self.paid[charge, credit] += amount

    def overdue(self, today: date) -> Decimal:
        """Outstanding on charges due before today less the grace days."""
        return sum((i.open for i in self.items if i.side == "CHARGE" and i.due < today - timedelta(days=self.grace)),
                   Decimal("0.00"))

    def charge_of(self, order_id: int) -> int | None:
        return next((i for i, item in enumerate(self.items) if item.order_id == order_id), None)

    def available(self, holds: list["ModelHold"], increases: list["ModelIncrease"], now: datetime) -> Decimal:
        """The effective limit less the balance and the holds of this account live at ``now``."""
        return self.effective_limit(increases, now) - self.balance - held(holds, now)

    def effective_limit(self, increases: list["ModelIncrease"], now: datetime) -> Decimal:
        return self.limit + sum((i.amount for i in increases if i.live(now)), Decimal("0.00"))

    def recount(self, increases: list["ModelIncrease"], now: datetime) -> None:
        live = [i for i in increases if i.live(now)]
        self.kept_increase = sum((i.amount for i in live), Decimal("0.00"))
        self.kept_until = min((i.ends_at for i in live), default=None)


@dataclass
class ModelIncrease:
    account_id: int
    amount: Decimal
    #: The end of its last day (every wholesaler counts in UTC).
    ends_at: datetime
    ended_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.ends_at


def held(holds: list["ModelHold"], now: datetime) -> Decimal:
    return sum((h.amount for h in holds if h.live(now)), Decimal("0.00"))


@dataclass
class ModelHold:
    account_id: int
    amount: Decimal
    expires_at: datetime
    #: product id -> (quantity, price when held)
    lines: dict[int, tuple[int, Decimal]]
    #: As the database has it: ACTIVE until a capture, a release or something writing its expiry.
    status: str = "ACTIVE"
    order_id: int | None = None

    def live(self, now: datetime) -> bool:
        return self.status == "ACTIVE" and now < self.expires_at


@dataclass
class ModelItem:
    side: str
    order_id: int | None
    due: date | None
    amount: Decimal
    open: Decimal
    cancelled: bool = False


@dataclass
class ModelOrder:
    account_id: int
    total: Decimal
    key: str | None
    cancelled: bool = False
    reversal_id: int | None = None
    shipped: bool = False
    #: product id -> (quantity, price when ordered)
    lines: dict[int, tuple[int, Decimal]] = field(default_factory=dict)
    #: product id -> quantity credited by credit notes
    credited: Counter = field(default_factory=Counter)


def refused(code: str, available: Decimal | None = None) -> tuple:
    return ("refused", code, available)


@dataclass
class Model:
    """What the credit service should do, in a few lines per operation."""

    retailer_id: int
    accounts: dict[int, ModelAccount]
    products: dict[int, ModelProduct]
    orders: dict[int, ModelOrder] = field(default_factory=dict)
    #: idempotency key → (order id, fingerprint, the request's lines)
    keys: dict[str, tuple[int, tuple, tuple]] = field(default_factory=dict)
    holds: dict[int, ModelHold] = field(default_factory=dict)
    increases: dict[int, ModelIncrease] = field(default_factory=dict)
    now: datetime = START

    def available(self, account_id: int) -> Decimal:
        return self.accounts[account_id].available(self.holds_of(account_id), self.increases_of(account_id), self.now)

    def effective_limit(self, account_id: int) -> Decimal:
        return self.accounts[account_id].effective_limit(self.increases_of(account_id), self.now)

    def increases_of(self, account_id: int) -> list[ModelIncrease]:
        return [i for i in self.increases.values() if i.account_id == account_id]

    def holds_of(self, account_id: int) -> list[ModelHold]:
        return [h for h in self.holds.values() if h.account_id == account_id]

    @property
    def due(self) -> date:
        """The due date of a charge written now (every wholesaler counts in UTC, every account has 30 days)."""
        return self.now.date() + timedelta(days=TERMS_DAYS)

    def account_of(self, wholesaler_id: int) -> tuple[int, ModelAccount]:
        return next((i, a) for i, a in self.accounts.items() if a.wholesaler_id == wholesaler_id)

    def apply(self, op: tuple, names: dict) -> tuple:
        """The outcome ``op`` should have, changing the model as the service should change the books.

        ``names`` holds the ids the service gave to what it created (order, reversal entry): the
        model does not predict ids, only uses them to name its own rows.
        """
        kind = op[0]
        if kind == "place":
            return self._place(*op[1:], names)
        if kind == "cancel":
            return self._cancel(op[1], op[2], names)
        if kind == "ship":
            return self._ship(op[1])
        if kind == "credit":
            return self._credit(*op[1:])
        if kind == "wait":
            self.now += timedelta(days=op[1])
            return ("ok",)
        if kind == "tick":
            self.now += timedelta(seconds=op[1])
            return ("ok",)
        if kind == "hold":
            return self._hold(*op[1:], names)
        if kind == "capture":
            return self._capture(op[1], op[2], names)
        if kind == "release":
            return self._release(op[1])
        if kind == "expire":
            expired = [h for h in self.holds.values() if h.status == "ACTIVE" and not h.live(self.now)]
            for h in expired:
                h.status = "EXPIRED"
            return ("expired", len(expired))
        if kind == "increase":
            return self._increase(*op[1:], names)
        if kind == "end_increase":
            return self._end_increase(op[1])
        if kind == "recount":
            lapsed = [i for i, a in self.accounts.items() if a.kept_until is not None and a.kept_until <= self.now]
            for account_id in lapsed:
                self.accounts[account_id].recount(self.increases_of(account_id), self.now)
            return ("recounted", len(lapsed))
        account = self.accounts[op[1]]
        if kind == "pay":
            if abs(account.balance - op[2]) > MAX_AMOUNT:
                return refused("VALIDATION_ERROR")  # the balance would not fit its column
            named = self._named(account, op[2], op[3])
            if named is None:
                return refused("VALIDATION_ERROR")
            account.balance -= op[2]
            account.ledger.append(("CREDIT", op[2], account.balance, None))
            account.items.append(ModelItem("CREDIT", None, None, op[2], op[2]))
            for charge, amount in named:
                account.allocate(charge, len(account.items) - 1, amount)
            account.settle()
            return ("entry", "CREDIT", op[2], account.balance)
        if kind == "adjust":
            if op[2] == 0 or abs(account.balance + op[2]) > MAX_AMOUNT:
                return refused("VALIDATION_ERROR")
            account.balance += op[2]
            account.ledger.append(("ADJUSTMENT", op[2], account.balance, None))
            account.add(ModelItem("CHARGE", None, self.due, op[2], op[2]) if op[2] > 0
                        else ModelItem("CREDIT", None, None, -op[2], -op[2]))
            return ("entry", "ADJUSTMENT", op[2], account.balance)
        if kind == "limit":
            account.limit = op[2]
        elif kind == "overdue":
            account.hold, account.grace, account.overdue_min = op[2] == "hold", op[3], op[4]
        elif kind in ("block", "unblock"):
            account.blocked = kind == "block"
        return ("ok",)

    def _place(self, wholesaler_id: int, lines: tuple, key: str | None, names: dict) -> tuple:
        if not lines:
            return refused("VALIDATION_ERROR")
        merged: dict[int, int] = {}
        for product_id, quantity in lines:
            merged[product_id] = merged.get(product_id, 0) + quantity
        fingerprint = (wholesaler_id, tuple(sorted(merged.items())))
        if key is not None and key in self.keys:  # checked before anything else about the order
            order_id, first_fingerprint, _ = self.keys[key]
            if first_fingerprint != fingerprint:
                return refused("IDEMPOTENCY_KEY_REUSED")
            order = self.orders[order_id]
            return ("replayed", order_id, order.total, self.available(order.account_id))
        account_id, merged, refusal = self._refusal(wholesaler_id, merged)
        if refusal:
            return refusal
        total = sum((self.products[p].price * q for p, q in merged.items()), Decimal("0.00"))
        if total > self.available(account_id):
            return refused("INSUFFICIENT_CREDIT", self.available(account_id))
        order_id = names.get("order_id")
        self._order(account_id, order_id, {p: (q, self.products[p].price) for p, q in merged.items()}, key)
        if key is not None:
            self.keys[key] = (order_id, fingerprint, lines)
        return ("confirmed", total, self.available(account_id))

    def _refusal(self, wholesaler_id: int, merged: dict[int, int]) -> tuple[int, dict, tuple | None]:
        """What an order or a hold of ``merged`` lines is refused for before the limit is looked at, if anything."""
        account_id, account = self.account_of(wholesaler_id)
        if any(self.products[p].wholesaler_id != wholesaler_id or not self.products[p].active for p in merged):
            return account_id, merged, refused("VALIDATION_ERROR")
        if account.blocked:
            return account_id, merged, refused("CREDIT_BLOCKED", self.available(account_id))
        if account.hold and account.overdue(self.now.date()) > account.overdue_min:
            return account_id, merged, refused("CREDIT_OVERDUE", self.available(account_id))
        return account_id, merged, None

    def _order(self, account_id: int, order_id: int, lines: dict[int, tuple[int, Decimal]], key: str | None) -> None:
        """A confirmed order of ``lines`` (product -> quantity and price): its DEBIT and its charge."""
        account = self.accounts[account_id]
        total = sum((price * q for q, price in lines.values()), Decimal("0.00"))
        account.balance += total
        account.ledger.append(("DEBIT", total, account.balance, order_id))
        self.orders[order_id] = ModelOrder(account_id, total, key, lines=lines)
        account.add(ModelItem("CHARGE", order_id, self.due, total, total))

    def _hold(self, wholesaler_id: int, lines: tuple, seconds: int, names: dict) -> tuple:
        if not lines:
            return refused("VALIDATION_ERROR")
        merged: dict[int, int] = {}
        for product_id, quantity in lines:
            merged[product_id] = merged.get(product_id, 0) + quantity
        account_id, merged, refusal = self._refusal(wholesaler_id, merged)
        if refusal:
            return refusal
        total = sum((self.products[p].price * q for p, q in merged.items()), Decimal("0.00"))
        if total > self.available(account_id):
            return refused("INSUFFICIENT_CREDIT", self.available(account_id))
        self.holds[names["hold_id"]] = ModelHold(account_id, total, self.now + timedelta(seconds=seconds),
                                                 {p: (q, self.products[p].price) for p, q in merged.items()})
        return ("held", total, self.available(account_id))

    def _capture(self, hold_id: int, lines: tuple | None, names: dict) -> tuple:
        if hold_id not in self.holds:
            return refused("NOT_FOUND")
        hold = self.holds[hold_id]
        account = self.accounts[hold.account_id]
        if hold.status == "CAPTURED":
            return ("recaptured", hold.order_id)
        if hold.status == "RELEASED":
            return refused("HOLD_RELEASED")
        if not hold.live(self.now):
            return refused("HOLD_EXPIRED")
        if account.blocked:
            return refused("CREDIT_BLOCKED", self.available(hold.account_id))
        wanted = {p: q for p, (q, _) in hold.lines.items()}
        if lines is not None:
            wanted = {}
            for product_id, quantity in lines:
                wanted[product_id] = wanted.get(product_id, 0) + quantity
            if any(p not in hold.lines or q > hold.lines[p][0] for p, q in wanted.items()):
                return refused("VALIDATION_ERROR")
        ordered = {p: (q, hold.lines[p][1]) for p, q in wanted.items()}
        total = sum((price * q for q, price in ordered.values()), Decimal("0.00"))
        if account.balance + total > MAX_AMOUNT:
            return refused("VALIDATION_ERROR")
        hold.status, hold.order_id = "CAPTURED", names.get("order_id")
        self._order(hold.account_id, hold.order_id, ordered, None)
        return ("captured", total, self.available(hold.account_id))

    def _release(self, hold_id: int) -> tuple:
        if hold_id not in self.holds:
            return refused("NOT_FOUND")
        hold = self.holds[hold_id]
        if hold.status == "CAPTURED":
            return refused("HOLD_CAPTURED")
        if hold.status == "ACTIVE" and not hold.live(self.now):
            hold.status = "EXPIRED"  # the release writes the expiry it found
        if hold.status != "ACTIVE":
            return ("not_holding", hold.status)
        hold.status = "RELEASED"
        return ("released", self.available(hold.account_id))

    def _increase(self, account_id: int, amount: Decimal, ends_on: date, names: dict) -> tuple:
        today = self.now.date()
        if not today <= ends_on <= today + timedelta(days=limits.MAX_INCREASE_DAYS):
            return refused("VALIDATION_ERROR")
        if self.effective_limit(account_id) + amount > MAX_AMOUNT:
            return refused("VALIDATION_ERROR")
        ends_at = datetime.combine(ends_on + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        self.increases[names["increase_id"]] = ModelIncrease(account_id, amount, ends_at)
        self.accounts[account_id].recount(self.increases_of(account_id), self.now)
        return ("increased", self.effective_limit(account_id), self.available(account_id))

    def _end_increase(self, increase_id: int) -> tuple:
        if increase_id not in self.increases:
            return refused("NOT_FOUND")
        increase = self.increases[increase_id]
        if not increase.live(self.now):
            return ("not_live", self.effective_limit(increase.account_id))
        increase.ended_at = self.now
        self.accounts[increase.account_id].recount(self.increases_of(increase.account_id), self.now)
        return ("ended", self.effective_limit(increase.account_id), self.available(increase.account_id))

    def _ship(self, order_id: int) -> tuple:
        if order_id not in self.orders:
            return refused("NOT_FOUND")
        order = self.orders[order_id]
        if order.cancelled:
            return refused("ORDER_CANCELLED")
        if order.shipped:
            return ("already_shipped",)
        order.shipped = True
        return ("shipped",)

    def _credit(self, order_id: int, product_id: int, quantity: int) -> tuple:
        if order_id not in self.orders:
            return refused("NOT_FOUND")
        order = self.orders[order_id]
        account = self.accounts[order.account_id]
        if product_id not in order.lines:
            return refused("VALIDATION_ERROR")
        ordered, price = order.lines[product_id]
        amount = price * quantity
        if abs(account.balance - amount) > MAX_AMOUNT:
            return refused("VALIDATION_ERROR")
        if order.cancelled:
            return refused("ORDER_CANCELLED")
        if quantity > ordered - order.credited[product_id]:
            return refused("VALIDATION_ERROR")
        order.credited[product_id] += quantity
        account.balance -= amount
        account.ledger.append(("CREDIT_NOTE", amount, account.balance, order_id))
        account.items.append(ModelItem("CREDIT", None, None, amount, amount))
        charge = account.charge_of(order_id)
        if (first := min(account.items[charge].open, amount)) > 0:  # the order it credits, first
            account.allocate(charge, len(account.items) - 1, first)
        account.settle()
        return ("entry", "CREDIT_NOTE", amount, account.balance)

    def _cancel(self, order_id: int, by_retailer: bool, names: dict) -> tuple:
        if order_id not in self.orders:
            return refused("NOT_FOUND")
        order = self.orders[order_id]
        account = self.accounts[order.account_id]
        if order.cancelled:
            return ("already_cancelled", order.reversal_id, self.available(order.account_id))
        if order.shipped and by_retailer:
            return refused("ORDER_SHIPPED")
        if order.credited:
            return refused("ORDER_CREDITED")
        if account.balance - order.total < -MAX_AMOUNT:
            return refused("VALIDATION_ERROR")
        account.balance -= order.total
        account.ledger.append(("REVERSAL", order.total, account.balance, order_id))
        order.cancelled, order.reversal_id = True, names.get("reversal_id")
        charge = account.charge_of(order_id)
        for (c, k), amount in list(account.paid.items()):
            if c == charge and amount > 0:
                account.allocate(c, k, -amount)
        account.items[charge].open, account.items[charge].cancelled = Decimal("0.00"), True
        account.settle()
        return ("cancelled", self.available(order.account_id))

    def _named(self, account: ModelAccount, amount: Decimal, remittance: tuple) -> list[tuple[int, Decimal]] | None:
        """The (charge index, amount) pairs a payment's remittance pays first, or None when it is refused."""
        chosen, left, seen = [], amount, set()
        for order_id, wanted in remittance:
            charge = account.charge_of(order_id)
            if charge is None or order_id in seen or account.items[charge].cancelled:
                return None
            seen.add(order_id)
            owed = account.items[charge].open
            if wanted is not None and wanted > owed:
                return None
            take = min(owed, max(left, Decimal(0))) if wanted is None else wanted
            left -= take
            if take > 0:
                chosen.append((charge, take))
        return None if left < 0 else chosen

    def snapshot(self) -> dict:
        return {
            "accounts": {i: (a.limit, a.balance, "BLOCKED" if a.blocked else "ACTIVE", self.available(i),
                             held(self.holds_of(i), self.now), "hold" if a.hold else "off", a.grace, a.overdue_min,
                             self.effective_limit(i), a.kept_increase, a.kept_until)
                         for i, a in self.accounts.items()},
            "increases": {i: (c.account_id, c.amount, c.ends_at, c.ended_at) for i, c in self.increases.items()},
            "holds": {i: (h.account_id, h.amount, h.status, h.expires_at, h.order_id) for i, h in self.holds.items()},
            "ledger": {i: a.ledger for i, a in self.accounts.items() if a.ledger},
            "orders": {i: (o.account_id, o.total,
                           "CANCELLED" if o.cancelled else "SHIPPED" if o.shipped else "CONFIRMED", o.key)
                       for i, o in self.orders.items()},
            "open_items": {i: [(item.side, item.order_id, item.due, item.amount, item.open) for item in a.items]
                           for i, a in self.accounts.items() if a.items},
        }


# --- The real thing ------------------------------------------------------------------------------

def perform(op: tuple, retailer_id: int) -> tuple[tuple, dict]:
    """Run ``op`` through the service: its outcome in the model's terms, and the ids it created."""
    kind = op[0]
    try:
        if kind == "place":
            _, wholesaler_id, lines, key = op
            placed = place_order(acting_retailer(retailer_id), wholesaler_id=wholesaler_id, lines=list(lines),
                                 idempotency_key=key)
            if placed.replayed:
                return ("replayed", placed.order_id, placed.total_amount, placed.available_credit), {}
            return (("confirmed", placed.total_amount, placed.available_credit),
                    {"order_id": placed.order_id})
        if kind == "credit":
            entry = accounts.credit_order(SYSTEM, op[1], lines=[(op[2], op[3])], reason="Returned")
            return ("entry", entry.type.value, entry.amount, entry.balance_after), {}
        if kind == "ship":
            shipped = ship_order(SYSTEM, op[1])
            return ("already_shipped",) if shipped.already_shipped else ("shipped",), {}
        if kind == "cancel":
            cancelled = cancel_order(acting_retailer(retailer_id) if op[2] else SYSTEM, op[1])
            if cancelled.already_cancelled:
                return ("already_cancelled", cancelled.reversal_entry_id, cancelled.available_credit), {}
            return ("cancelled", cancelled.available_credit), {"reversal_id": cancelled.reversal_entry_id}
        if kind in ("pay", "adjust"):
            if kind == "pay":
                entry = accounts.record_payment(SYSTEM, op[1], amount=str(op[2]), reference="Bank transfer",
                                                allocations=[(o, None if a is None else str(a)) for o, a in op[3]])
            else:
                entry = accounts.post_adjustment(SYSTEM, op[1], amount=str(op[2]), reason="Correction")
            return ("entry", entry.type.value, entry.amount, entry.balance_after), {}
        if kind == "limit":
            accounts.update_account(SYSTEM, op[1], credit_limit=str(op[2]))
        elif kind == "overdue":
            accounts.update_account(SYSTEM, op[1], overdue_policy=op[2], overdue_grace_days=op[3],
                                    overdue_min_amount=str(op[4]))
        elif kind == "block":
            accounts.block_account(SYSTEM, op[1], reason="Payments overdue")
        elif kind == "unblock":
            accounts.unblock_account(SYSTEM, op[1])
        elif kind == "hold":
            placed = holds.place_hold(acting_retailer(retailer_id), wholesaler_id=op[1], lines=list(op[2]),
                                      expires_in_seconds=op[3])
            return ("held", placed.hold.amount, placed.available_credit), {"hold_id": placed.hold.id}
        elif kind == "capture":
            captured = holds.capture_hold(acting_retailer(retailer_id), op[1],
                                          lines=None if op[2] is None else list(op[2]))
            if captured.repeated:
                return ("recaptured", captured.order.order_id), {}
            return (("captured", captured.order.total_amount, captured.order.available_credit),
                    {"order_id": captured.order.order_id})
        elif kind == "release":
            released = holds.release_hold(SYSTEM, op[1])
            if released.repeated:
                return ("not_holding", released.hold.status.value), {}
            return ("released", released.available_credit), {}
        elif kind == "expire":
            return ("expired", holds.expire_holds()), {}
        elif kind == "increase":
            granted = limits.grant_increase(SYSTEM, op[1], amount=str(op[2]), ends_on=op[3], reason="Season")
            return (("increased", granted.account.effective_limit, granted.account.available_credit),
                    {"increase_id": granted.increase.id})
        elif kind == "end_increase":
            ended = limits.end_increase(SYSTEM, op[1])
            if ended.repeated:
                return ("not_live", ended.account.effective_limit), {}
            return ("ended", ended.account.effective_limit, ended.account.available_credit), {}
        elif kind == "recount":
            return ("recounted", limits.recount_ended_increases()), {}
        elif kind in ("wait", "tick"):
            pass  # the machine moves the clock: the model and the service read it
        return ("ok",), {}
    except Refusal as error:
        return refused(error.code, getattr(error, "available_credit", None)), {}
    finally:
        db.session.rollback()  # a refusal before the lock leaves the session's reads open


def database_snapshot() -> dict:
    """The books as the database has them, in the model's shape."""
    session = db.session
    try:
        found = session.scalars(select(CreditAccount).order_by(CreditAccount.id)
                                .execution_options(populate_existing=True)).all()
        ledger: dict[int, list] = {}
        for account_id, kind, amount, after, order_id in session.execute(text(
                "SELECT credit_account_id, type, amount, balance_after, order_id FROM ledger_entries ORDER BY id")):
            ledger.setdefault(account_id, []).append((kind, amount, after, order_id))
        orders = {row[0]: tuple(row[1:]) for row in session.execute(text(
            "SELECT id, credit_account_id, total_amount, status, idempotency_key FROM orders ORDER BY id"))}
        items: dict[int, list] = {}
        for account_id, *item in session.execute(text(
                "SELECT credit_account_id, side, order_id, due_date, amount, open_amount FROM open_items"
                " ORDER BY ledger_entry_id")):
            items.setdefault(account_id, []).append(tuple(item))
        hold_rows = {row[0]: tuple(row[1:]) for row in session.execute(text(
            "SELECT id, credit_account_id, amount, status, expires_at, order_id FROM credit_holds ORDER BY id"))}
        increases = {row[0]: tuple(row[1:]) for row in session.execute(text(
            "SELECT id, credit_account_id, amount, ends_at, ended_at FROM limit_increases ORDER BY id"))}
        return {"accounts": {a.id: (a.credit_limit, a.balance, a.status.value, a.available_credit, a.held_amount_now,
                                    a.overdue_policy.value, a.overdue_grace_days, a.overdue_min_amount,
                                    a.effective_limit, a.temporary_increase, a.increase_until) for a in found},
                "ledger": ledger, "orders": orders, "open_items": items, "holds": hold_rows, "increases": increases}
    finally:
        session.rollback()


def run_together(ops: list[tuple], retailer_id: int) -> list[tuple[tuple, dict]]:
    """Each op on its own thread, session and connection, released at once; every write slowed down."""
    app = current_app._get_current_object()
    barrier = threading.Barrier(len(ops))
    results: list = [None] * len(ops)

    def slow_writes(conn, cursor, statement, parameters, context, executemany):
        # At the cursor, so it slows the ORM's flushes and the services' own SQL statements alike.
        if WRITE_STATEMENT.match(statement):
            time.sleep(WRITE_DELAY_SECONDS)

    def worker(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results[i] = perform(ops[i], retailer_id)
            except BaseException as error:  # re-raised on the test's thread
                results[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(ops))]
    event.listen(db.engine, "before_cursor_execute", slow_writes)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        event.remove(db.engine, "before_cursor_execute", slow_writes)
    assert not any(t.is_alive() for t in threads), "a concurrent operation hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def reset_tables() -> None:
    """Empty every table and restart the ids, as the ``db`` fixture does before each test."""
    db.session.remove()
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


class CreditMachine(RuleBasedStateMachine):
    """One retailer, two wholesalers, two credit accounts; the service against ``Model``."""

    def __init__(self) -> None:
        super().__init__()
        reset_tables()  # Hypothesis runs many examples inside one test
        SCHEDULES["run"] += 1
        session = db.session
        retailer = Retailer(name="Corner Grocery")
        wholesalers = [Wholesaler(name=name, currency="EUR") for name in CATALOGUES]
        session.add(retailer)
        session.add_all(wholesalers)
        products: list[list[Product]] = []
        for wholesaler, prices in zip(wholesalers, CATALOGUES.values(), strict=True):
            products.append([Product(wholesaler=wholesaler, sku=f"{wholesaler.name}-{i}", name=f"Item {i}",
                                     unit_price=Decimal(price), active=i < 3) for i, price in enumerate(prices)])
            session.add_all(products[-1])
        credit = [CreditAccount(retailer=retailer, wholesaler=w, credit_limit=Decimal(limit), currency="EUR",
                                balance=Decimal("0")) for w, limit in zip(wholesalers, INITIAL_LIMITS, strict=True)]
        session.add_all(credit)
        session.commit()
        self.retailer_id = retailer.id
        self.account_ids = [a.id for a in credit]
        self.wholesaler_ids = [w.id for w in wholesalers]
        self.catalogues = [[p.id for p in catalogue] for catalogue in products]
        self.model = Model(
            retailer_id=retailer.id,
            accounts={a.id: ModelAccount(a.wholesaler_id, a.credit_limit) for a in credit},
            products={p.id: ModelProduct(p.wholesaler_id, p.unit_price, p.active)
                      for catalogue in products for p in catalogue})
        session.remove()

    def teardown(self) -> None:
        db.session.remove()

    # --- turning drawn values into concrete operations ---

    def product_for(self, account: int, slot: int) -> int:
        if slot == FOREIGN:
            return self.catalogues[1 - account][0]
        return self.catalogues[account][slot]

    def resolve(self, drawn: tuple) -> tuple:
        kind = drawn[0]
        if kind == "place":
            _, account, slots, key = drawn
            lines = tuple((self.product_for(account, slot), q) for slot, q in slots)
            return ("place", self.wholesaler_ids[account], lines, key)
        if kind == "retry":  # the same request again: a replay; at the other wholesaler: a reused key
            _, which, elsewhere = drawn
            if not self.model.keys:
                return ("place", self.wholesaler_ids[0], ((self.catalogues[0][0], 1),), "k1")
            key = sorted(self.model.keys)[which % len(self.model.keys)]
            order_id, (wholesaler_id, _), lines = self.model.keys[key]
            if elsewhere:
                wholesaler_id = next(w for w in self.wholesaler_ids if w != wholesaler_id)
            return ("place", wholesaler_id, lines, key)
        if kind == "cancel":
            return ("cancel", self.order_for(drawn[1]), drawn[2])
        if kind == "ship":
            return ("ship", self.order_for(drawn[1]))
        if kind == "credit":  # one of the order's lines, or a product it does not have
            order_id, slot = self.order_for(drawn[1]), drawn[2]
            products = sorted(self.model.orders[order_id].lines) if order_id in self.model.orders else []
            product_id = products[slot] if slot < len(products) else self.catalogues[0][0]
            return ("credit", order_id, product_id, drawn[3])
        if kind == "pay":  # the remittance may name any order: this account's, the other's, an unknown one
            _, account, amount, remittance = drawn
            return ("pay", self.account_ids[account], amount, tuple((self.order_for(p), a) for p, a in remittance))
        if kind == "hold":
            _, account, slots, seconds = drawn
            return ("hold", self.wholesaler_ids[account], tuple((self.product_for(account, s), q) for s, q in slots),
                    seconds)
        if kind == "capture":  # some of the hold's products by slot (past the last: one it does not hold), or all
            hold_id, slots = self.hold_for(drawn[1]), drawn[2]
            if slots is None:
                return ("capture", hold_id, None)
            held_products = sorted(self.model.holds[hold_id].lines) if hold_id in self.model.holds else []
            return ("capture", hold_id, tuple((held_products[s] if s < len(held_products) else
                                               self.catalogues[1][0], q) for s, q in slots))
        if kind == "release":
            return ("release", self.hold_for(drawn[1]))
        if kind == "increase":  # its last day, counted from the model's today
            _, account, amount, days = drawn
            return ("increase", self.account_ids[account], amount, self.model.now.date() + timedelta(days=days))
        if kind == "end_increase":
            ids = sorted(self.model.increases)
            return ("end_increase", UNKNOWN_ORDER_ID if not ids or drawn[1] < 0 else ids[drawn[1] % len(ids)])
        if kind in ("wait", "tick", "expire", "recount"):
            return drawn
        return (kind, self.account_ids[drawn[1]], *drawn[2:])

    def hold_for(self, pick: int | None) -> int:
        """The hold at ``pick`` among all there are (None: the newest; -1 or none at all: one that does not exist)."""
        ids = sorted(self.model.holds)
        if not ids or pick is not None and pick < 0:
            return UNKNOWN_ORDER_ID
        return ids[-1] if pick is None else ids[pick % len(ids)]

    def order_for(self, pick: int) -> int:
        ids = sorted(self.model.orders)
        return UNKNOWN_ORDER_ID if pick < 0 or not ids else ids[pick % len(ids)]

    # --- running one or two operations and checking their outcomes ---

    def run_one(self, drawn: tuple) -> None:
        op = self.resolve(drawn)
        with time_machine.travel(self.model.now, tick=False):
            observed, names = perform(op, self.retailer_id)
        expected = self.model.apply(op, names)
        note(f"{op} -> {observed}")
        FIGURES[(op[0] if drawn[0] != "retry" else "retry", _label(observed))] += 1
        assert observed == expected, f"{op}: the service answered {observed}, the model expected {expected}"

    def run_two(self, first: tuple, second: tuple) -> None:
        ops = [self.resolve(first), self.resolve(second)]
        with time_machine.travel(self.model.now, tick=False):
            results = run_together(ops, self.retailer_id)
            actual = database_snapshot()
        tried = []
        for order in ((0, 1), (1, 0)):
            model = copy.deepcopy(self.model)
            expected = [None, None]
            for i in order:
                expected[i] = model.apply(ops[i], results[i][1])
            outcomes_match = expected == [r[0] for r in results]
            if outcomes_match and model.snapshot() == actual:
                self.model = model
                note(f"together: {ops} -> {[r[0] for r in results]} (as if in order {order})")
                FIGURES[("together", "linearizable")] += 1
                for op, (outcome, _) in zip(ops, results, strict=True):
                    FIGURES[(op[0], _label(outcome))] += 1
                return
            tried.append((order, expected, outcomes_match))
        FIGURES[("together", "NOT LINEARIZABLE")] += 1
        raise AssertionError(
            f"{ops} run together gave {[r[0] for r in results]} and left {actual}; no serial order does that: "
            + "; ".join(f"order {o} would answer {e} (answers match: {m})" for o, e, m in tried))

    @rule(account=ACCOUNT, lines=LINES, key=KEY)
    def order(self, account, lines, key):
        self.run_one(("place", account, lines, key))

    @rule(account=ACCOUNT, lines=BAD_LINES, key=KEY)
    def order_something_that_cannot_be_ordered(self, account, lines, key):
        self.run_one(("place", account, lines, key))

    @rule(which=st.integers(0, 10), elsewhere=st.booleans())
    def retry_a_keyed_order(self, which, elsewhere):
        self.run_one(("retry", which, elsewhere))

    @rule(which=ORDER_PICK, by_retailer=st.booleans())
    def cancel(self, which, by_retailer):
        self.run_one(("cancel", which, by_retailer))

    @rule(which=ORDER_PICK)
    def ship(self, which):
        self.run_one(("ship", which))

    @rule(which=ORDER_PICK, slot=st.integers(0, 3), quantity=st.integers(1, 3))
    def credit(self, which, slot, quantity):
        self.run_one(("credit", which, slot, quantity))

    @rule(account=ACCOUNT, amount=PAYMENT, remittance=REMITTANCE)
    def pay(self, account, amount, remittance):
        self.run_one(("pay", account, amount, remittance))

    @rule(days=DAYS)
    def time_passes(self, days):
        self.run_one(("wait", days))

    @rule(seconds=SECONDS)
    def moments_pass(self, seconds):
        self.run_one(("tick", seconds))

    @rule(account=ACCOUNT, lines=LINES, seconds=HOLD_SECONDS)
    def hold(self, account, lines, seconds):
        self.run_one(("hold", account, lines, seconds))

    @rule(which=HOLD_PICK, lines=CAPTURE_LINES)
    def capture(self, which, lines):
        self.run_one(("capture", which, lines))

    @rule(which=HOLD_PICK)
    def release(self, which):
        self.run_one(("release", which))

    @rule(account=ACCOUNT, lines=LINES, seconds=HOLD_SECONDS, wait=st.sampled_from([0, 1, 3600]),
          then=st.sampled_from(["capture", "release"]), captured=CAPTURE_LINES)
    def hold_then_close_it(self, account, lines, seconds, wait, then, captured):
        """A hold, a moment, then its capture or release (the rules above pick among every hold there is)."""
        self.run_one(("hold", account, lines, seconds))
        if wait:
            self.run_one(("tick", wait))
        self.run_one((then, None, captured) if then == "capture" else (then, None))

    @rule()
    def expiry_job(self):
        self.run_one(("expire",))

    @rule(account=ACCOUNT, amount=INCREASE, days=INCREASE_DAYS)
    def grant_increase(self, account, amount, days):
        self.run_one(("increase", account, amount, days))

    @rule(which=INCREASE_PICK)
    def end_increase(self, which):
        self.run_one(("end_increase", which))

    @rule()
    def recount_job(self):
        self.run_one(("recount",))

    @rule(account=ACCOUNT, amount=ADJUSTMENT)
    def adjust(self, account, amount):
        self.run_one(("adjust", account, amount))

    @rule(account=ACCOUNT, limit=LIMIT)
    def set_limit(self, account, limit):
        self.run_one(("limit", account, limit))

    @rule(account=ACCOUNT, policy=OVERDUE_POLICY, grace=GRACE, minimum=OVERDUE_MIN)
    def set_overdue_hold(self, account, policy, grace, minimum):
        self.run_one(("overdue", account, policy, grace, minimum))

    @rule(account=ACCOUNT)
    def block(self, account):
        self.run_one(("block", account))

    @rule(account=ACCOUNT)
    def unblock(self, account):
        self.run_one(("unblock", account))

    @rule(first=OPERATION, second=OPERATION)
    def two_at_once(self, first, second):
        self.run_two(first, second)

    @invariant()
    def the_books_are_the_models(self):
        with time_machine.travel(self.model.now, tick=False):  # what is held depends on the moment
            actual = database_snapshot()
        expected = self.model.snapshot()
        assert actual == expected, f"database {actual}\n   model {expected}"

    @invariant()
    def the_ledger_checks_out(self):
        assert find_ledger_problems() == []


def _label(outcome: tuple) -> str:
    return outcome[1] if outcome[0] == "refused" else outcome[0]


def machine_settings(examples: int, steps: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                    database=None, print_blob=True,  # no .hypothesis/ folder; a failure prints its blob
                    report_multiple_bugs=False,  # shrink one failure, not every distinct one (minutes each)
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def print_figures(title: str, seconds: float, violations: int) -> None:
    print(f"\n{title}: {SCHEDULES['run']} schedules, {sum(FIGURES.values())} operations in {seconds:.1f} s, "
          f"{violations} violations")
    for kind in sorted({k for k, _ in FIGURES}):
        outcomes = ", ".join(f"{label} {n}" for (k, label), n in sorted(FIGURES.items()) if k == kind)
        print(f"  {kind:<9} {outcomes}")


def run_machine(examples: int, steps: int, title: str) -> None:
    FIGURES.clear()
    SCHEDULES.clear()
    started, violations = time.monotonic(), 0
    try:
        run_state_machine_as_test(CreditMachine, settings=machine_settings(examples, steps))
    except BaseException:
        violations = 1  # Hypothesis stops at the first schedule that breaks a rule, and shows it
        raise
    finally:
        print_figures(title, time.monotonic() - started, violations)
