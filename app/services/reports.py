"""Read-only queries for pages and exports: ledger pages, ledger batches, open items, balance and limit history."""

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Row, Select, select

from app.extensions import db
from app.models import AuditEvent, CreditAccount, EntryType, LedgerEntry, OpenItem
from app.pagination import keyset_page
from app.services import clock

#: Rows fetched per round trip when a whole ledger is streamed out.
EXPORT_BATCH_SIZE = 1000


def ledger_query(account_id: int, *, entry_type: EntryType | str | None = None, since: date | None = None,
                 until: date | None = None, time_zone: str = "UTC") -> Select:
    """One account's entries, filtered; the caller orders and limits by id, which the
    (credit_account_id, id DESC) index serves directly. Dates are business dates in ``time_zone``."""
    query = select(LedgerEntry).where(LedgerEntry.credit_account_id == account_id)
    if entry_type:
        query = query.where(LedgerEntry.type == EntryType(entry_type))
    if since is not None:
        query = query.where(LedgerEntry.created_at >= clock.start_of_day(since, time_zone))
    if until is not None:  # inclusive: everything before the next day starts
        query = query.where(LedgerEntry.created_at < clock.start_of_day(until + timedelta(days=1), time_zone))
    return query


def ledger_batches(query: Select) -> Iterator[list[Row]]:
    """The whole filtered ledger, newest first, in keyset batches of plain rows (not ORM objects, which
    the session would keep), so memory stays flat however long the ledger is."""
    rows = query.with_only_columns(*LedgerEntry.__table__.columns)
    page = keyset_page(rows, LedgerEntry.id, size=EXPORT_BATCH_SIZE, plain_rows=True)
    while page.items:
        yield page.items
        if page.older is None:
            return
        page = keyset_page(rows, LedgerEntry.id, size=EXPORT_BATCH_SIZE, after=page.older, plain_rows=True)


def open_items(entries: Iterable[LedgerEntry]) -> dict[int, OpenItem]:
    """The open item of each of these entries (a REVERSAL has none) by entry id, in one query."""
    ids = [entry.id for entry in entries]
    if not ids:
        return {}
    return {item.ledger_entry_id: item
            for item in db.session.scalars(select(OpenItem).where(OpenItem.ledger_entry_id.in_(ids)))}


def balance_history(account: CreditAccount, *, entries: int = 200
                    ) -> tuple[list[tuple[datetime, Decimal]], list[tuple[datetime, Decimal]]]:
    """The balance after each of the latest ``entries`` entries, oldest first, and the limit in force
    over the same span as steps (from the audit log of limit changes), both as (time, amount)."""
    recent = db.session.execute(
        select(LedgerEntry.created_at, LedgerEntry.balance_after)
        .where(LedgerEntry.credit_account_id == account.id)
        .order_by(LedgerEntry.id.desc()).limit(entries)).all()
    balances = [(when, amount) for when, amount in reversed(recent)]
    if not balances:
        return [], []
    start = balances[0][0]
    changes = db.session.execute(
        select(AuditEvent.created_at, AuditEvent.before, AuditEvent.after)
        .where(AuditEvent.entity_type == "credit_account", AuditEvent.entity_id == account.id,
               AuditEvent.action == "credit_account.set_limit", AuditEvent.created_at > start)
        .order_by(AuditEvent.id)).all()
    # The limit at the start is what the first later change replaced; with no change, today's limit.
    first = Decimal(changes[0].before["credit_limit"]) if changes else account.credit_limit
    limits = [(start, first)] + [(when, Decimal(after["credit_limit"])) for when, _, after in changes]
    return balances, limits

