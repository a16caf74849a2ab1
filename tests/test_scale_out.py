"""Scale-out: two app instances (two gunicorn masters with 2 workers each, on two ports) against one database,
as behind a load balancer, and what makes that safe — no state in the web tier.

- Mixed load (orders, cancels, payments, adjustments, limit changes, blocks and unblocks through /api/v1) split
  round-robin over both instances: the same books as one instance would keep (every confirmed order stored
  with its total, no order nobody was told of, every told payment and adjustment in the ledger once and no
  entry nobody sent, no DEBIT past the limit in force or on a blocked account, final limits and statuses ones
  a client set, find_ledger_problems() empty).
- One idempotency key sent to both instances at once places one order; a replay on either gives it back.
- A browser signed in on one instance is signed in on the other (signed-cookie sessions, one SECRET_KEY).
- Each instance's /metrics counts the requests it served (its own multiprocess directory).
- The sign-in rate limit holds across the instances when they count in one Redis (skipped without Redis,
  failed instead when CREDITLINE_REQUIRE_REDIS is set, as CI does).
The long version: tests/stress/test_http_scale_out_long.py.
"""

import json
import re
import threading
import uuid

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app.models import Role
from tests.support.factory import PASSWORD
from tests.support.http_harness import (
    CONFIGURED_APP,
    Load,
    call,
    check_the_run,
    database_url,
    open_shop,
    recording_debits,
    serving,
)
from tests.support.http_sign_in import attempt_sign_in, merged_cookie, sign_in
from tests.support.redis_server import REDIS_URL, without_redis


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.exceptions.RedisError:
        return False


@pytest.fixture(scope="module")
def instances(app, tmp_path_factory):
    """Two gunicorn masters on one database, counting sign-in attempts in one Redis when there is one.
    Yields (bases, the Redis key prefix or None)."""
    prefix = f"creditline-test-{uuid.uuid4().hex}" if redis_reachable() else None
    env = {"CREDITLINE_TEST_SETTINGS": "{}"}
    if prefix:  # RATELIMIT_KEY_PREFIX has no environment variable: configured_app passes it to create_app
        env |= {"RATELIMIT_STORAGE_URI": REDIS_URL,
                "CREDITLINE_TEST_SETTINGS": json.dumps({"RATELIMIT_KEY_PREFIX": prefix})}
    try:
        with serving(database_url(app), tmp_path_factory.mktemp("scale-out"), count=2, workers=2,
                     app_spec=CONFIGURED_APP, env=env) as servers:
            yield [server.base for server in servers], prefix
    finally:
        if prefix:
            store = redis.Redis.from_url(REDIS_URL)
            for key in store.scan_iter(f"*{prefix}*"):
                store.delete(key)


def scrape(base: str) -> dict:
    body = call(base, "GET", "/metrics").body.decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def served(scraped: dict, endpoint: str) -> float:
    return sum(v for (name, labels), v in scraped.items()
               if name == "creditline_http_requests_total" and dict(labels).get("endpoint") == endpoint)


def test_two_instances_under_mixed_load_keep_the_books_of_one(db, make, instances):
    bases, _ = instances
    shop = open_shop(make, retailers=4, credit_limit="200.00")
    with recording_debits(db):
        before = {base: served(scrape(base), "api.place_order") for base in bases}
        load = Load(shop, bases, threads=8, seconds=5.0).run()
        after = {base: served(scrape(base), "api.place_order") for base in bases}
        figures = check_the_run(db, shop, load, bases)
    print("\n" + figures.line("two instances, one database"))
    assert not figures.violations, "\n".join(figures.violations[:30])
    per_instance = {base: sum(1 for a in load.attempts if a.base == base) for base in bases}
    assert min(per_instance.values()) > 0.4 * len(load.attempts)  # the load was split
    for op in ("order 201", "cancel 200", "payment 201", "adjustment 201", "set_limit 200", "block 200",
               "unblock 200", "order 400 INSUFFICIENT_CREDIT", "order 400 CREDIT_BLOCKED"):
        assert figures.by_outcome[op] > 0, (op, figures.by_outcome)  # every kind of decision was made
    # Each host's /metrics counts exactly the orders it served: a directory of its own, none shared.
    for base in bases:
        orders_sent = sum(1 for a in load.attempts if a.base == base and a.op == "order")
        assert after[base] - before[base] == orders_sent


def test_one_idempotency_key_on_both_instances_at_once_places_one_order(db, make, instances):
    bases, _ = instances
    shop = open_shop(make, retailers=1)
    buyer = shop.buyers[0]
    for round_ in range(5):
        key, replies = f"both-{round_}-{uuid.uuid4().hex}", []
        barrier = threading.Barrier(len(bases) * 2)

        def send(base, key=key, replies=replies, barrier=barrier):
            barrier.wait(timeout=10)
            replies.append(call(base, "POST", "/api/v1/orders", body=shop.order_body(2), token=buyer.token,
                                headers={"Idempotency-Key": key}))

        threads = [threading.Thread(target=send, args=(base,)) for base in bases * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(r.status for r in replies) == [200, 200, 200, 201], [(r.status, r.body) for r in replies]
        assert len({r.body["id"] for r in replies}) == 1
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM orders")) == 5


def test_a_browser_signed_in_on_one_instance_is_signed_in_on_the_other(make, instances):
    bases, _ = instances
    retailer = make.retailer(name="Corner Shop")
    user = make.user(Role.RETAILER, retailer=retailer)
    cookie = sign_in(bases[0], user.email, PASSWORD)
    assert cookie, "no session cookie after signing in"
    page = call(bases[1], "GET", "/retailer/", headers={"Cookie": cookie})
    assert page.status == 200 and b"Your credit lines" in page.body and user.email.encode() in page.body
    assert call(bases[1], "GET", "/retailer/").status == 302  # and without the cookie, nobody is


def test_the_sign_in_limit_holds_across_instances_sharing_redis(make, instances):
    """The default 5 refused passwords per account a minute, spread over both instances (and their four
    workers): the sixth try is refused wherever it lands, even with the right password."""
    bases, prefix = instances
    if prefix is None:
        without_redis(f"no Redis server answering at {REDIS_URL}: the instances count in memory, each its own")
    user = make.user(Role.RETAILER, retailer=make.retailer())
    # A CSRF token and session from instance A serve on B too (one SECRET_KEY): one form for all the tries.
    page = call(bases[0], "GET", "/login")
    cookie = merged_cookie("", page.headers["set-cookie-all"])
    token = re.search(rb'name="csrf_token"[^>]*?value="([^"]+)"', page.body).group(1).decode()
    statuses = [attempt_sign_in(bases[i % 2], user.email, "wrong password", cookie, token).status
                for i in range(5)]
    assert statuses == [422] * 5  # each refused with the form again
    for base in bases:
        limited = attempt_sign_in(base, user.email, PASSWORD, cookie, token)
        assert limited.status == 429 and int(limited.headers["retry-after"]) > 0
        assert b"wait a minute" in limited.body
    # Another account is not affected, on either instance.
    other = make.user(Role.RETAILER, retailer=make.retailer())
    assert sign_in(bases[1], other.email, PASSWORD) is not None
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"*{prefix}*"))
    assert keys  # the counts are in Redis, under this run's prefix
