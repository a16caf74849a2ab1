"""The bank test's machinery (tests/test_bank.py): client threads of mixed credit operations with a checker
reading the books alongside, and the checks of everything the clients were told once they stop."""

import os
import random
import statistics
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import time_machine
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.services import accounts, clock
from app.services.actors import SYSTEM
from app.services.errors import DatabaseUnavailable, MaxRetriesExceeded, Refusal, SystemFailure
from app.services.ledger_check import find_ledger_problems
from app.services.orders import cancel_order, place_order
from app.services.transactions import CallStats, credit_call_finished
from tests.support.actors import acting_retailer
from tests.support.http_harness import DEBITS_PAST_LIMIT_OR_BLOCKED, start_recording_debits, stop_recording_debits

CLIENTS = 32
INITIAL_LIMIT = Decimal("1000.00")
LIMITS = [Decimal(v) for v in ("0.00", "300.00", "600.00", "1000.00", "2000.00")]
#: Small products for orders that fit; one above every limit in LIMITS, so refused unless
#: overpayments have left that much credit in the retailer's favour.
PRICES = ["1.00", "2.50", "9.99", "25.00"]
BIG_PRICE = "5000.00"
OPENING_CHARGE = Decimal("60.00")
KEY_SLOTS = 64

#: Operation mix: (kind, weight).
MIX = [("order", 40), ("big_order", 6), ("keyed_order", 8), ("cancel", 14), ("payment", 12),
       ("adjustment", 6), ("set_limit", 6), ("block", 2), ("unblock", 6)]
#: The refusals each kind of operation may legitimately get; anything else is a failure.
ALLOWED: dict[str, set[str]] = {kind: set() for kind, _ in MIX}
for _kind in ("order", "keyed_order", "big_order"):
    ALLOWED[_kind] |= {"INSUFFICIENT_CREDIT", "CREDIT_BLOCKED", "CREDIT_OVERDUE"}
#: Outcomes the API would answer with a 5xx: the codes it maps to 500 or 503 (MAX_RETRIES_EXCEEDED,
#: DATABASE_UNAVAILABLE, SYSTEM_ERROR), and any other exception. None may occur: 32 clients each
#: holding one account's row for a few milliseconds are far inside CREDIT_LOCK_DEADLINE_SECONDS.
SERVER_ERRORS = {kind.code for kind in (MaxRetriesExceeded, DatabaseUnavailable, SystemFailure)} | {"UNEXPECTED"}


@dataclass
class ClientLog:
    """What one client thread was told."""

    outcomes: Counter = field(default_factory=Counter)
    #: order id → (account id, total, DEBIT id) for every order placed (not replayed) for this client.
    confirmed: dict[int, tuple[int, Decimal, int]] = field(default_factory=dict)
    #: (retailer id, key) → order ids the client was given for that key (placed or replayed).
    keyed: dict[tuple[int, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    #: order id → reversal entry id, for each cancel that did the cancelling.
    cancelled_first: list[tuple[int, int]] = field(default_factory=list)
    #: order ids the client was told are cancelled (by it or earlier).
    cancelled_seen: set[int] = field(default_factory=set)
    payments: Counter = field(default_factory=Counter)
    adjustments: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)


@dataclass
class Bank:
    """The accounts under test and what the clients share: the orders they may cancel."""

    account_ids: list[int]
    retailer_of: dict[int, int]
    wholesaler_id: int
    product_ids: list[int]
    big_product_id: int
    #: account id → ids of the orders placed on it, for clients to pick one to cancel.
    orders_by_account: dict[int, list[int]] = field(default_factory=dict)
    #: account id → the overdue charge it starts with.
    opening: dict[int, Decimal] = field(default_factory=dict)


def open_bank(make, n_accounts: int) -> Bank:
    """Accounts with the overdue hold, each starting with a charge 60 days old, so orders are refused
    CREDIT_OVERDUE until payments (oldest first) have paid it; on every other account 20.00 may stay overdue."""
    wholesaler = make.wholesaler()
    products = [make.product(wholesaler, unit_price=price) for price in PRICES]
    big = make.product(wholesaler, unit_price=BIG_PRICE)
    created = [make.account(wholesaler=wholesaler, credit_limit=str(INITIAL_LIMIT),
                            overdue_min_amount=Decimal("20.00") if i % 2 else Decimal("0.00"))
               for i in range(n_accounts)]
    with time_machine.travel(clock.now() - timedelta(days=60)):
        for account in created:
            accounts.post_adjustment(SYSTEM, account.id, amount=str(OPENING_CHARGE), reason="Opening balance")
    return Bank(account_ids=[a.id for a in created], retailer_of={a.id: a.retailer_id for a in created},
                wholesaler_id=wholesaler.id, product_ids=[p.id for p in products], big_product_id=big.id,
                orders_by_account={a.id: [] for a in created}, opening={a.id: OPENING_CHARGE for a in created})


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)).scaleb(-2)


