"""Admin setup, products, credit accounts and the ledger through the API."""

import pytest
from sqlalchemy import event, select, text

from app.api.openapi import DOCUMENT
from app.extensions import db as _db
from app.models import AuditEvent, LedgerEntry, User
from app.services import reports
from tests.support.api_client import ApiClient, World
from tests.support.ledger import crowd_ledger


@pytest.fixture
def world(app, make):
    return World(app, make)


# --- Admin ----------------------------------------------------------------------------------------

def test_an_admin_sets_up_a_trading_relationship_from_nothing(world):
    admin = world.admin
    wholesaler = admin.post("/wholesalers", {"name": "Baltic Fish"})
    retailer = admin.post("/retailers", {"name": "Quay Kiosk"})
    assert (wholesaler.status_code, retailer.status_code) == (201, 201)
    assert wholesaler.json == {"id": wholesaler.json["id"], "name": "Baltic Fish", "currency": "EUR",
                               "time_zone": "UTC", "default_payment_terms_days": 30}

    user = admin.post("/users", {"email": "Buyer@Quay.example", "password": "long enough password",
                                 "role": "retailer", "organisation_id": retailer.json["id"]})
    assert user.status_code == 201
    assert user.json == {"id": user.json["id"], "email": "buyer@quay.example", "role": "retailer"}
    another_admin = admin.post("/users", {"email": "ops@example.com", "password": "long enough password",
                                          "role": "admin"})
    assert another_admin.status_code == 201

    account = admin.post("/credit-accounts", {"retailer_id": retailer.json["id"],
                                              "wholesaler_id": wholesaler.json["id"], "credit_limit": "2500.50"})
    assert account.status_code == 201
    assert account.json == {"id": account.json["id"], "retailer_id": retailer.json["id"],
                            "wholesaler_id": wholesaler.json["id"], "credit_limit": "2500.50", "balance": "0.00",
                            "available_credit": "2500.50", "currency": "EUR", "status": "ACTIVE",
                            "payment_terms_days": 30, "unapplied_credit": "0.00", "overdue_policy": "hold",
                            "overdue_grace_days": 0, "overdue_min_amount": "0.00", "overdue_amount": "0.00",
                            "on_overdue_hold": False, "held_amount": "0.00",
                            "temporary_increase": "0.00", "effective_limit": "2500.50"}
    actions = _db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == world.admin.user.id))
    assert set(actions) >= {"wholesaler.create", "retailer.create", "user.create", "credit_account.open"}


def test_admin_refusals_are_validation_errors_by_field(world):
    admin = world.admin
    taken = admin.post("/retailers", {"name": world.r1.name})
    assert taken.status_code == 400 and taken.json["field_errors"] == {"name": "taken"}
    short = admin.post("/users", {"email": "a@b.example", "password": "short", "role": "admin"})
    assert short.json["field_errors"] == {"password": "length"}
    for password, reason in [(" " * 12, "only whitespace"), ("a" * 12, "one character repeated"),
                             ("Password1234", "too common"), ("QWERTYUIOP123", "too common")]:
        weak = admin.post("/users", {"email": "a@b.example", "password": password, "role": "admin"})
        assert weak.status_code == 400 and weak.json["field_errors"] == {"password": reason}, password
        assert "choose another, such as a few unrelated words" in weak.json["message"]
    wrong_org = admin.post("/users", {"email": "a@b.example", "password": "long enough password",
                                      "role": "wholesaler", "organisation_id": 424242})
    assert wrong_org.status_code == 400 and "organisation_id" in wrong_org.json["field_errors"]
    twice = admin.post("/credit-accounts", {"retailer_id": world.r1.id, "wholesaler_id": world.w1_id,
                                            "credit_limit": "10.00"})
    assert twice.status_code == 400 and twice.json["field_errors"] == {"retailer_id": "account exists"}
    assert _db.session.scalar(select(_db.func.count(User.id)).where(User.email == "a@b.example")) == 0


def test_an_admin_blocks_and_unblocks_an_account(world):
    url = f"/credit-accounts/{world.account_id}"
    blocked = world.admin.post(url + "/block", {"reason": "60 days overdue"})
    assert blocked.status_code == 200 and blocked.json["status"] == "BLOCKED"
    assert world.retailer.post("/orders", world.order_body()).json["error"] == "CREDIT_BLOCKED"
    unblocked = world.admin.post(url + "/unblock")
    assert unblocked.status_code == 200 and unblocked.json["status"] == "ACTIVE"
    assert world.retailer.post("/orders", world.order_body()).status_code == 201
    assert world.admin.post("/credit-accounts/999999/block", {"reason": "x"}).status_code == 404
    assert world.admin.post(url + "/block", {"reason": "  "}).json["field_errors"] == {"reason": "required"}


