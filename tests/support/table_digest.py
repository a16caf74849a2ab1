"""Row counts and digests of every table, to prove that a refused request wrote nothing."""

from functools import cache

from sqlalchemy import text

#: Columns a request that changes nothing may still write: an API token notes its use at most once a minute.
NOT_DIGESTED = {"api_tokens": ("last_used_at",)}


@cache
def _statement(tables: tuple[str, ...]):
    def digest(table: str) -> str:
        row = "to_jsonb(t)" + "".join(f" - '{column}'" for column in NOT_DIGESTED.get(table, ()))
        # Ordered by the row's own text: every table has a key, not every key is called id.
        return (f"(SELECT count(*) || ' ' || md5(coalesce(string_agg(({row})::text, ',' ORDER BY ({row})::text), ''))"
                f" FROM {table} t)")

    return text("SELECT " + ", ".join(digest(table) for table in tables))


def snapshot(db) -> dict[str, str]:
    """Every table of the schema (so a new one is watched too) and the job queue (a deferred job is a write): its
    row count and a digest of all its rows, in one round trip."""
    tables = tuple(table.name for table in db.metadata.sorted_tables) + ("procrastinate_jobs",)
    with db.engine.connect() as conn:
        return dict(zip(tables, conn.execute(_statement(tables)).one(), strict=True))
