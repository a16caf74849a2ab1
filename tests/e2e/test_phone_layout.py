"""Every page of every role on a phone (390 × 844) and on a desktop (1280 × 800): the page never scrolls sideways
(a wide table scrolls in its own box), no two buttons, links or fields overlap, and on the phone the menu opens
without a script. Each page is saved to the gallery at both widths (tests/e2e/artifacts/{phone,desktop}_*.png)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import MailMessage, Role
from app.services import accounts, clock, holds, limit_requests, limits, orders, webhooks
from app.services.actors import SYSTEM
from tests.support.actors import acting_retailer
from tests.support.factory import PASSWORD

SCREENS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
#: Pages each role opens, by blueprint (the authorization matrix proves the rest are refused).
BLUEPRINTS = {Role.RETAILER: ("retailers", "orders", "auth", "team", "integrations", "statements", "holds",
                              "limit_requests"),
              Role.WHOLESALER: ("wholesalers", "orders", "auth", "team", "integrations", "statements", "holds",
                                "limit_requests"),
              Role.ADMIN: ("admin", "orders", "auth", "statements", "holds", "limit_requests")}

#: Every visible interactive element's box, the page's width, and each pair of boxes that overlap.
LAYOUT = """() => {
  const selector = 'a, button, input:not([type=hidden]), select, textarea, summary, label.menu-button';
  const boxes = [...document.querySelectorAll(selector)].filter(e => {
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return r.width > 1 && r.height > 1 && s.visibility !== 'hidden' && s.opacity !== '0';
  }).map(e => [e, e.getBoundingClientRect()]);
  const name = e => `${e.tagName.toLowerCase()} "${(e.textContent || e.name || e.id).trim().slice(0, 30)}"`;
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, ra] = boxes[i], [b, rb] = boxes[j];
    if (a.contains(b) || b.contains(a)) continue;
    const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
    const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
    if (w > 1 && h > 1) overlaps.push(`${name(a)} over ${name(b)}`);
  }
  const scrolls = e => e.closest('.table-scroll') && getComputedStyle(e.closest('.table-scroll')).overflowX === 'auto';
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !scrolls(e))
    .slice(0, 5).map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, overlaps, wide};
}"""


@pytest.fixture
def world(make, db):
    """A wholesaler with a long-named retailer's account that has orders, a payment and an adjustment; a blocked
    account beside it; a user of each role."""
    wholesaler = make.wholesaler(name="Acme Foods Wholesale and Distribution")
    retailer = make.retailer(name="Corner Grocery of the Long High Street")
    account = make.account(retailer=retailer, wholesaler=wholesaler, credit_limit="100000.00")
    blocked = make.account(wholesaler=wholesaler, credit_limit="2500.00")
    accounts.block_account(SYSTEM, blocked.id, reason="Payments overdue")
    products = [make.product(wholesaler, unit_price=price) for price in ("12.40", "8.95", "1499.99")]
    order = orders.place_order(acting_retailer(retailer.id), wholesaler_id=wholesaler.id,
                               lines=[(products[0].id, 12), (products[2].id, 3)])
    accounts.record_payment(SYSTEM, account.id, amount="1250.00", reference="Bank transfer 2026-0042")
    accounts.post_adjustment(SYSTEM, account.id, amount="-25.00", reason="Damaged goods credited")
    users = {Role.RETAILER: make.user(Role.RETAILER, retailer=retailer),
             Role.WHOLESALER: make.user(Role.WHOLESALER, wholesaler=wholesaler),
             Role.ADMIN: make.user(Role.ADMIN)}
    endpoints = {role: webhooks.register_endpoint(users[role], url=f"https://erp.example.com/{role.value}/hooks",
                                                  events=["account.limit_changed", "payment.recorded"])[0].id
                 for role in (Role.RETAILER, Role.WHOLESALER)}  # each side's own
    accounts.update_account(SYSTEM, account.id, credit_limit="120000.00")  # a mail to the retailer's user, an event
    message_id = db.session.scalar(select(MailMessage.id))
    hold = holds.place_hold(users[Role.RETAILER], wholesaler_id=wholesaler.id,
                            lines=[(products[0].id, 40), (products[1].id, 120)], expires_in_seconds=3 * 86400).hold
    limits.grant_increase(users[Role.WHOLESALER], account.id, amount="15000.00", reason="Christmas stock",
                          ends_on=clock.business_date(wholesaler.time_zone) + timedelta(days=20))
    request = limit_requests.request_limit(users[Role.RETAILER], account.id, requested_limit="180000.00",
                                           ends_on=clock.business_date(wholesaler.time_zone) + timedelta(days=60),
                                           note="A second shop opens on the High Street in January").request
    ids = {"account_id": account.id, "hold_id": hold.id, "order_id": order.order_id, "product_id": products[0].id,
           "message_id": message_id, "endpoints": endpoints, "request_id": request.id}
    return users, ids


def pages_of(app, role: Role, ids: dict) -> list[str]:
    """Every GET page of the role's blueprints, with this world's ids (the CSV export and a mail's file are
    downloads, and so is a statement's PDF; a mailed link's page is someone else's, in the gallery at both widths)."""
    urls = app.url_map.bind("localhost")
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        allowed = getattr(app.view_functions[rule.endpoint], "allowed_roles", {role})
        if rule.endpoint.split(".")[0] in BLUEPRINTS[role] and "GET" in rule.methods and role in allowed and \
                not rule.rule.endswith((".csv", ".eml", ".pdf")) and "token" not in rule.arguments:
            found.append(urls.build(rule.endpoint, {name: ids[name] for name in rule.arguments}))
    return found


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("role", [Role.RETAILER, Role.WHOLESALER, Role.ADMIN], ids=lambda role: role.value)
def test_every_page_fits_the_screen(app, browser, live_server, world, role, screen, screenshot):
    users, ids = world
    context = browser.new_context(base_url=live_server, viewport=SCREENS[screen])
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=email]", users[role].email)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button.primary")
        checked = []
        for url in pages_of(app, role, ids | {"endpoint_id": ids["endpoints"].get(role)}):
            response = page.goto(url)
            assert response.status == 200, url
            layout = page.evaluate(LAYOUT)
            assert layout["scrollWidth"] <= layout["innerWidth"], f"{url} scrolls sideways: {layout}"
            assert layout["overlaps"] == [], f"{url}: {layout['overlaps']}"
            screenshot(page, f"{screen}_{role.value}_{url.strip('/').replace('/', '_') or 'home'}")
            checked.append(url)
        assert len(checked) >= 2
        if screen == "phone":  # the menu opens with no script, and its links are reachable
            assert not page.locator(".nav a").first.is_visible()
            page.click("label.menu-button")
            assert page.locator(".nav a").first.is_visible()
            layout = page.evaluate(LAYOUT)
            assert layout["overlaps"] == [] and layout["scrollWidth"] <= layout["innerWidth"], layout
            screenshot(page, f"phone_{role.value}_menu_open")
    finally:
        context.close()