def test_only_admins_administer(world):
    for client in (world.retailer, world.wholesaler):
        for path, body in [("/wholesalers", {"name": "X"}), ("/retailers", {"name": "X"}),
                           (f"/credit-accounts/{world.account_id}/block", {"reason": "x"})]:
            response = client.post(path, body)
            assert response.status_code == 403 and response.json["error"] == "FORBIDDEN"


# --- Products -------------------------------------------------------------------------------------

def test_a_wholesaler_adds_products_and_each_role_sees_its_own(world):
    added = world.wholesaler.post("/products", {"sku": "TEA-20", "name": "Green tea, 20 bags",
                                                "unit_price": "3.45"})
    assert added.status_code == 201
    assert added.json == {"id": added.json["id"], "wholesaler_id": world.w1_id, "sku": "TEA-20",
                          "name": "Green tea, 20 bags", "unit_price": "3.45", "active": True}
    again = world.wholesaler.post("/products", {"sku": "TEA-20", "name": "Again", "unit_price": "1.00"})
    assert again.status_code == 400 and again.json["field_errors"] == {"sku": "taken"}

    def skus(client, query=""):
        return {p["sku"] for p in client.get("/products" + query).json["products"]}

    assert skus(world.wholesaler) == {world.product.sku, "TEA-20"}
    assert skus(world.retailer) == {world.product.sku, "TEA-20"}  # r1 has credit with w1 only
    assert skus(world.other_retailer) == {world.other_product.sku}
    assert skus(world.admin, f"?wholesaler_id={world.w2_id}") == {world.other_product.sku}
    assert skus(world.retailer, f"?wholesaler_id={world.w2_id}") == set()
    for client in (world.retailer, world.admin):
        assert client.post("/products", {"sku": "X", "name": "X", "unit_price": "1.00"}).status_code == 403


# --- Credit accounts ------------------------------------------------------------------------------

def test_accounts_are_scoped_to_what_each_user_may_see(world):
    def ids(client):
        return [a["id"] for a in client.get("/credit-accounts").json["credit_accounts"]]

    assert ids(world.retailer) == [world.account_id]
    assert ids(world.wholesaler) == [world.account_id]
    assert ids(world.other_wholesaler) == [world.other_account_id]
    assert ids(world.admin) == [world.account_id, world.other_account_id]
    assert world.retailer.get(f"/credit-accounts/{world.other_account_id}").status_code == 404
    assert world.wholesaler.get(f"/credit-accounts/{world.other_account_id}").status_code == 404
    assert world.admin.get(f"/credit-accounts/{world.other_account_id}").status_code == 200


def test_a_wholesaler_changes_the_limit_records_payments_and_adjusts(world):
    url = f"/credit-accounts/{world.account_id}"
    assert world.retailer.post("/orders", world.order_body(quantity=50)).status_code == 201  # owes 500.00

    limit = world.wholesaler.patch(url, {"credit_limit": "400.00"})
    assert limit.status_code == 200
    assert (limit.json["credit_limit"], limit.json["available_credit"]) == ("400.00", "-100.00")

    payment = world.wholesaler.post(url + "/payments", {"amount": "120.50", "reference": "Bank transfer 7781"})
    assert payment.status_code == 201
    assert payment.json == {"id": payment.json["id"], "type": "CREDIT", "amount": "120.50",
                            "balance_after": "379.50", "order_id": None, "reverses_entry_id": None,
                            "memo": "Bank transfer 7781", "created_at": payment.json["created_at"],
                            "allocations": [{"order_id": 1, "charge_entry_id": 1, "amount": "120.50"}]}
    adjustment = world.admin.post(url + "/adjustments", {"amount": "-9.50", "reason": "Damaged goods credit"})
    assert adjustment.status_code == 201
    assert (adjustment.json["type"], adjustment.json["amount"], adjustment.json["balance_after"]) == \
        ("ADJUSTMENT", "-9.50", "370.00")
    assert world.retailer.get(url).json["available_credit"] == "30.00"


