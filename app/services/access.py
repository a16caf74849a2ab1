"""What each user may see and touch. Every tenant query starts here, so another tenant's id is a 404."""

from sqlalchemy import Select, select

from app.extensions import db
from app.models import CreditAccount, Order, Product, Role, User
from app.services.errors import NotFound


def accounts_visible_to(user: User) -> Select:
    """Credit accounts: a retailer's own lines, a wholesaler's own retailers, or all for admins."""
    query = select(CreditAccount)
    if user.role == Role.RETAILER:
        return query.where(CreditAccount.retailer_id == user.retailer_id)
    if user.role == Role.WHOLESALER:
        return query.where(CreditAccount.wholesaler_id == user.wholesaler_id)
    return query


def orders_visible_to(user: User) -> Select:
    """Orders: those a retailer placed, those a wholesaler received, or all for admins."""
    query = select(Order)
    if user.role == Role.RETAILER:
        return query.where(Order.retailer_id == user.retailer_id)
    if user.role == Role.WHOLESALER:
        return query.where(Order.wholesaler_id == user.wholesaler_id)
    return query


def products_visible_to(user: User) -> Select:
    """Products: a wholesaler's own catalogue (inactive too); for retailers the active products of
    wholesalers they have credit with; all for admins."""
    query = select(Product)
    if user.role == Role.WHOLESALER:
        return query.where(Product.wholesaler_id == user.wholesaler_id)
    if user.role == Role.RETAILER:
        suppliers = select(CreditAccount.wholesaler_id).where(CreditAccount.retailer_id == user.retailer_id)
        return query.where(Product.active, Product.wholesaler_id.in_(suppliers))
    return query


def account_for(user: User, account_id: int) -> CreditAccount:
    """The account if this user may see it; NotFound otherwise (never 'forbidden': that would confirm it exists)."""
    account = db.session.scalar(accounts_visible_to(user).where(CreditAccount.id == account_id))
    if account is None:
        raise NotFound("No such credit account.")
    return account


def order_for(user: User, order_id: int) -> Order:
    """The order if this user may see it (and so cancel it); NotFound otherwise."""
    order = db.session.scalar(orders_visible_to(user).where(Order.id == order_id))
    if order is None:
        raise NotFound("No such order.")
    return order


def managed_account_for(user: User, account_id: int) -> CreditAccount:
    """An account whose limit, payments and adjustments this user may change: its wholesaler's or any
    for admins. Retailers get NotFound."""
    if user.role == Role.RETAILER:
        raise NotFound("No such credit account.")
    return account_for(user, account_id)
