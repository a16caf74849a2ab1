"""The ledger as CSV, produced batch by batch so a long ledger streams instead of filling memory."""

import csv
import io
from collections.abc import Iterable, Iterator

from sqlalchemy import Row

from app.models import EntryType

HEADER = ["entry_id", "created_at", "type", "amount", "change", "balance_after", "order_id", "memo"]
#: A cell starting with one of these is a formula to a spreadsheet; text cells get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def ledger_csv(batches: Iterable[list[Row]]) -> Iterator[str]:
    """Header, then one line per entry: amounts as plain decimals, ``change`` signed as it moved the balance."""
    yield _line(HEADER)
    for batch in batches:
        yield "".join(_line(_cells(row)) for row in batch)


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
