"""Scale-out, long (make stress): two gunicorn masters of 2 workers on one database under STRESS_HTTP_SECONDS
(60) of mixed API load from 16 threads (orders, cancels, payments, adjustments, limits, blocks), and the control
for the shared sign-in limit: with the default in-memory counts, two instances let through more refused
passwords than the limit — which is why RATELIMIT_STORAGE_URI must point every instance at one Redis.
"""

import os
import re

import pytest

from app.models import Role
from tests.support.factory import PASSWORD
from tests.support.http_harness import (
    Load,
    assert_mixed,
    call,
    check_the_run,
    database_url,
    open_shop,
    recording_debits,
    serving,
)
from tests.support.http_sign_in import attempt_sign_in, merged_cookie

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

SECONDS = float(os.environ.get("STRESS_HTTP_SECONDS", "60"))


def test_two_instances_under_a_long_mixed_load(app, db, make, tmp_path):
    shop = open_shop(make, retailers=8, credit_limit="2000.00")
    with recording_debits(db), serving(database_url(app), tmp_path, count=2, workers=2,
                                       lifetime=SECONDS + 300) as servers:
        bases = [server.base for server in servers]
        # A bound far above what 16 threads send in SECONDS: the load lasts its time, not 5000 requests.
        load = Load(shop, bases, threads=16, seconds=SECONDS, max_requests=1000 * int(SECONDS)).run()
        figures = check_the_run(db, shop, load, bases, replays=200)
    print("\n" + figures.table(f"two instances, {SECONDS:.0f} s"))
    assert not figures.violations, "\n".join(figures.violations[:30])
    assert_mixed(figures, load)


def test_without_shared_storage_the_sign_in_limit_does_not_hold_across_instances(make, tmp_path, app):
    """The control: one worker per instance, counts in each process's memory. Eight refused passwords
    alternating between the instances are four on each, under the limit of five: none is refused."""
    user = make.user(Role.RETAILER, retailer=make.retailer())
    with serving(database_url(app), tmp_path, count=2, workers=1, env={"RATELIMIT_STORAGE_URI": "memory://"}) \
            as servers:
        bases = [server.base for server in servers]
        page = call(bases[0], "GET", "/login")
        cookie = merged_cookie("", page.headers["set-cookie-all"])
        token = re.search(rb'name="csrf_token"[^>]*?value="([^"]+)"', page.body).group(1).decode()
        statuses = [attempt_sign_in(bases[i % 2], user.email, "wrong password", cookie, token).status
                    for i in range(8)]
        assert statuses == [422] * 8  # eight refused passwords, and no 429: each instance saw only four
        assert attempt_sign_in(bases[0], user.email, PASSWORD, cookie, token).status == 302
    print("\nin-memory counts, two instances: 8 refused passwords for one account, none limited (limit 5)")