def test_managing_an_account_needs_its_wholesaler_or_an_admin(world):
    url = f"/credit-accounts/{world.account_id}"
    assert world.retailer.patch(url, {"credit_limit": "1.00"}).status_code == 403
    assert world.retailer.post(url + "/payments", {"amount": "1.00", "reference": "x"}).status_code == 403
    for call in (world.other_wholesaler.patch(url, {"credit_limit": "1.00"}),
                 world.other_wholesaler.post(url + "/payments", {"amount": "1.00", "reference": "x"}),
                 world.other_wholesaler.post(url + "/adjustments", {"amount": "1.00", "reason": "x"})):
        assert call.status_code == 404 and call.json["error"] == "NOT_FOUND"
    assert world.wholesaler.get(url).json["credit_limit"] == "1000.00"


def test_amount_rules_come_back_by_field(world):
    url = f"/credit-accounts/{world.account_id}"
    negative = world.wholesaler.post(url + "/payments", {"amount": "-5.00", "reference": "x"})
    assert negative.status_code == 400 and "amount" in negative.json["field_errors"]
    zero = world.wholesaler.post(url + "/adjustments", {"amount": "0.00", "reason": "x"})
    assert zero.status_code == 400 and "amount" in zero.json["field_errors"]
    cents = world.wholesaler.patch(url, {"credit_limit": "10.005"})
    assert cents.status_code == 400 and "credit_limit" in cents.json["field_errors"]


# --- The ledger -----------------------------------------------------------------------------------

def test_the_ledger_pages_newest_first_with_a_cursor(world):
    url = f"/credit-accounts/{world.account_id}"
    for i in range(1, 6):
        world.wholesaler.post(url + "/payments", {"amount": f"{i}.00", "reference": f"payment {i}"})
    first = world.retailer.get(url + "/ledger?limit=2").json
    assert [e["memo"] for e in first["entries"]] == ["payment 5", "payment 4"]
    second = world.retailer.get(url + f"/ledger?limit=2&after={first['next_cursor']}").json
    assert [e["memo"] for e in second["entries"]] == ["payment 3", "payment 2"]
    last = world.retailer.get(url + f"/ledger?limit=2&after={second['next_cursor']}").json
    assert [e["memo"] for e in last["entries"]] == ["payment 1"] and last["next_cursor"] is None
    assert len(world.retailer.get(url + "/ledger").json["entries"]) == 5  # default page size 50
    assert world.other_retailer.get(url + "/ledger").status_code == 404


def test_ledger_page_bounds_are_validated(world):
    url = f"/credit-accounts/{world.account_id}/ledger"
    for query, field in [("?limit=0", "limit"), ("?limit=201", "limit"), ("?limit=ten", "limit"),
                         ("?after=-1", "after"), ("?limit=1&limit=2", "limit"), ("?offset=5", "offset")]:
        response = world.retailer.get(url + query)
        assert response.status_code == 400, query
        assert response.json["error"] == "VALIDATION_ERROR" and field in response.json["field_errors"], query


def test_the_ledger_page_is_a_keyset_walk_of_its_index(world, make):
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = _db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        world.retailer.get(f"/credit-accounts/{world.account_id}/ledger?limit=5&after=1000")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    page_sql = next(s for s in statements if "FROM ledger_entries" in s)
    assert "OFFSET" not in page_sql.upper() and "ORDER BY ledger_entries.id DESC" in page_sql

    # With another account's long ledger beside it, the planner walks (credit_account_id, id DESC).
    crowd_ledger(_db, make.account().id)
    query = reports.ledger_query(world.account_id).where(LedgerEntry.id < 1000).order_by(LedgerEntry.id.desc()).limit(6)
    compiled = query.compile(_db.engine, compile_kwargs={"literal_binds": True})
    plan = "\n".join(_db.session.scalars(text(f"EXPLAIN {compiled}")))
    _db.session.rollback()
    assert "ix_ledger_entries_account_id" in plan, plan
    assert "Sort" not in plan, plan  # the index already gives the order


def test_no_free_database_connection_is_a_503_not_a_500(world, monkeypatch, client):
    import sqlalchemy.exc

    from app.services import tenancy

    def exhausted(user):
        raise sqlalchemy.exc.TimeoutError("QueuePool limit reached, connection timed out")

    monkeypatch.setattr(tenancy, "accounts_visible_to", exhausted)
    response = world.retailer.get("/credit-accounts")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json["error"] == "DATABASE_UNAVAILABLE"
    page = client.get("/healthz")  # the pages and probes are unaffected by the patched query
    assert page.status_code == 200