def one_operation(kind: str, bank: Bank, account_id: int, rng: random.Random, log: ClientLog) -> str:
    """Run one operation; return the outcome label. Domain refusals propagate as Refusal."""
    retailer_id = bank.retailer_of[account_id]
    if kind in ("order", "big_order", "keyed_order"):
        key = None
        if kind == "order":
            lines = [(rng.choice(bank.product_ids), rng.randint(1, 4)) for _ in range(rng.randint(1, 3))]
        elif kind == "big_order":
            lines = [(bank.big_product_id, 1), (rng.choice(bank.product_ids), 1)]
        else:  # the key decides the lines: every use of a key is the same request, so a replay
            slot = rng.randrange(KEY_SLOTS)
            key, lines = f"cart-{slot}", [(bank.product_ids[slot % len(bank.product_ids)], 1 + slot % 3)]
        placed = place_order(acting_retailer(retailer_id), wholesaler_id=bank.wholesaler_id, lines=lines,
                             idempotency_key=key)
        if key is not None:
            log.keyed[(retailer_id, key)].add(placed.order_id)
        if placed.replayed:
            return "replayed"
        log.confirmed[placed.order_id] = (account_id, placed.total_amount, placed.credit_ledger_entry_id)
        bank.orders_by_account[account_id].append(placed.order_id)
        return "confirmed"
    if kind == "cancel":
        candidates = bank.orders_by_account[account_id]
        if not candidates:
            return "nothing to cancel yet"
        cancelled = cancel_order(SYSTEM, rng.choice(candidates), reason="Client changed their mind")
        log.cancelled_seen.add(cancelled.order_id)
        if cancelled.already_cancelled:
            return "already cancelled"
        log.cancelled_first.append((cancelled.order_id, cancelled.reversal_entry_id))
        return "cancelled"
    if kind == "payment":
        amount = _cents(rng, 1_000, 20_000)
        accounts.record_payment(SYSTEM, account_id, amount=str(amount), reference="Bank transfer")
        log.payments[account_id] += amount
    elif kind == "adjustment":
        amount = _cents(rng, -5_000, 5_000) or Decimal("0.01")
        accounts.post_adjustment(SYSTEM, account_id, amount=str(amount), reason="Correction")
        log.adjustments[account_id] += amount
    elif kind == "set_limit":
        accounts.update_account(SYSTEM, account_id, credit_limit=str(rng.choice(LIMITS)))
    elif kind == "block":
        accounts.block_account(SYSTEM, account_id, reason="Payments overdue")
    elif kind == "unblock":
        accounts.unblock_account(SYSTEM, account_id)
    return "ok"


