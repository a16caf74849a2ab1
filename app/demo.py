"""The demo world `flask seed-demo` loads: two wholesalers, three retailers, a user per role, and months of trading
on terms written through the same operations the pages use, each at its own moment (clock.at), so every ageing
bucket has something in it, payments have paid the oldest orders first, orders more than a few days old have
shipped, one was credited in part, one account is on overdue hold, one retailer holds a cart, one line has a
temporary increase and one retailer asks for a higher limit."""

import random
from datetime import datetime, timedelta
from decimal import Decimal

from app.extensions import db
from app.models import CreditAccount, Role, Wholesaler
from app.services import accounts, catalogue, clock, directory, holds, limit_requests, limits, orders, statement_mail
from app.services.actors import SYSTEM, ActingUser
from app.services.money import CENT

DEMO_PASSWORD = "demo-password"

CATALOGUES = {
    "Acme Foods Wholesale": [("RICE-5", "Basmati rice 5 kg", "12.40"), ("OIL-1", "Olive oil 1 l", "8.95"),
                             ("PASTA-12", "Penne, case of 12", "14.20"),
                             ("TOM-24", "Chopped tomatoes, 24 tins", "18.60"),
                             ("FLOUR-10", "Wheat flour 10 kg", "9.75")],
    "Nordic Beverages": [("COLA-24", "Cola, 24 cans", "11.50"), ("WATER-12", "Sparkling water, 12 bottles", "6.30"),
                         ("JUICE-6", "Apple juice 1 l, 6 pack", "13.80"), ("COFFEE-1", "Coffee beans 1 kg", "21.90")],
}

#: Each account's history, as (days ago, what happened, how much): an order of about that many units, a payment
#: of that share of the balance then, or a credit note for that many units of the last order's first line.
#: Corner Grocery pays Acme a little late, within its grace; Harbour Deli has
#: fallen behind, so Acme holds its new orders; Market Street trades with Acme on an old account the hold does
#: not apply to, and its line with Nordic is blocked by hand.
HISTORY = {
    ("Corner Grocery", "Acme Foods Wholesale"): [
        (120, "order", 60), (105, "order", 45), (90, "order", 70), (80, "pay", "0.75"), (75, "order", 50),
        (60, "order", 65), (57, "credit", 2), (50, "pay", "0.80"), (45, "order", 40), (30, "order", 55),
        (22, "pay", "0.35"), (20, "order", 35), (10, "order", 60), (3, "order", 25)],
    ("Corner Grocery", "Nordic Beverages"): [
        (70, "order", 40), (56, "pay", "1"), (40, "order", 30), (26, "pay", "1"), (9, "order", 35)],
    ("Harbour Deli", "Acme Foods Wholesale"): [(130, "order", 30), (108, "order", 25), (104, "pay", "0.30")],
    ("Market Street Mini-Mart", "Acme Foods Wholesale"): [
        (95, "order", 20), (70, "order", 25), (50, "order", 15), (40, "pay", "0.25")],
    ("Market Street Mini-Mart", "Nordic Beverages"): [(50, "order", 60), (30, "pay", "1"), (20, "order", 40),
                                                      (8, "pay", "1")],
}
#: Orders placed longer ago than this have shipped; the latest wait for the wholesaler to ship them.
SHIPPED_AFTER_DAYS = 3
#: (retailer, wholesaler) → limit, and the settings that differ from the defaults.
ACCOUNTS = {
    ("Corner Grocery", "Acme Foods Wholesale"): ("100000.00", {"overdue_grace_days": 30}),
    ("Corner Grocery", "Nordic Beverages"): ("25000.00", {}),
    ("Harbour Deli", "Acme Foods Wholesale"): ("5000.00", {}),
    ("Market Street Mini-Mart", "Acme Foods Wholesale"): ("3000.00", {"overdue_policy": "off"}),
    ("Market Street Mini-Mart", "Nordic Beverages"): ("2500.00", {}),
}


