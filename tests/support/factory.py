"""Committed rows for tests with sensible defaults (Factory), and the password every test user has."""

import functools
from decimal import Decimal

from app.models import CreditAccount, Product, Retailer, Role, User, Wholesaler
from app.services.passwords import hash_password

PASSWORD = "correct horse battery"


@functools.cache
def _password_hash(password: str) -> str:
    """Argon2id is slow on purpose; one hash per password serves the whole run."""
    return hash_password(password)


class Factory:
    """Builds committed rows with sensible defaults; keyword arguments override them."""

    def __init__(self, db):
        self.db = db
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _save(self, obj):
        self.db.session.add(obj)
        self.db.session.commit()
        return obj

    def wholesaler(self, name=None, currency="EUR"):
        return self._save(Wholesaler(name=name or f"Wholesaler {self._next()}", currency=currency))

    def retailer(self, name=None):
        return self._save(Retailer(name=name or f"Retailer {self._next()}"))

    def product(self, wholesaler, unit_price="10.00", sku=None, active=True):
        n = self._next()
        return self._save(Product(wholesaler=wholesaler, sku=sku or f"SKU-{n}", name=f"Product {n}",
                                  unit_price=Decimal(unit_price), active=active))

    def account(self, retailer=None, wholesaler=None, credit_limit="1000.00", balance="0.00", **kw):
        wholesaler = wholesaler or self.wholesaler()
        return self._save(CreditAccount(
            retailer=retailer or self.retailer(), wholesaler=wholesaler,
            credit_limit=Decimal(credit_limit), balance=Decimal(balance),
            currency=wholesaler.currency, **kw))

    def user(self, role=Role.ADMIN, retailer=None, wholesaler=None, email=None, password=PASSWORD):
        return self._save(User(email=email or f"user{self._next()}@example.com",
                               password_hash=_password_hash(password), role=role,
                               retailer=retailer, wholesaler=wholesaler))