@dataclass
class BankRun:
    n_accounts: int
    clients: int
    seconds: float
    logs: list[ClientLog]
    violations: dict[str, float]
    checker_rounds: int
    #: The CallStats of every locked call the clients made.
    calls: list[CallStats]
    hung: int
    elapsed: float
    #: CREDIT_LOCK_DEADLINE_SECONDS the clients ran with.
    lock_deadline: float

    @property
    def outcomes(self) -> Counter:
        return sum((log.outcomes for log in self.logs), Counter())

    @property
    def server_errors(self) -> Counter:
        """Outcomes that would have been a 5xx over HTTP, by code."""
        counts: Counter = Counter()
        for (_, label), n in self.outcomes.items():
            if label in SERVER_ERRORS:
                counts[label] += n
        return counts

    @property
    def unexpected(self) -> list[str]:
        return [u for log in self.logs for u in log.unexpected]


class Checker(threading.Thread):
    """Reads the books over and over while the clients write, recording every violation once."""

    def __init__(self, app, account_ids: list[int]):
        super().__init__(name="checker", daemon=True)
        self.app, self.account_ids = app, account_ids
        self.stop = threading.Event()
        self.started_at = time.monotonic()
        self.violations: dict[str, float] = {}
        self.rounds = 0

    def record(self, violation: str) -> None:
        self.violations.setdefault(violation, round(time.monotonic() - self.started_at, 2))

    def run(self) -> None:
        with self.app.app_context():
            while not self.stop.is_set():
                try:
                    self.check_once()
                except Exception:  # noqa: BLE001 - a checker that dies silently proves nothing
                    self.record(f"checker failed: {traceback.format_exc()}")
                    return
                self.rounds += 1
                self.stop.wait(0.05)

    def check_once(self) -> None:
        for problem in find_ledger_problems():
            self.record(problem)
        for problem in debits_past_limit_or_blocked(self.account_ids):
            self.record(problem)


def debits_past_limit_or_blocked(account_ids: list[int]) -> list[str]:
    """Every DEBIT whose account's true exposure right after it is above the limit it was written under,
    or that was written while its account was blocked or on overdue hold (tests/support/http_harness.py records
    all three)."""
    with db.engine.connect() as connection:
        rows = connection.execute(DEBITS_PAST_LIMIT_OR_BLOCKED, {"a": account_ids}).all()
    return [f"DEBIT {entry_id} on account {account_id}: no state recorded when it was written" if limit is None
            else f"DEBIT {entry_id} (order {order_id}) on account {account_id} took the exposure to {exposure}, "
                 f"with the limit {limit} in force and the account {status}"
                 f"{' on overdue hold' if held else ''} when it was written"
            for entry_id, account_id, order_id, exposure, limit, status, held in rows]


def clients_app(app, connections: int):
    """The same app on the same database, with a connection for every client thread.

    The clients run on this copy of the app, the checker and the CLI on the test's own: the
    clients contend for credit rows, not for the app's pool (DB_POOL_SIZE + DB_MAX_OVERFLOW = 20
    by default, which 32 threads of one process would exhaust, turning waits for a connection
    into MAX_RETRIES_EXCEEDED and starving the checker).
    """
    options = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_size": connections, "max_overflow": 0}
    return create_app({**app.config, "SQLALCHEMY_ENGINE_OPTIONS": options})


