"""Payments, adjustments, limits and blocking: each under the row lock, each audited where it should be."""

import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app.extensions import db as _db
from app.models import AccountStatus, AuditEvent, CreditAccount, EntryType, LedgerEntry, Role
from app.services import accounts
from app.services.actors import SYSTEM
from app.services.errors import CreditBlocked, IdempotencyKeyReused, InsufficientCredit, ValidationError
from app.services.ledger_check import find_ledger_problems
from app.services.orders import cancel_order, place_order
from tests.support.actors import acting_retailer, acting_user


@pytest.fixture
def setup(make):
    account = make.account(credit_limit="1000.00")
    product = make.product(account.wholesaler, unit_price="100.00")
    admin = make.user(Role.ADMIN)
    ids = dict(account_id=account.id, retailer_id=account.retailer_id,
               wholesaler_id=account.wholesaler_id, product_id=product.id, admin_id=admin.id)

    def order(quantity=1):
        return place_order(acting_retailer(ids["retailer_id"]), wholesaler_id=ids["wholesaler_id"],
                           lines=[(ids["product_id"], quantity)])

    return ids, order


def fresh(account_id):
    _db.session.expire_all()
    return _db.session.get(CreditAccount, account_id)


def audit_actions():
    return [e.action for e in _db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_payment_frees_credit(setup):
    ids, order = setup
    order(quantity=10)
    with pytest.raises(InsufficientCredit):
        order()
    entry = accounts.record_payment(acting_user(ids["admin_id"]), ids["account_id"], amount="250.00",
                                    reference="Bank ref 991")
    assert (entry.type, entry.amount, entry.balance_after, entry.memo) == \
        (EntryType.CREDIT, Decimal("250.00"), Decimal("750.00"), "Bank ref 991")
    assert order(quantity=2).available_credit == Decimal("50.00")
    assert find_ledger_problems() == []


def test_an_overpayment_leaves_credit_in_the_retailers_favour(setup):
    ids, order = setup
    order(quantity=1)
    accounts.record_payment(SYSTEM, ids["account_id"], amount="300.00", reference="Prepaid")
    account = fresh(ids["account_id"])
    assert account.balance == Decimal("-200.00") and account.available_credit == Decimal("1200.00")
    assert find_ledger_problems() == []


def test_payments_and_cancellations_still_work_on_a_blocked_account(setup):
    ids, order = setup
    placed = order(quantity=5)
    accounts.block_account(acting_user(ids["admin_id"]), ids["account_id"], reason="Cheque bounced")
    with pytest.raises(CreditBlocked):
        order()
    accounts.record_payment(SYSTEM, ids["account_id"], amount="100.00", reference="Partial")
    cancel_order(SYSTEM, placed.order_id)
    account = fresh(ids["account_id"])
    assert account.status == AccountStatus.BLOCKED and account.balance == Decimal("-100.00")
    accounts.unblock_account(acting_user(ids["admin_id"]), ids["account_id"])
    assert order().total_amount == Decimal("100.00")
    assert audit_actions() == ["credit_account.block", "credit_account.unblock"]


def test_blocking_records_the_reason_and_the_state_before_and_after(setup):
    ids, _ = setup
    accounts.block_account(acting_user(ids["admin_id"]), ids["account_id"], reason="  Overdue 60 days ")
    event = _db.session.scalars(select(AuditEvent)).one()
    assert event.actor_id == ids["admin_id"] and event.entity_id == ids["account_id"]
    assert event.before["status"] == "ACTIVE"
    assert event.after == event.after | {"status": "BLOCKED", "blocked_reason": "Overdue 60 days"}


def test_blocking_needs_a_reason(setup):
    ids, _ = setup
    with pytest.raises(ValidationError, match="reason"):
        accounts.block_account(SYSTEM, ids["account_id"], reason="   ")
    assert fresh(ids["account_id"]).status == AccountStatus.ACTIVE and audit_actions() == []


def test_a_limit_below_the_balance_stops_new_orders(setup):
    ids, order = setup
    order(quantity=6)
    accounts.update_account(acting_user(ids["admin_id"]), ids["account_id"], credit_limit="500.00")
    account = fresh(ids["account_id"])
    assert account.credit_limit == Decimal("500.00") and account.available_credit == Decimal("-100.00")
    with pytest.raises(InsufficientCredit) as refused:
        order()
    assert refused.value.available_credit == Decimal("-100.00")
    event = _db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.before["credit_limit"], event.after["credit_limit"]) == \
        ("credit_account.set_limit", "1000.00", "500.00")


