"""Flask commands: seed-demo and the operators' tools."""

from decimal import Decimal

import click
from flask import Flask

from app.auth.passwords import hash_password
from app.extensions import db
from app.models import AccountStatus, CreditAccount, LedgerEntry, Product, Retailer, Role, User, Wholesaler
from app.services.ledger_check import find_ledger_problems

DEMO_PASSWORD = "demo-password"


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(verify_ledger)


@click.command("verify-ledger")
def verify_ledger() -> None:
    """Recompute every account from its ledger; exit 1 naming each mismatch."""
    problems = find_ledger_problems()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    accounts = db.session.scalar(db.select(db.func.count(CreditAccount.id)))
    entries = db.session.scalar(db.select(db.func.count(LedgerEntry.id)))
    click.echo(f"Ledger verified: {accounts} accounts, {entries} entries, no mismatch.")


@click.command("seed-demo")
def seed_demo() -> None:
    """Load demo organisations, catalogues, credit accounts and one user per role (once)."""
    if db.session.scalar(db.select(User.id).limit(1)) is not None:
        click.echo("Demo data is already loaded.")
    else:
        _load_demo()
        click.echo("Demo data loaded.")
    click.echo(f"Demo sign-ins (password for each: {DEMO_PASSWORD}):")
    for user in db.session.scalars(db.select(User).order_by(User.id)):
        click.echo(f"  {user.role.value:<10} {user.email}")


def _load_demo() -> None:
    acme = Wholesaler(name="Acme Foods Wholesale", currency="EUR")
    nordic = Wholesaler(name="Nordic Beverages", currency="EUR")
    corner = Retailer(name="Corner Grocery")
    harbour = Retailer(name="Harbour Deli")
    market = Retailer(name="Market Street Mini-Mart")
    db.session.add_all([acme, nordic, corner, harbour, market])
    catalogue = {
        acme: [("RICE-5", "Basmati rice 5 kg", "12.40"), ("OIL-1", "Olive oil 1 l", "8.95"),
               ("PASTA-12", "Penne, case of 12", "14.20"), ("TOM-24", "Chopped tomatoes, 24 tins", "18.60"),
               ("FLOUR-10", "Wheat flour 10 kg", "9.75")],
        nordic: [("COLA-24", "Cola, 24 cans", "11.50"), ("WATER-12", "Sparkling water, 12 bottles", "6.30"),
                 ("JUICE-6", "Apple juice 1 l, 6 pack", "13.80"), ("COFFEE-1", "Coffee beans 1 kg", "21.90")],
    }
    for wholesaler, items in catalogue.items():
        for sku, name, price in items:
            db.session.add(Product(wholesaler=wholesaler, sku=sku, name=name, unit_price=Decimal(price)))
    accounts = [
        (corner, acme, "100000.00", None),
        (corner, nordic, "25000.00", None),
        (harbour, acme, "5000.00", None),
        (market, nordic, "2500.00", "Payments 60 days overdue"),
    ]
    for retailer, wholesaler, limit, blocked_reason in accounts:
        db.session.add(CreditAccount(
            retailer=retailer, wholesaler=wholesaler, credit_limit=Decimal(limit),
            currency=wholesaler.currency, balance=Decimal("0"),
            status=AccountStatus.BLOCKED if blocked_reason else AccountStatus.ACTIVE,
            blocked_reason=blocked_reason))
    password = hash_password(DEMO_PASSWORD)
    db.session.add_all([
        User(email="admin@example.com", password_hash=password, role=Role.ADMIN),
        User(email="buyer@corner.example", password_hash=password, role=Role.RETAILER, retailer=corner),
        User(email="credit@acme.example", password_hash=password, role=Role.WHOLESALER, wholesaler=acme),
    ])
    db.session.commit()
