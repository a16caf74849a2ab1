"""Ageing: what each account owed as of a date, by how many days past due, for one account or a wholesaler's book.

As of any past date, correctly: an item counts only if it existed by the end of that day (in the wholesaler's time
zone) and was not cancelled by then, with only the allocations made by then. Rather than summing every allocation
ever made, what is outstanding now is taken and what was allocated after the day is added back, so a date close
to today reads little more than the open items (those paid off before it cost nothing).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text

from app.extensions import db
from app.models import Role
from app.pagination import sort_cursor, sort_cursor_parts
from app.services.actors import Actor
from app.services.errors import ValidationError

#: The buckets, by days past due: not yet due, then 1-30, 31-60, 61-90 and more.
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
_BUCKET_RANGES = {"current": "late <= 0", "1-30": "late BETWEEN 1 AND 30", "31-60": "late BETWEEN 31 AND 60",
                  "61-90": "late BETWEEN 61 AND 90", "90+": "late > 90"}
#: What the book can be sorted by (a leading "-": descending), each a column of the query below.
SORTS = {"retailer": "retailer_name", "total": "total", **{b: f'"{b}"' for b in BUCKETS}}
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Ageing:
    buckets: dict[str, Decimal]
    total: Decimal


@dataclass(frozen=True)
class BookRow:
    credit_account_id: int
    retailer_id: int
    retailer_name: str
    ageing: Ageing


@dataclass(frozen=True)
class Book:
    as_of: date
    rows: list[BookRow]
    #: Over the whole book, not only this page.
    totals: Ageing
    #: Pass as ``after`` for the next page; None on the last one.
    next_cursor: str | None


# {scope} limits the accounts (one account, a wholesaler's, all); {page} is the book's sort and keyset.
_AGED = """
    WITH book AS (
        SELECT c.id AS account_id, c.retailer_id,
               ((CAST(:as_of AS date) + 1)::timestamp AT TIME ZONE w.time_zone) AS cutoff
        FROM credit_accounts c JOIN wholesalers w ON w.id = c.wholesaler_id WHERE {scope}
    ), later AS (  -- allocated after the day: not yet paid as of it (a cancelled order's releases too)
        SELECT a.charge_entry_id, SUM(a.amount) AS amount
        FROM allocations a JOIN book b ON b.account_id = a.credit_account_id
        WHERE a.created_at >= (SELECT MIN(cutoff) FROM book) AND a.created_at >= b.cutoff
        GROUP BY a.charge_entry_id
    ), aged AS (  -- what each item owed as of the day, in parts: owing now, cancelled since, paid since
        SELECT i.credit_account_id, CAST(:as_of AS date) - i.due_date AS late, i.open_amount AS owed
        FROM open_items i JOIN book b ON b.account_id = i.credit_account_id
        WHERE i.side = 'CHARGE' AND i.open_amount > 0 AND i.created_at < b.cutoff
        UNION ALL
        SELECT i.credit_account_id, CAST(:as_of AS date) - i.due_date, i.amount
        FROM open_items i JOIN book b ON b.account_id = i.credit_account_id
        WHERE i.cancelled_at >= (SELECT MIN(cutoff) FROM book) AND i.cancelled_at >= b.cutoff
              AND i.created_at < b.cutoff
        UNION ALL
        SELECT i.credit_account_id, CAST(:as_of AS date) - i.due_date, l.amount
        FROM later l JOIN open_items i ON i.ledger_entry_id = l.charge_entry_id
        JOIN book b ON b.account_id = i.credit_account_id
        WHERE i.created_at < b.cutoff AND (i.cancelled_at IS NULL OR i.cancelled_at >= b.cutoff)
    ), per_account AS (
        SELECT credit_account_id, {bucket_sums}, COALESCE(SUM(owed), 0) AS total
        FROM aged GROUP BY credit_account_id HAVING SUM(owed) > 0
    )
"""
_BUCKET_SUMS = ", ".join(f'COALESCE(SUM(owed) FILTER (WHERE {where}), 0) AS "{bucket}"'
                         for bucket, where in _BUCKET_RANGES.items())
_ACCOUNT = text(_AGED.format(scope="c.id = :account_id", bucket_sums=_BUCKET_SUMS) + "SELECT * FROM per_account")


def account_ageing(account_id: int, as_of: date) -> Ageing:
    """One account's ageing as of the end of ``as_of`` (the caller has checked the actor may see it)."""
    row = db.session.execute(_ACCOUNT, {"account_id": account_id, "as_of": as_of}).mappings().one_or_none()
    return _ageing(row) if row else Ageing(dict.fromkeys(BUCKETS, ZERO), ZERO)


def book_ageing(actor: Actor, as_of: date, *, sort: str = "retailer", after: str | None = None,
                size: int = 50) -> Book:
    """The ageing of every account the actor may see (a wholesaler's own; all for admins) with anything outstanding
    as of ``as_of``: one page of ``size`` rows sorted by ``sort``, after the cursor ``after``, and the totals.

    Raises ValidationError for an unknown sort or a cursor that is not one this function gave.
    """
    descending, key = sort.startswith("-"), sort.lstrip("-")
    if key not in SORTS:
        raise ValidationError(f"Sort by one of {', '.join(SORTS)}, with a leading - for descending.",
                              field_errors={"sort": "unknown sort"})
    params: dict = {"as_of": as_of, "size": size + 1}
    scope = {Role.WHOLESALER: "c.wholesaler_id = :wholesaler_id", Role.ADMIN: "true"}.get(actor.role, "false")
    params["wholesaler_id"] = actor.wholesaler_id
    keyset = ""
    if after is not None:
        params["after_value"], params["after_id"] = sort_cursor_parts(after, numeric=key != "retailer",
                                                                      max_id=2**63 - 1)
        keyset = f"WHERE ({SORTS[key]}, credit_account_id) {'<' if descending else '>'} (:after_value, :after_id)"
    rows = db.session.execute(_book_statement(scope, key, descending, keyset), params).mappings().all()
    if not rows and after is not None:  # past the last page: the totals still stand
        rows = db.session.execute(_book_statement(scope, key, descending, ""), params | {"size": 1}).mappings().all()
        page, cursor = [], None
    else:
        page = [BookRow(r["credit_account_id"], r["retailer_id"], r["retailer_name"], _ageing(r)) for r in rows[:size]]
        last = rows[size - 1] if len(rows) > size else None
        cursor = sort_cursor(last[SORTS[key].strip('"')], last["credit_account_id"], numeric=key != "retailer") \
            if last else None
    totals = _ageing({b: rows[0][f"book {b}"] for b in (*BUCKETS, "total")}) if rows else Ageing(
        dict.fromkeys(BUCKETS, ZERO), ZERO)
    return Book(as_of, page, totals, cursor)


def _book_statement(scope: str, key: str, descending: bool, keyset: str):
    """Rows of the book with the book's totals on each (a window over all rows, before the keyset picks a page)."""
    direction = "DESC" if descending else "ASC"
    book_sums = ", ".join(f'SUM("{b}") OVER () AS "book {b}"' for b in (*BUCKETS, "total"))
    return text(_AGED.format(scope=scope, bucket_sums=_BUCKET_SUMS) + f"""
        , named AS (
            SELECT p.*, c.retailer_id, r.name AS retailer_name, {book_sums} FROM per_account p
            JOIN credit_accounts c ON c.id = p.credit_account_id JOIN retailers r ON r.id = c.retailer_id
        )
        SELECT * FROM named {keyset} ORDER BY {SORTS[key]} {direction}, credit_account_id {direction} LIMIT :size
    """)


def _ageing(row) -> Ageing:
    return Ageing({b: Decimal(row[b]).quantize(ZERO) for b in BUCKETS}, Decimal(row["total"]).quantize(ZERO))