def test_an_adjustment_is_signed_needs_a_reason_and_is_audited(setup):
    ids, order = setup
    order(quantity=3)
    up = accounts.post_adjustment(acting_user(ids["admin_id"]), ids["account_id"], amount="12.50", reason="Late fee")
    down = accounts.post_adjustment(acting_user(ids["admin_id"]), ids["account_id"], amount="-40.00",
                                    reason="Damaged goods")
    assert (up.balance_after, down.balance_after, down.amount) == \
        (Decimal("312.50"), Decimal("272.50"), Decimal("-40.00"))
    with pytest.raises(ValidationError, match="reason"):
        accounts.post_adjustment(SYSTEM, ids["account_id"], amount="5.00", reason="")
    assert audit_actions() == ["credit_account.adjustment"] * 2
    assert find_ledger_problems() == []


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1,000", "1e3", "NaN", "Infinity", "1.005", "",
                                    "1" * 40, "1000000000000.00", 12.5, None, True])
def test_bad_payment_amounts_are_refused_and_change_nothing(setup, amount):
    ids, _ = setup
    with pytest.raises(ValidationError):
        accounts.record_payment(SYSTEM, ids["account_id"], amount=amount, reference="x")
    assert _db.session.scalar(select(_db.func.count(LedgerEntry.id))) == 0


def test_opening_an_account_twice_is_refused(make):
    retailer, wholesaler = make.retailer(), make.wholesaler()
    account = accounts.open_account(SYSTEM, retailer_id=retailer.id, wholesaler_id=wholesaler.id, credit_limit="750")
    assert (account.credit_limit, account.currency, account.balance) == (Decimal("750.00"), "EUR", Decimal("0"))
    with pytest.raises(ValidationError, match="already has a credit account"):
        accounts.open_account(SYSTEM, retailer_id=retailer.id, wholesaler_id=wholesaler.id, credit_limit="10")
    assert audit_actions() == ["credit_account.open"]


def test_concurrent_payments_and_orders_keep_the_books_straight(setup, in_parallel):
    ids, order = setup

    def act(i):
        if i % 2:
            return accounts.record_payment(SYSTEM, ids["account_id"], amount="100.00", reference=f"P{i}")
        return order()

    results = in_parallel(act, 20)
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, InsufficientCredit)]
    assert find_ledger_problems() == []


def test_verify_ledger_is_clean_then_names_a_tampered_balance(setup, runner):
    ids, order = setup
    order(quantity=2)
    clean = runner.invoke(args=["verify-ledger"])
    assert clean.exit_code == 0 and "no mismatch" in clean.output
    _db.session.execute(text("UPDATE credit_accounts SET balance = balance + 1 WHERE id = :id"),
                        {"id": ids["account_id"]})
    _db.session.commit()
    tampered = runner.invoke(args=["verify-ledger"])
    assert tampered.exit_code == 1
    assert f"account {ids['account_id']}: balance 201.00 but its entries sum to 200.00" in tampered.output


def test_verify_ledger_names_a_broken_chain_and_a_missing_debit(setup, db):
    ids, order = setup
    placed = order()
    db.session.execute(text(
        "INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, memo)"
        " VALUES (:a, 'ADJUSTMENT', 5, 999, 'forged')"), {"a": ids["account_id"]})
    db.session.execute(text(
        "INSERT INTO orders (retailer_id, wholesaler_id, credit_account_id, status, total_amount, currency, due_date)"
        " VALUES (:r, :w, :a, 'CONFIRMED', 50, 'EUR', CURRENT_DATE)"),
        {"r": ids["retailer_id"], "w": ids["wholesaler_id"], "a": ids["account_id"]})
    db.session.commit()
    problems = "\n".join(find_ledger_problems())
    assert "balance_after 999.00 but the entries up to it sum to 105.00" in problems
    assert f"order {placed.order_id + 1}: 0 DEBIT entries" in problems
    assert f"account {ids['account_id']}: balance 100.00 but its entries sum to 105.00" in problems


