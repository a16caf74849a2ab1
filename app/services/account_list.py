"""A wholesaler's credit accounts as a list: one page by any column, searched by retailer name and filtered, and
the book's figures from one aggregate query — never every account loaded to count or sum them."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, literal_column, select, tuple_
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.models import AccountStatus, CreditAccount, ItemSide, OpenItem, Retailer
from app.pagination import sort_cursor, sort_cursor_parts
from app.services import tenancy
from app.services.actors import Actor
from app.services.errors import ValidationError

#: What the list can be sorted by (a leading "-": descending); ties by account id.
SORTS: dict[str, ColumnElement] = {
    "retailer": Retailer.name, "limit": CreditAccount.effective_limit, "balance": CreditAccount.balance,
    "available": CreditAccount.available_credit, "utilisation": CreditAccount.utilisation,
    "status": CreditAccount.status}
#: The sorts whose cursor holds text rather than an amount or a percentage.
_TEXT_SORTS = {"retailer", "status"}
#: Over this share of the limit in use, an account is "nearly full".
NEARLY_FULL_PERCENT = 80

_DUE_BEFORE = bindparam("today") - CreditAccount.overdue_grace_days
_OVERDUE = (select(func.coalesce(func.sum(OpenItem.open_amount), 0))
            .where(OpenItem.credit_account_id == CreditAccount.id, OpenItem.still_open(ItemSide.CHARGE),
                   OpenItem.due_date < _DUE_BEFORE).correlate(CreditAccount).scalar_subquery())
#: On overdue hold today (the one rule of app/services/receivables.py): the row's earliest open due date narrows
#: the accounts whose open charges are summed.
ON_HOLD = and_(CreditAccount.overdue_policy == literal_column("'hold'"), CreditAccount.oldest_open_due < _DUE_BEFORE,
               CreditAccount.overdue_min_amount < _OVERDUE)
FILTERS: dict[str, ColumnElement[bool]] = {
    "active": CreditAccount.status == literal_column("'ACTIVE'"),
    "blocked": CreditAccount.status == literal_column("'BLOCKED'"),
    "on_hold": ON_HOLD,
    "nearly_full": CreditAccount.utilisation > NEARLY_FULL_PERCENT,
}


@dataclass(frozen=True)
class Summary:
    accounts: int
    owed: Decimal
    #: The effective limits, temporary increases included.
    extended: Decimal
    blocked: int
    on_hold: int


@dataclass(frozen=True)
class AccountPage:
    accounts: list[CreditAccount]
    #: Pass as ``after`` for the next page; None on the last one.
    next_cursor: str | None


def summary(actor: Actor, today: date) -> Summary:
    """The book's figures over every account the actor may see, in one query."""
    scoped = tenancy.accounts_visible_to(actor).subquery()
    row = db.session.execute(select(
        func.count(), func.coalesce(func.sum(scoped.c.balance).filter(scoped.c.balance > 0), 0),
        func.coalesce(func.sum(scoped.c.credit_limit + scoped.c.temporary_increase), 0),
        func.count().filter(scoped.c.status == AccountStatus.BLOCKED),
        func.count().filter(scoped.c.id.in_(select(CreditAccount.id).where(ON_HOLD))),
    ).select_from(scoped), {"today": today}).one()
    return Summary(*row)


def page(actor: Actor, today: date, *, sort: str = "retailer", search: str = "", show: str = "",
         after: str | None = None, size: int = 50) -> AccountPage:
    """One page of the actor's accounts by ``sort``, those whose retailer's name contains ``search`` and that
    match the filter ``show`` (one of FILTERS, or "" for all), after the cursor ``after``.

    Raises ValidationError for an unknown sort or filter, or a cursor this function did not give.
    """
    descending, key = sort.startswith("-"), sort.lstrip("-")
    if key not in SORTS:
        raise ValidationError(f"Sort by one of {', '.join(SORTS)}.", field_errors={"sort": "unknown sort"})
    if show and show not in FILTERS:
        raise ValidationError(f"Show one of {', '.join(FILTERS)}.", field_errors={"show": "unknown filter"})
    column = SORTS[key]
    query: Select = tenancy.accounts_visible_to(actor).join(Retailer, Retailer.id == CreditAccount.retailer_id) \
        .options(contains_eager(CreditAccount.retailer))
    if search.strip():
        query = query.where(Retailer.name.ilike(f"%{_escape_like(search.strip())}%", escape="\\"))
    if show:
        query = query.where(FILTERS[show])
    if after is not None:
        value, account_id = sort_cursor_parts(after, numeric=key not in _TEXT_SORTS, max_id=2**31 - 1)
        if key == "status":
            if value not in {s.value for s in AccountStatus}:
                raise ValidationError("This page link is not one a previous page gave; start from the first page.",
                                      field_errors={"after": "unknown cursor"})
            value = AccountStatus(value)
        keyset = tuple_(column, CreditAccount.id)
        query = query.where(keyset < (value, account_id) if descending else keyset > (value, account_id))
    order = (column.desc(), CreditAccount.id.desc()) if descending else (column.asc(), CreditAccount.id.asc())
    rows = db.session.execute(query.add_columns(column.label("sort_value")).order_by(*order).limit(size + 1),
                              {"today": today}).all()
    accounts = [row[0] for row in rows[:size]]
    last = rows[size - 1] if len(rows) > size else None
    return AccountPage(accounts, sort_cursor(last.sort_value, last[0].id, numeric=key not in _TEXT_SORTS)
                       if last else None)


def _escape_like(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)