# --- Idempotent payments and adjustments ------------------------------------------------------------

ENTRY_WRITES = [("/payments", {"amount": "120.50", "reference": "Bank transfer 7781"}),
                ("/adjustments", {"amount": "-9.50", "reason": "Damaged goods credit"})]


def books(world) -> tuple:
    """What a retried write must leave as it was: the ledger, the balance, the audit log."""
    _db.session.expire_all()
    entries = world.wholesaler.get(f"/credit-accounts/{world.account_id}/ledger").json["entries"]
    balance = world.wholesaler.get(f"/credit-accounts/{world.account_id}").json["balance"]
    return entries, balance, _db.session.scalar(select(_db.func.count(AuditEvent.id)))


@pytest.mark.parametrize(("path", "body"), ENTRY_WRITES, ids=["payment", "adjustment"])
def test_an_entry_sent_again_with_its_idempotency_key_is_recorded_once(world, path, body):
    url = f"/credit-accounts/{world.account_id}{path}"
    first = world.wholesaler.post(url, body, headers={"Idempotency-Key": "tx-7781"})
    assert first.status_code == 201
    after_first = books(world)
    again = world.wholesaler.post(url, body, headers={"Idempotency-Key": "tx-7781"})
    assert again.status_code == 200 and again.json == first.json  # the first entry, as orders replay
    assert books(world) == after_first and len(after_first[0]) == 1
    by_admin = world.admin.post(url, body, headers={"Idempotency-Key": "tx-7781"})  # the key is the account's
    assert by_admin.status_code == 200 and by_admin.json["id"] == first.json["id"]
    assert world.wholesaler.post(url, body).status_code == 201  # without a key, each request is a new entry


@pytest.mark.parametrize(("path", "body"), ENTRY_WRITES, ids=["payment", "adjustment"])
def test_a_reused_idempotency_key_with_another_body_is_a_conflict_and_writes_nothing(world, path, body):
    url = f"/credit-accounts/{world.account_id}{path}"
    assert world.wholesaler.post(url, body, headers={"Idempotency-Key": "tx-1"}).status_code == 201
    before = books(world)
    other = world.wholesaler.post(url, body | {"amount": "1.00"}, headers={"Idempotency-Key": "tx-1"})
    assert other.status_code == 409 and other.json["error"] == "IDEMPOTENCY_KEY_REUSED"
    other_path = "/adjustments" if path == "/payments" else "/payments"
    other_operation = world.wholesaler.post(f"/credit-accounts/{world.account_id}{other_path}",
                                            dict(ENTRY_WRITES)[other_path], headers={"Idempotency-Key": "tx-1"})
    assert other_operation.status_code == 409
    assert books(world) == before


def test_an_unusable_idempotency_key_on_a_payment_is_a_validation_error(world):
    url = f"/credit-accounts/{world.account_id}/payments"
    refused = world.wholesaler.post(url, dict(ENTRY_WRITES)["/payments"], headers={"Idempotency-Key": "x" * 101})
    assert refused.status_code == 400 and refused.json["field_errors"] == {"idempotency_key": "invalid"}
    assert books(world)[0] == []


def test_concurrent_retries_of_one_payment_record_one_entry(app, world, in_parallel):
    token, url = world.wholesaler.token, f"/credit-accounts/{world.account_id}/payments"

    def pay(_):
        response = ApiClient(app, token=token).post(url, {"amount": "25.00", "reference": "Transfer 12"},
                                                    headers={"Idempotency-Key": "retry-storm"})
        return response.status_code, response.json

    results = in_parallel(pay, 6)
    assert sorted(status for status, _ in results) == [200] * 5 + [201], results
    assert len({body["id"] for _, body in results}) == 1
    entries, balance, _ = books(world)
    assert len(entries) == 1 and balance == "-25.00"


def test_the_idempotency_key_of_payments_and_adjustments_is_documented():
    for path in ("/credit-accounts/{account_id}/payments", "/credit-accounts/{account_id}/adjustments"):
        operation = DOCUMENT["paths"][path]["post"]
        assert "Idempotency-Key" in {p["name"] for p in operation["parameters"] if p["in"] == "header"}, path
        assert {"200", "201", "409"} <= set(operation["responses"]), path