@pytest.mark.parametrize("memo", ["ref\x00991", "\x07bell", "esc\x1b[31m", "lone \ud800 surrogate", "x" * 501])
def test_free_text_postgresql_cannot_store_or_too_long_is_refused_and_changes_nothing(setup, memo):
    ids, _ = setup
    for write in (lambda: accounts.record_payment(SYSTEM, ids["account_id"], amount="5.00", reference=memo),
                  lambda: accounts.post_adjustment(SYSTEM, ids["account_id"], amount="5.00", reason=memo),
                  lambda: accounts.block_account(SYSTEM, ids["account_id"], reason=memo)):
        with pytest.raises(ValidationError) as refused:
            write()
        assert set(refused.value.field_errors) <= {"reference", "reason"} and refused.value.message
    assert _db.session.scalar(select(_db.func.count()).select_from(LedgerEntry)) == 0
    assert fresh(ids["account_id"]).status == AccountStatus.ACTIVE and audit_actions() == []


@pytest.mark.parametrize("memo", ["Invoice 7781\npaid by transfer", "tab\tseparated", "\U0001f468\u200d\U0001f373 chef",
                                  "\u200fשלום\u200e", "ZAHLUNG für Rechnung 12"])
def test_free_text_with_line_breaks_emoji_and_direction_marks_is_kept(setup, memo):
    ids, _ = setup
    entry = accounts.record_payment(SYSTEM, ids["account_id"], amount="5.00", reference=f"  {memo} ")
    assert entry.memo == memo


# --- Idempotency keys on payments and adjustments -------------------------------------------------

def entries():
    return _db.session.scalar(select(_db.func.count(LedgerEntry.id)))


def test_a_payment_sent_again_with_its_key_returns_the_first_entry_and_writes_nothing(setup):
    ids, order = setup
    order(quantity=5)
    first = accounts.record_payment(SYSTEM, ids["account_id"], amount="250.00", reference="Transfer 7781",
                                    idempotency_key="pay-7781")
    accounts.record_payment(SYSTEM, ids["account_id"], amount="50.00", reference="Cash")  # moves the balance on
    # The same request, written the way another client might: "250" is 250.00, the reference is trimmed.
    again = accounts.record_payment(SYSTEM, ids["account_id"], amount="250", reference=" Transfer 7781 ",
                                    idempotency_key="pay-7781")
    assert not first.replayed and again.replayed
    assert again == dataclasses.replace(first, replayed=True)  # the first entry as it was recorded
    assert (again.balance_after, entries()) == (Decimal("250.00"), 3)
    assert fresh(ids["account_id"]).balance == Decimal("200.00")
    assert find_ledger_problems() == []


def test_an_adjustment_sent_again_with_its_key_is_posted_and_audited_once(setup):
    ids, order = setup
    order(quantity=3)
    first = accounts.post_adjustment(acting_user(ids["admin_id"]), ids["account_id"], amount="-40.00",
                                     reason="Damaged goods", idempotency_key="adj-1")
    again = accounts.post_adjustment(acting_user(ids["admin_id"]), ids["account_id"], amount="-40.00",
                                     reason="Damaged goods", idempotency_key="adj-1")
    assert again.replayed and again.id == first.id
    assert entries() == 2 and fresh(ids["account_id"]).balance == Decimal("260.00")
    assert audit_actions() == ["credit_account.adjustment"]


