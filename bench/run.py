"""Run the benchmarks and write BENCHMARKS.md with plots under bench/results/ (BENCH_QUICK=1 for a smoke run)."""

import json
import os
import platform
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.extensions import db  # noqa: E402
from bench import (  # noqa: E402
    account_list,
    book_ageing,
    burst,
    held_orders,
    http_e2e,
    ledger_length,
    ledger_pages,
    profile_orders,
    report_serving,
    service_vs_sql,
    statements,
)
from bench.common import QUICK, bench_app  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# A quick run only smoke-tests the code: its report and plots stay out of the committed results.
RESULTS = ROOT / "bench" / "results" / ("quick" if QUICK else "")


def machine(app) -> dict:
    with app.app_context():
        server = db.session.execute(text("SHOW server_version")).scalar()
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "postgresql": server,
            "database": "BENCH_DATABASE_URL" if os.environ.get("BENCH_DATABASE_URL") else "embedded server"}


def plot_ledger(results: dict) -> str:
    sizes = [int(s) for s in results]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sizes, [r["order_ms_median"] for r in results.values()], "o-", label="place an order (stored balance)")
    ax.plot(sizes, [r["sum_balance_ms_median"] for r in results.values()], "s--",
            label="seed: balance = SUM of entries (query alone)")
    ax.set_xscale("symlog", linthresh=10_000)
    ax.set_xlabel("entries already on the account")
    ax.set_ylabel("median ms")
    ax.set_title("Cost against ledger length")
    ax.grid(alpha=.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "ledger_length.png", dpi=110)
    plt.close(fig)
    return str((RESULTS / "ledger_length.png").relative_to(ROOT))


def plot_burst(results: dict) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    policies = sorted({r["policy"] for r in results.values()})
    sizes = sorted({r["orders"] for r in results.values()})
    width = 0.8 / len(policies)
    for i, policy in enumerate(policies):
        by_size = {r["orders"]: r["rejected_median"] for r in results.values() if r["policy"] == policy}
        rejected = [by_size[n] for n in sizes]
        bars = ax.bar([x + i * width for x in range(len(sizes))], rejected, width, label=policy)
        ax.bar_label(bars)
    ax.set_xticks([x + width * (len(policies) - 1) / 2 for x in range(len(sizes))], [str(n) for n in sizes])
    ax.set_xlabel("concurrent orders on one account (all fit)")
    ax.set_ylabel("refused MAX_RETRIES_EXCEEDED (median)")
    ax.set_title("Bursts on one account")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "burst.png", dpi=110)
    plt.close(fig)
    return str((RESULTS / "burst.png").relative_to(ROOT))


def report(facts: dict, results: dict, seconds: float) -> str:
    svc, ledger, bursts = results["service_vs_sql"], results["ledger_length"], results["burst"]
    lines = [
        "# Benchmarks", "",
        f"Measured by `{'make bench-quick' if QUICK else 'make bench'}` in one run of {seconds:.0f} s on "
        f"{facts['cpus']} CPUs ({facts['processor']}), Python {facts['python']}, PostgreSQL {facts['postgresql']} "
        f"({facts['database']}). Every compared figure was measured side by side in this run; medians of the "
        "runs given. Service and baseline run in one process on threads, so they share one interpreter "
        "lock: a deployment with several worker processes does better than these absolute figures.", "",
        "## 1. Service against hand-written SQL", "",
        "The same reservation (price, lock, insert order, line and DEBIT, update balance, commit) through "
        "`place_order` and as psycopg statements written by hand. Goal: service ≥ 0.5 × SQL.", "",
        "| accounts | threads | SQL orders/s | service orders/s | ratio | runs × seconds |",
        "|---|---|---|---|---|---|"]
    for name, r in svc.items():
        lines.append(f"| {name} | {r['threads']} | {r['sql_orders_per_s']:.0f} | {r['service_orders_per_s']:.0f} | "
                     f"{r['ratio']:.2f} | {r['runs']} × {r['seconds']:.0f} |")
    lines += ["", "## 2. Ledger length", "",
              "Median latency of placing an order on an account that already holds N entries, beside the "
              "seed's design, which sums every entry to know the balance. Each loaded entry is a charge; the "
              "latest 10,000 are still open and not yet due, the rest settled; the account's overdue hold is on, "
              "so every order looks for overdue items under the lock. Goal: 1M / 0 ≤ 1.2.", "",
              "| entries | open items | order ms (median) | ratio to 0 | seed's SUM query ms (median) |",
              "|---|---|---|---|---|"]
    for size, r in ledger.items():
        lines.append(f"| {int(size):,} | {r.get('open_items', 0):,} | {r['order_ms_median']:.2f} | "
                     f"{r['ratio_to_empty']:.2f} | {r['sum_balance_ms_median']:.2f} |")
    lines += ["", f"![ledger length]({plot_ledger(ledger)})", "", "## 3. Bursts on one account", "",
              "N orders released together by a barrier, all within the limit. Ours: NOWAIT, then one wait in "
              "PostgreSQL's lock queue bounded by the 2 s deadline. Seed: NOWAIT, 3 attempts, 50 ms then "
              "100 ms pauses. Goal: no refusal at 50.", "",
              "| policy | orders | refused (median) | p50 ms | p99 ms | runs |", "|---|---|---|---|---|---|"]
    for r in bursts.values():
        lines.append(f"| {r['policy']} | {r['orders']} | {r['rejected_median']:.0f} | {r['p50_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} | {r['runs']} |")
    lines += ["", f"![bursts]({plot_burst(bursts)})", ""]
    lines += report_serving.section_http(results["http"], svc, RESULTS, ROOT)
    lines += report_serving.section_ledger_pages(results["ledger_pages"])
    lines += report_serving.section_memory(results["http"]["memory"], results["http"]["workers"])
    lines += book_ageing.section(results["book_ageing"])
    lines += account_list.section(results["account_list"])
    lines += statements.section(results["statements"])
    lines += held_orders.section(results["held_orders"])
    lines += report_serving.section_profile(results["profile"])
    return "\n".join(lines)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    app = bench_app()
    facts = machine(app)
    results = {}
    sections = (("service_vs_sql", service_vs_sql.run), ("ledger_length", ledger_length.run), ("burst", burst.run),
                ("http", http_e2e.run), ("ledger_pages", ledger_pages.run),
                ("book_ageing", book_ageing.run), ("account_list", account_list.run),
                ("statements", statements.run), ("held_orders", held_orders.run),
                ("profile", lambda app: profile_orders.run(app, RESULTS)))
    for name, run in sections:
        print(f"== {name}", flush=True)
        section_started = time.monotonic()
        results[name] = run(app)
        print(json.dumps(results[name], indent=1, default=str), flush=True)
        print(f"== {name}: {time.monotonic() - section_started:.0f} s", flush=True)
    (RESULTS / "results.json").write_text(json.dumps({"machine": facts, "results": results}, indent=1, default=str))
    target = RESULTS / "BENCHMARKS.md" if QUICK else ROOT / "BENCHMARKS.md"
    target.write_text(report(facts, results, time.monotonic() - started))
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
