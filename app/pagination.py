"""Keyset pagination, newest first: ``WHERE id < :after ORDER BY id DESC LIMIT n``. Never OFFSET, which
reads and throws away every skipped row and so slows down with each page."""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select

from app.extensions import db
from app.services.errors import ValidationError


@dataclass
class Page:
    items: list[Any]
    #: Cursor for the next, older page (``?after=``); None on the last page.
    older: int | None
    #: Cursor for the previous, newer page (``?before=``); None on the first page.
    newer: int | None


def keyset_page(query: Select, id_column, *, size: int, after: int | None = None,
                before: int | None = None, plain_rows: bool = False) -> Page:
    """One page of ``query`` by descending id; ``after`` walks to older rows, ``before`` back to newer.

    Pages, the API (``next_cursor`` is ``older``) and the exports all page with this. One row more than
    ``size`` is fetched to tell whether another page follows. Items are ORM objects, or with
    ``plain_rows`` the query's rows as they are (an export's rows, which the session need not keep).
    """
    def fetch(statement: Select) -> list:
        return (db.session.execute(statement) if plain_rows else db.session.scalars(statement)).all()

    if before is not None:
        rows = fetch(query.where(id_column > before).order_by(id_column.asc()).limit(size + 1))
        items = list(reversed(rows[:size]))
        # We came from the older page, so it exists; a newer one exists if we fetched one row too many.
        return Page(items, older=items[-1].id if items else None,
                    newer=items[0].id if len(rows) > size else None)
    if after is not None:
        query = query.where(id_column < after)
    rows = fetch(query.order_by(id_column.desc()).limit(size + 1))
    items = rows[:size]
    return Page(items, older=items[-1].id if len(rows) > size else None,
                newer=items[0].id if after is not None and items else None)


def sort_cursor(value, row_id: int, *, numeric: bool) -> str:
    """The cursor after a row of a list sorted by a column: the column's value (a number with two decimals, or
    text) and the row's id, the tie-break."""
    return f"{f'{Decimal(value):.2f}' if numeric else getattr(value, 'value', value)}|{row_id}"


def sort_cursor_parts(cursor: str, *, numeric: bool, max_id: int) -> tuple[str | Decimal, int]:
    """The value and id of a cursor ``sort_cursor`` wrote. Raises ValidationError (field ``after``) for any other
    text, so a mangled link cannot reach the query."""
    value, bar, row_id = cursor.rpartition("|")
    value_ok = not numeric or re.fullmatch(r"-?[0-9]{1,17}\.[0-9]{2}", value)
    if not (bar and value_ok and re.fullmatch(r"[0-9]{1,19}", row_id) and int(row_id) <= max_id):
        raise ValidationError("This page link is not one a previous page gave; start from the first page.",
                              field_errors={"after": "unknown cursor"})
    return (Decimal(value) if numeric else value), int(row_id)