def run_bank(app, bank: Bank, seconds: float, clients: int = CLIENTS, seed: int | None = None) -> BankRun:
    """Run ``clients`` threads of the mix for ``seconds`` with the checker reading alongside."""
    seed = int(os.environ.get("BANK_SEED", random.randrange(10**6))) if seed is None else seed
    client_app = clients_app(app, clients)
    calls: list = []

    def remember_call(sender, stats):
        calls.append(stats)

    kinds, weights = zip(*MIX, strict=True)
    logs = [ClientLog() for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        rng, log = random.Random(seed * 1000 + i), logs[i]
        with client_app.app_context():
            start.wait(timeout=30)
            first = True
            while time.monotonic() < stop_at:
                # Each client opens with an order: the hold is met before any payment can lift it.
                kind, first = "order" if first else rng.choices(kinds, weights)[0], False
                account_id = rng.choice(bank.account_ids)
                try:
                    log.outcomes[(kind, one_operation(kind, bank, account_id, rng, log))] += 1
                except Refusal as refusal:
                    log.outcomes[(kind, refusal.code)] += 1
                    if refusal.code not in ALLOWED[kind]:
                        log.unexpected.append(f"{kind} on account {account_id}: {refusal.code} {refusal.message}")
                except Exception:  # noqa: BLE001 - every one is a failure, reported with its traceback
                    log.outcomes[(kind, "UNEXPECTED")] += 1
                    log.unexpected.append(f"{kind} on account {account_id}: {traceback.format_exc()}")
                finally:
                    db.session.rollback()
            db.session.remove()

    start_recording_debits(db)
    credit_call_finished.connect(remember_call, weak=False)
    checker = Checker(app, bank.account_ids)
    threads = [threading.Thread(target=client, args=(i,), name=f"client-{i}", daemon=True) for i in range(clients)]
    try:
        for thread in threads:
            thread.start()
        stop_at = time.monotonic() + seconds  # read by the clients only after the barrier below
        checker.start()
        start.wait(timeout=30)
        started = time.monotonic()
        for thread in threads:
            thread.join(timeout=max(0.0, stop_at - time.monotonic()) + 30)
        elapsed = time.monotonic() - started
        checker.stop.set()
        checker.join(timeout=30)
        with app.app_context():  # a last look, now that nothing writes
            checker.check_once()
    finally:
        credit_call_finished.disconnect(remember_call)
        with client_app.app_context():
            db.engine.dispose()
        stop_recording_debits(db)
    print(f"\nbank test: seed {seed} (BANK_SEED={seed} repeats the clients' choices)")
    return BankRun(n_accounts=len(bank.account_ids), clients=clients, seconds=seconds, logs=logs,
                   violations=checker.violations, checker_rounds=checker.rounds, calls=calls,
                   hung=sum(t.is_alive() for t in threads), elapsed=elapsed,
                   lock_deadline=client_app.config["CREDIT_LOCK_DEADLINE_SECONDS"])


def _spread(seconds: list[float]) -> str:
    q = statistics.quantiles(seconds, n=100) if len(seconds) > 1 else seconds * 99
    return f"p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms, max {seconds[-1] * 1000:.0f} ms"


def print_figures(run: BankRun) -> None:
    outcomes = run.outcomes
    total = sum(outcomes.values())
    print(f"bank test, {run.n_accounts} account(s), {run.clients} clients, {run.elapsed:.1f} s: {total} operations "
          f"({total / run.elapsed:.0f}/s), checker rounds {run.checker_rounds}, violations {len(run.violations)}, "
          f"unexpected errors {len(run.unexpected)}")
    server_errors = run.server_errors
    print(f"  would be 5xx over HTTP: {sum(server_errors.values())}"
          + "".join(f", {code} {n}" for code, n in sorted(server_errors.items())))
    for kind, _ in MIX:
        row = ", ".join(f"{label} {n}" for (k, label), n in sorted(outcomes.items()) if k == kind)
        print(f"  {kind:<14} {sum(n for (k, _), n in outcomes.items() if k == kind):>6}: {row}")
    waits = sorted(c.lock_wait_seconds for c in run.calls)
    if waits:
        queued = sum(1 for c in run.calls if c.attempts > 1)
        near = sum(1 for w in waits if w > run.lock_deadline / 2)
        print(f"  lock: {len(waits)} locked calls, {queued} found the row busy and queued; wait {_spread(waits)}; "
              f"{near} waited over half the deadline of {run.lock_deadline * 1000:.0f} ms")
        # What a call spends once it has the row (or has given up on it): how long the next one waits.
        held = sorted(c.duration_seconds - c.lock_wait_seconds for c in run.calls)
        print(f"  after the lock wait (work and commit): {_spread(held)}")
    for violation, at in list(run.violations.items())[:20]:
        print(f"  VIOLATION at {at} s: {violation}")
    for problem in run.unexpected[:5]:
        print(f"  UNEXPECTED: {problem}")


def check_the_books(run: BankRun, bank: Bank, runner) -> None:
    """Everything that must hold once the clients have stopped; asserts with the figures printed first."""
    print_figures(run)
    assert run.hung == 0, f"{run.hung} client threads still running: an operation hung"
    assert run.violations == {}, "\n".join(list(run.violations)[:20])
    server_errors = run.server_errors
    assert sum(server_errors.values()) == 0, \
        f"{dict(server_errors)} would have been 5xx over HTTP; first: " + "\n".join(run.unexpected[:5])
    assert run.unexpected == [], "\n".join(run.unexpected[:5])
    assert find_ledger_problems() == []

    told_confirmed = {o: v for log in run.logs for o, v in log.confirmed.items()}
    cancelled_first = [c for log in run.logs for c in log.cancelled_first]
    cancelled_seen = set().union(*(log.cancelled_seen for log in run.logs))
    orders = {row.id: row for row in db.session.execute(text(
        """SELECT o.id, o.credit_account_id, o.total_amount, o.status, o.credit_ledger_entry_id,
                  COUNT(e.id) FILTER (WHERE e.type = 'DEBIT') AS debits,
                  COUNT(e.id) FILTER (WHERE e.type = 'REVERSAL') AS reversals,
                  MAX(e.id) FILTER (WHERE e.type = 'REVERSAL') AS reversal_id
           FROM orders o LEFT JOIN ledger_entries e ON e.order_id = o.id GROUP BY o.id"""))}
    assert set(orders) == set(told_confirmed), "orders nobody was told about, or told about but missing"
    for order_id, (account_id, total, debit_id) in told_confirmed.items():
        order = orders[order_id]
        assert (order.credit_account_id, order.total_amount, order.credit_ledger_entry_id) == \
            (account_id, total, debit_id), order
        assert order.debits == 1, order
        assert order.reversals == (1 if order.status == "CANCELLED" else 0), order
    assert sorted(cancelled_first) == sorted((o, orders[o].reversal_id) for o in orders
                                             if orders[o].status == "CANCELLED"), \
        "each cancelled order must have been cancelled by exactly one call, told its REVERSAL"
    assert all(orders[o].status == "CANCELLED" for o in cancelled_seen)

    keyed: dict[tuple[int, str], set[int]] = defaultdict(set)
    for log in run.logs:
        for k, ids in log.keyed.items():
            keyed[k] |= ids
    assert all(len(ids) == 1 for ids in keyed.values()), "one idempotency key gave several orders"
    keyed_in_db = db.session.execute(text(
        "SELECT retailer_id, idempotency_key, COUNT(*) FROM orders WHERE idempotency_key IS NOT NULL"
        " GROUP BY retailer_id, idempotency_key")).all()
    assert all(n == 1 for _, _, n in keyed_in_db) and {(r, k) for r, k, _ in keyed_in_db} == set(keyed)

    told = Counter()  # what each account's balance should be, from what the clients were told
    for account_id, total, _ in told_confirmed.values():
        told[account_id] += total
    for order_id, _ in cancelled_first:
        told[orders[order_id].credit_account_id] -= orders[order_id].total_amount
    told.update(bank.opening)
    for log in run.logs:
        told.subtract(log.payments)
        told.update(log.adjustments)
    balances = dict(db.session.execute(text("SELECT id, balance FROM credit_accounts")).all())
    assert balances == {a: told[a] for a in bank.account_ids}, "a balance is not what the clients were told"
    db.session.rollback()

    outcomes = run.outcomes
    assert outcomes[("order", "confirmed")] > 0 and outcomes[("big_order", "INSUFFICIENT_CREDIT")] > 0
    assert outcomes[("order", "CREDIT_OVERDUE")] > 0, "no order met an overdue hold: the hold was not tried"
    assert cancelled_first and any(log.payments for log in run.logs), "the mix did not run: nothing was proven"

    verified = runner.invoke(args=["verify-ledger"])
    assert verified.exit_code == 0 and "no mismatch" in verified.output, verified.output
