"""The ledger, the book's ageing and a retailer's statement as CSV; the long ones are produced batch by batch, so
they stream instead of filling memory."""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date

from sqlalchemy import Row

from app.models import EntryType
from app.services import ageing, statements
from app.services.actors import Actor

#: Accounts per query while the ageing streams out.
EXPORT_PAGE_SIZE = 1000
HEADER = ["entry_id", "created_at", "type", "amount", "change", "balance_after", "order_id", "memo"]
#: A cell starting with one of these is a formula to a spreadsheet; text cells get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def ledger_csv(batches: Iterable[list[Row]]) -> Iterator[str]:
    """Header, then one line per entry: amounts as plain decimals, ``change`` signed as it moved the balance."""
    yield _line(HEADER)
    for batch in batches:
        yield "".join(_line(_cells(row)) for row in batch)


def ageing_csv(actor: Actor, as_of: date, sort: str) -> Iterator[str]:
    """Header, then one line per account that owes, in the page's order, then the totals."""
    yield _line(["credit_account_id", "retailer", *ageing.BUCKETS, "total", "as_of"])
    book = ageing.book_ageing(actor, as_of, sort=sort, size=EXPORT_PAGE_SIZE)
    while True:
        yield "".join(_line([row.credit_account_id, _text(row.retailer_name), *_figures(row.ageing), as_of.isoformat()])
                      for row in book.rows)
        if book.next_cursor is None:
            break
        book = ageing.book_ageing(actor, as_of, sort=sort, size=EXPORT_PAGE_SIZE, after=book.next_cursor)
    yield _line(["", "Total", *_figures(book.totals), as_of.isoformat()])


def statement_csv(shown: statements.Statement) -> Iterator[str]:
    """A statement's open items, then its recent payments, one line each; amounts as plain decimals."""
    yield _line(["kind", "entry_id", "order_id", "date", "due_date", "amount", "outstanding_or_unapplied",
                 "days_late", "details"])
    for c in shown.charges:
        yield _line(["charge", c.entry_id, c.order_id or "", c.charged_on.isoformat(), c.due_date.isoformat(),
                     f"{c.amount:.2f}", f"{c.outstanding:.2f}", max(c.days_late, 0), _text(c.memo)])
    for p in shown.payments:
        paid = "; ".join(f"{'order ' + str(o) if o else 'adjustment'} {a:.2f}" for o, a in p.paid)
        yield _line(["payment", p.entry_id, "", p.received_on.isoformat(), "", f"{p.amount:.2f}",
                     f"{p.unapplied:.2f}", "", _text(f"{p.reference or ''} (paid: {paid or 'nothing yet'})")])


def _figures(aged: ageing.Ageing) -> list[str]:
    return [f"{aged.buckets[b]:.2f}" for b in ageing.BUCKETS] + [f"{aged.total:.2f}"]


def _cells(row: Row) -> list:
    entry_type = EntryType(row.type)
    change = entry_type.signed(row.amount)
    return [row.id, row.created_at.isoformat(), entry_type.value, f"{row.amount:.2f}", f"{change:.2f}",
            f"{row.balance_after:.2f}", row.order_id or "", _text(row.memo)]


def _text(value: str | None) -> str:
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _line(cells: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()
