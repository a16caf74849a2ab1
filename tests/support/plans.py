"""The plan PostgreSQL keeps for a prepared statement, to prove a query can use its index for any values."""

import re


def generic_plan(db, statement, params: dict) -> str:
    """The plan PostgreSQL keeps for a statement the driver has prepared: made once for any parameter values."""
    compiled = statement.compile(db.engine)
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", compiled.string)))
    numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", compiled.string)
    values = compiled.params | params
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE probe AS {numbered}")
        arguments = ", ".join(f"'{getattr(values[n], 'value', values[n])}'" for n in names)  # ids, dates, words
        rows = conn.exec_driver_sql(f"EXPLAIN EXECUTE probe({arguments})")
        plan = "\n".join(r[0] for r in rows)
        conn.exec_driver_sql("DEALLOCATE probe")
    return plan
