"""Keyset pagination, newest first: ``WHERE id < :after ORDER BY id DESC LIMIT n``. Never OFFSET, which
reads and throws away every skipped row and so slows down with each page."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select

from app.extensions import db


@dataclass
class Page:
    items: list[Any]
    #: Cursor for the next, older page (``?after=``); None on the last page.
    older: int | None
    #: Cursor for the previous, newer page (``?before=``); None on the first page.
    newer: int | None


def keyset_page(query: Select, id_column, *, size: int, after: int | None = None,
                before: int | None = None) -> Page:
    """One page of ``query`` by descending id; ``after`` walks to older rows, ``before`` back to newer."""
    if before is not None:
        rows = db.session.scalars(query.where(id_column > before).order_by(id_column.asc()).limit(size + 1)).all()
        items = list(reversed(rows[:size]))
        # We came from the older page, so it exists; a newer one exists if we fetched one row too many.
        return Page(items, older=items[-1].id if items else None,
                    newer=items[0].id if len(rows) > size else None)
    if after is not None:
        query = query.where(id_column < after)
    rows = db.session.scalars(query.order_by(id_column.desc()).limit(size + 1)).all()
    items = rows[:size]
    return Page(items, older=items[-1].id if len(rows) > size else None,
                newer=items[0].id if after is not None and items else None)