@pytest.mark.parametrize("write", [
    lambda a: accounts.record_payment(SYSTEM, a, amount="100.01", reference="Transfer 7781", idempotency_key="k"),
    lambda a: accounts.record_payment(SYSTEM, a, amount="100.00", reference="Transfer 7782", idempotency_key="k"),
    lambda a: accounts.post_adjustment(SYSTEM, a, amount="-100.00", reason="Transfer 7781", idempotency_key="k"),
    lambda a: accounts.post_adjustment(SYSTEM, a, amount="100.00", reason="Transfer 7781", idempotency_key="k"),
], ids=["other amount", "other reference", "an adjustment that undoes it", "an adjustment of the same amount"])
def test_a_key_reused_for_another_request_is_refused_and_writes_nothing(setup, write):
    ids, _ = setup
    accounts.record_payment(SYSTEM, ids["account_id"], amount="100.00", reference="Transfer 7781", idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused) as refused:
        write(ids["account_id"])
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED" and "different payment or adjustment" in refused.value.message
    assert entries() == 1 and fresh(ids["account_id"]).balance == Decimal("-100.00")
    assert audit_actions() == []


def test_keys_are_per_account_and_requests_without_one_are_each_recorded(setup, make):
    ids, _ = setup
    other = make.account()
    for account_id in (ids["account_id"], other.id):
        accounts.record_payment(SYSTEM, account_id, amount="10.00", reference="Transfer", idempotency_key="k")
    for key in (None, "", None):  # no key, or an empty one: a new payment every time
        accounts.record_payment(SYSTEM, ids["account_id"], amount="10.00", reference="Transfer", idempotency_key=key)
    assert entries() == 5 and fresh(ids["account_id"]).balance == Decimal("-40.00")


@pytest.mark.parametrize("key", ["x" * 101, "nul\x00key", "tab\tkey", "\x7f", 42])
def test_an_unusable_key_is_refused_and_writes_nothing(setup, key):
    ids, _ = setup
    for write in (lambda: accounts.record_payment(SYSTEM, ids["account_id"], amount="5.00", reference="r",
                                                  idempotency_key=key),
                  lambda: accounts.post_adjustment(SYSTEM, ids["account_id"], amount="5.00", reason="r",
                                                   idempotency_key=key)):
        with pytest.raises(ValidationError) as refused:
            write()
        assert refused.value.field_errors == {"idempotency_key": "invalid"}
    assert entries() == 0


def test_concurrent_twins_of_one_payment_write_one_entry(setup, in_parallel, slow_flushes):
    ids, _ = setup
    results = in_parallel(lambda i: accounts.record_payment(SYSTEM, ids["account_id"], amount="75.00",
                                                            reference="Transfer 9", idempotency_key="twin"), 8)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.id for r in results}) == 1 and sum(not r.replayed for r in results) == 1
    assert entries() == 1 and fresh(ids["account_id"]).balance == Decimal("-75.00")
    assert find_ledger_problems() == []


def test_concurrent_twins_of_one_adjustment_write_one_entry_and_one_audit_event(setup, in_parallel, slow_flushes):
    ids, _ = setup
    results = in_parallel(lambda i: accounts.post_adjustment(SYSTEM, ids["account_id"], amount="12.50",
                                                             reason="Late fee", idempotency_key="twin"), 2)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[0].id == results[1].id and sorted(r.replayed for r in results) == [False, True]
    assert entries() == 1 and audit_actions() == ["credit_account.adjustment"]


def test_the_database_refuses_a_second_entry_with_one_key_on_one_account(setup, db):
    ids, _ = setup
    insert = text("INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, memo, idempotency_key,"
                  " request_fingerprint) VALUES (:a, 'CREDIT', 1, -1, 'x', :key, :key)")
    db.session.execute(insert, {"a": ids["account_id"], "key": "once"})
    db.session.execute(insert, {"a": ids["account_id"], "key": None})
    db.session.execute(insert, {"a": ids["account_id"], "key": None})  # entries without a key are not limited
    db.session.commit()
    with pytest.raises(IntegrityError, match="uq_ledger_entries_account_idempotency_key"):
        db.session.execute(insert, {"a": ids["account_id"], "key": "once"})
    db.session.rollback()
    assert entries() == 3