def load() -> None:
    """Create the demo world, by the system actor (or the retailer, for its orders)."""
    started = clock.now() - timedelta(days=max(days for events in HISTORY.values() for days, *_ in events) + 1)
    with clock.at(started):
        wholesalers = {name: directory.create_wholesaler(SYSTEM, name=name, currency="EUR", time_zone=zone,
                                                         default_payment_terms_days=terms)
                       for name, zone, terms in (("Acme Foods Wholesale", "Europe/Amsterdam", 30),
                                                 ("Nordic Beverages", "Europe/Helsinki", 14))}
        retailers = {name: directory.create_retailer(SYSTEM, name=name)
                     for name in ("Corner Grocery", "Harbour Deli", "Market Street Mini-Mart")}
        products = {name: [catalogue.add_product(SYSTEM, wholesaler_id=wholesalers[name].id, sku=sku, name=title,
                                                 unit_price=price) for sku, title, price in items]
                    for name, items in CATALOGUES.items()}
        opened = {}
        for (retailer, wholesaler), (limit, settings) in ACCOUNTS.items():
            account = accounts.open_account(SYSTEM, retailer_id=retailers[retailer].id,
                                            wholesaler_id=wholesalers[wholesaler].id, credit_limit=limit)
            if settings:
                accounts.update_account(SYSTEM, account.id, **settings)
            opened[retailer, wholesaler] = account.id
    rng = random.Random(2026)  # the same demo every time
    for (retailer, wholesaler), events in HISTORY.items():
        buyer = ActingUser(id=None, role=Role.RETAILER, retailer_id=retailers[retailer].id)
        for days_ago, kind, size in events:
            with clock.at(_working_hours(wholesalers[wholesaler], days_ago, rng)):
                if kind == "order":
                    lines = _lines(products[wholesaler], size, rng)
                    last = orders.place_order(buyer, wholesaler_id=wholesalers[wholesaler].id, lines=lines), lines
                    if days_ago > SHIPPED_AFTER_DAYS:
                        with clock.at(clock.now() + timedelta(hours=3)):
                            orders.ship_order(SYSTEM, last[0].order_id)
                elif kind == "credit":
                    (product_id, ordered), *_ = last[1]
                    accounts.credit_order(SYSTEM, last[0].order_id, lines=[(product_id, min(size, ordered))],
                                          reason="Dented in transit")
                else:
                    owed = db.session.get(CreditAccount, opened[retailer, wholesaler], populate_existing=True).balance
                    accounts.record_payment(SYSTEM, opened[retailer, wholesaler],
                                            amount=(owed * Decimal(size)).quantize(CENT),
                                            reference=f"Bank transfer {rng.randint(10000, 99999)}")
    accounts.block_account(SYSTEM, opened["Market Street Mini-Mart", "Nordic Beverages"],
                           reason="New owners: credit check pending")
    users = {}
    for email, role, organisation in [("admin@example.com", Role.ADMIN, None),
                                      ("buyer@corner.example", Role.RETAILER, retailers["Corner Grocery"]),
                                      ("credit@acme.example", Role.WHOLESALER, wholesalers["Acme Foods Wholesale"])]:
        users[email] = directory.create_user(SYSTEM, email=email, password=DEMO_PASSWORD, role=role,
                                             organisation_id=organisation.id if organisation else None)
    # A cart Corner Grocery holds at Nordic's prices for three days: reserved credit, not yet a debt (the Holds page).
    holds.place_hold(users["buyer@corner.example"], wholesaler_id=wholesalers["Nordic Beverages"].id,
                     lines=_lines(products["Nordic Beverages"], 24, rng), expires_in_seconds=3 * 86400)
    # Acme lifts Market Street's limit for three weeks; Corner Grocery asks Acme for more (the Requests page).
    acme_today = clock.business_date(wholesalers["Acme Foods Wholesale"].time_zone)
    limits.grant_increase(SYSTEM, opened["Market Street Mini-Mart", "Acme Foods Wholesale"], amount="1500.00",
                          ends_on=acme_today + timedelta(days=21), reason="Street festival stock")
    limit_requests.request_limit(users["buyer@corner.example"], opened["Corner Grocery", "Acme Foods Wholesale"],
                                 requested_limit="120000.00", note="A second shop opens next month")
    with clock.at(started):  # Acme mails monthly statements: the worker sends last month's (`flask send-statements`)
        statement_mail.set_statements_by_mail(users["credit@acme.example"], on=True)


def _working_hours(wholesaler: Wholesaler, days_ago: int, rng: random.Random) -> datetime:
    """A moment during the working day ``days_ago`` business days back in the wholesaler's time zone."""
    day = clock.business_date(wholesaler.time_zone) - timedelta(days=days_ago)
    return clock.start_of_day(day, wholesaler.time_zone) + timedelta(
        hours=rng.randint(8, 16), minutes=rng.randint(0, 59))


def _lines(products, units: int, rng: random.Random) -> list[tuple[int, int]]:
    """About ``units`` units spread over two or three of the catalogue's products."""
    chosen = rng.sample(products, rng.randint(2, 3))
    return [(product.id, max(1, units // len(chosen) + rng.randint(-3, 3))) for product in chosen]
