"""Sections 4–6 of BENCHMARKS.md and the hot path's profile: tables, plots, and what the profile led to."""

import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

GROUPS = ("load generator", "gunicorn", "postgresql", "other processes")


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _save(fig, results: Path, root: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(results / name, dpi=110)
    plt.close(fig)
    return str((results / name).relative_to(root))


def _plain_numbers(axis) -> None:
    """Log-scale ticks as 20, 50, 100, not 2×10¹: both the labelled and the minor ticks."""
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(plain)


def plot_throughput(http: dict, results: Path, root: Path) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, sat), marker in zip(http["saturation"].items(), "os", strict=False):
        users = sorted(sat["by_users"])
        left.plot(users, [sat["by_users"][u]["per_s"] for u in users], marker + "-", label=name)
        right.plot(users, [sat["by_users"][u]["p99_ms"] for u in users], marker + "-", label=f"{name}, p99")
        right.plot(users, [sat["by_users"][u]["p50_ms"] for u in users], marker + "--", label=f"{name}, p50")
    left.axhline(http["goals"]["orders_per_s"], color="grey", linestyle=":", label="goal")
    left.axhline(http["healthz"]["per_s"], color="green", linestyle="-.", label="GET /healthz (the floor)")
    left.set_xscale("log", base=2)
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    for axis in (left.xaxis, right.xaxis, right.yaxis):
        _plain_numbers(axis)
    left.set_xlabel("concurrent clients (closed loop)")
    right.set_xlabel("concurrent clients (closed loop)")
    left.set_ylabel("orders/s (median of runs)")
    right.set_ylabel("latency ms (median of runs)")
    left.set_title(f"POST /api/v1/orders under gunicorn, {http['workers']} workers")
    right.set_title("Latency at saturation")
    for ax in (left, right):
        ax.grid(alpha=.3)
        ax.legend(fontsize=8)
    return _save(fig, results, root, "http_throughput.png")


def plot_latency(http: dict, results: Path, root: Path) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    for fixed in http["fixed_rate"]:
        points = [(p, ms) for p, ms in fixed["percentiles"] if p < 100]
        ax.plot([-math.log10(1 - p / 100) for p, _ in points], [ms for _, ms in points], "o-",
                label=f"{fixed['rate']:.0f} orders/s (open loop)")
    ax.axhline(http["goals"]["p99_ms"], color="grey", linestyle=":", label="goal at p99")
    ticks = [50, 90, 99, 99.9]
    ax.set_xticks([-math.log10(1 - p / 100) for p in ticks], [f"p{p:g}" for p in ticks])
    ax.set_yscale("log")
    _plain_numbers(ax.yaxis)
    ax.set_xlabel("percentile")
    ax.set_ylabel("ms from the scheduled send")
    ax.set_title("Order latency at a fixed rate, 1,000 accounts")
    ax.grid(alpha=.3)
    ax.legend(fontsize=8)
    return _save(fig, results, root, "http_latency.png")


def _windows(http: dict) -> dict[str, dict]:
    windows = {f"saturation, {name}": sat["cpu"] for name, sat in http["saturation"].items()}
    windows["GET /healthz at saturation"] = http["healthz"]["cpu"]
    windows |= {f"open loop {f['rate']:.0f}/s": f["cpu"] for f in http["fixed_rate"]}
    return windows


def plot_cpu(http: dict, results: Path, root: Path) -> str:
    windows = _windows(http)
    names = list(windows)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.6 * len(names) + 1.6), sharey=True)
    cores_left, ms_left = [0.0] * len(names), [0.0] * len(names)
    for group in GROUPS:
        cores = [windows[n][group]["cores"] for n in names]
        left.barh(names, cores, left=cores_left, label=group)
        cores_left = [a + b for a, b in zip(cores_left, cores, strict=True)]
        if group != "other processes":
            ms = [windows[n][group]["ms_per_order"] or 0.0 for n in names]
            right.barh(names, ms, left=ms_left, label=group)
            ms_left = [a + b for a, b in zip(ms_left, ms, strict=True)]
    left.axvline(http["cpus"], color="grey", linestyle=":")
    left.invert_yaxis()
    left.set_xlabel("cores used (CPU seconds / second)")
    right.set_xlabel("CPU ms per answered request")
    left.set_title("Where the CPU went")
    right.set_title("CPU per request (less sensitive to other load)")
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=4)
    return _save(fig, results, root, "http_cpu.png")


def section_http(http: dict, service: dict, results: Path, root: Path) -> list[str]:
    goals = http["goals"]
    spread, hot = http["saturation"]["1,000 accounts"], http["saturation"]["1 hot account"]
    in_process = service.get("1,000 accounts", {}).get("service_orders_per_s")
    lines = [
        "## 4. HTTP end to end", "",
        f"`gunicorn -c gunicorn.conf.py wsgi:app` with {http['workers']} sync workers (the config's default, "
        "2 × cores + 1: a worker waiting on PostgreSQL leaves its core to another), `APP_ENV=production`, "
        "JSON logs at INFO to a file, metrics in multiprocess mode, on the bench database and a free "
        "127.0.0.1 port. The load generator is `bench/loadgen.py`, its own process on the same machine: one "
        "asyncio loop sending pre-formatted requests and reading the answers with a bare protocol. On two cores "
        "whatever the generator burns is taken from the server it measures: locust 2.47 (FastHttpUser), tried "
        "once against the same gunicorn on `GET /healthz`, spent about 1.5 × this generator's CPU per request "
        "(after its ~1 s start-up) and the server answered 10–15 % fewer requests beside it; its fixed-rate "
        "mode also paces each user instead of sending on a schedule. The generator's own CPU per request is "
        "in the split below. Every order is `POST /api/v1/orders` with a retailer's bearer token and its own "
        "`Idempotency-Key`, one line of a 1.00 product; the sync worker closes the connection after each "
        "response, so each request opens its own loopback connection. Before each window the tokens are "
        "marked used, as steady traffic keeps them (the token check's UPDATE then matches no row and "
        "commits nothing). "
        f"Closed loop at {', '.join(map(str, http['users']))} concurrent clients, {http['runs']} run(s) × "
        f"{http['seconds']:g} s each, medians of the runs; saturation is the best concurrency. Goals: "
        f"≥ {goals['orders_per_s']} orders/s at saturation, p99 ≤ {goals['p99_ms']} ms at 200 orders/s.", "",
        "| load | clients | per s (median) | ratio to goal | p50 ms | p99 ms | errors | runs × s |",
        "|---|---|---|---|---|---|---|---|"]
    rows = [("orders, 1,000 accounts", spread), ("orders, 1 hot account", hot),
            ("GET /healthz (the stack's floor)", http["healthz"])]
    for name, sat in rows:
        ratio = f"{sat['per_s'] / goals['orders_per_s']:.2f}" if "orders" in name else "–"
        lines.append(f"| {name} | {sat['best_users']} | {sat['per_s']:.0f} | {ratio} | {sat['p50_ms']:.1f} | "
                     f"{sat['p99_ms']:.1f} | {sat['errors']} | {http['runs']} × {http['seconds']:g} |")
    split = spread["cpu"]
    per_order = sum(split[g]["ms_per_order"] for g in ("load generator", "gunicorn", "postgresql"))
    ceiling = http["cpus"] * 1000 / per_order
    floor_ms = http["healthz"]["cpu"]["gunicorn"]["ms_per_order"]
    lines += ["", f"- CPU per order over 1,000 accounts (less disturbed by other load than the rates, not immune: "
              f"a busy machine's caches and shared cores make every instruction dearer): gunicorn "
              f"{split['gunicorn']['ms_per_order']:.1f} ms, PostgreSQL {split['postgresql']['ms_per_order']:.1f} ms, "
              f"generator {split['load generator']['ms_per_order']:.1f} ms — {per_order:.1f} ms in all; at that cost "
              f"{http['cpus']} cores with nothing else running would serve at most ~{ceiling:.0f} orders/s, and "
              f"{goals['orders_per_s']}/s needs ≤ {http['cpus'] * 1000 / goals['orders_per_s']:.1f} ms in all. "
              f"`GET /healthz` alone costs gunicorn {floor_ms:.1f} ms (Flask, the request log and metrics, one "
              "round trip).",
              f"- Hot account / 1,000 accounts: **{http['hot_to_spread']:.2f}**; orders / `GET /healthz`: "
              f"**{http['orders_to_healthz']:.2f}**" + (
                  f"; HTTP / the in-process service of section 1 (8 threads, one process): "
                  f"**{spread['per_s'] / in_process:.2f}**" if in_process else "") + ".",
              f"- ≥ {goals['orders_per_s']} orders/s at saturation: {_met(spread['per_s'] >= goals['orders_per_s'])} "
              f"on this machine ({spread['per_s']:.0f}/s over 1,000 accounts, {hot['per_s']:.0f}/s on one)."]
    if len(http["users"]) > 1:
        lines += ["", "| clients | 1,000 accounts /s | p50 ms | p99 ms | 1 hot account /s | p50 ms | p99 ms |",
                  "|---|---|---|---|---|---|---|"]
        for users in http["users"]:
            a, b = spread["by_users"][users], hot["by_users"][users]
            lines.append(f"| {users} | {a['per_s']:.0f} | {a['p50_ms']:.1f} | {a['p99_ms']:.1f} | {b['per_s']:.0f} | "
                         f"{b['p50_ms']:.1f} | {b['p99_ms']:.1f} |")
    lines += ["", f"![throughput]({plot_throughput(http, results, root)})", "",
              "Open loop over 1,000 accounts: orders sent on a fixed schedule whatever the server does, latency "
              "counted from the scheduled time (a queue in front of the server shows as latency, not as a "
              "lower rate).", "",
              "| rate /s | answered in the window /s | p50 ms | p99 ms | p99 / goal | errors | "
              "not answered (of scheduled) | runs × s |",
              "|---|---|---|---|---|---|---|---|"]
    for fixed in http["fixed_rate"]:
        missing = fixed["scheduled"] - fixed["answered"]
        lines.append(f"| {fixed['rate']:.0f} | {fixed['per_s']:.0f} | {fixed['p50_ms']:.1f} | {fixed['p99_ms']:.1f} | "
                     f"{fixed['p99_ms'] / goals['p99_ms']:.2f} | {fixed['errors']} | "
                     f"{missing} of {fixed['scheduled']} | {fixed['runs']} × {fixed['seconds']:g} |")
    at_200 = http["fixed_rate"][0]
    lines.append("")
    lines.append(f"- p99 ≤ {goals['p99_ms']} ms at 200 orders/s: {_met(at_200['p99_ms'] <= goals['p99_ms'])} on "
                 f"this machine (p99 {at_200['p99_ms']:.1f} ms).")
    if len(http["fixed_rate"]) > 1:
        lines.append(f"- Saturation here is below 200 orders/s, so 200/s overloads the server and its queue "
                     f"grows for the whole window; the second row is at 70 % of saturation "
                     f"({http['fixed_rate'][1]['rate']:.0f}/s).")
    lines += ["", f"![latency]({plot_latency(http, results, root)})", "",
              "CPU split, sampled (psutil, user + system) when each window opened and closed: the load generator, "
              "gunicorn's master and workers, and PostgreSQL (the bench database's backends, the server's own "
              "processes and the postmaster); 'other processes' is the rest of the machine's busy time "
              "(anything else running, such as other test suites). Cores used, and CPU ms per answered request.",
              "", "| window | load generator | gunicorn | PostgreSQL | other processes | whole machine |",
              "|---|---|---|---|---|---|"]
    for name, split in _windows(http).items():
        cells = []
        for group in (*GROUPS, "whole machine"):
            figures = split[group]
            per = f" ({figures['ms_per_order']:.1f} ms)" if figures["ms_per_order"] is not None else ""
            cells.append(f"{figures['cores']:.2f}{per}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"![cpu]({plot_cpu(http, results, root)})", ""]
    if http["server_errors"]:
        lines += ["Errors in gunicorn's log during the runs (first ones):", "", "```",
                  *http["server_errors"], "```", ""]
    return lines


def section_ledger_pages(pages: dict) -> list[str]:
    lines = ["## 5. Ledger pages on a long ledger", "",
             f"One account with {pages['entries']:,} entries (bulk-loaded like section 2), 50 entries a page: "
             f"the first page, and a page deep in the history (`after={pages['deep_cursor']}`, the 50 oldest "
             f"entries). Server time measured {pages['measured']} — from the request entering the app to the "
             f"whole body built, no network; the cases run round-robin. Goal: median ≤ {pages['goal_ms']} ms.", ""]
    if not pages["html_page"]:
        lines += ["The wholesaler's HTML ledger page (`wholesalers.account`) is not in this build: only the API "
                  "is measured.", ""]
    lines += ["| page | median ms | p90 ms | median / goal | goal | body bytes | requests |",
              "|---|---|---|---|---|---|---|"]
    for name, case in pages["cases"].items():
        verdict = _met(case["median_ms"] <= pages["goal_ms"]) if case["goal"] else "not a goal"
        lines.append(f"| {name} | {case['median_ms']:.1f} | {case['p90_ms']:.1f} | "
                     f"{case['median_ms'] / pages['goal_ms']:.2f} | {verdict} | {case['bytes']:,} | "
                     f"{case['requests']} |")
    filtered = next((c for n, c in pages["cases"].items() if n.startswith("HTML, filtered")), None)
    if filtered:
        lines += ["", "The last row is a filter that no entry matches (`?type=CREDIT` on a ledger of adjustments): "
                  "the keyset walk of `(credit_account_id, id DESC)` then reads the whole account's index and rows "
                  "to find none, so its cost grows with the ledger, unlike the pages above."]
    return lines + [""]


def section_memory(memory: dict, workers: int) -> list[str]:
    lines = ["## 6. Memory per gunicorn worker", "",
             f"Resident memory of each of the {workers} workers right after the HTTP runs (psutil): RSS, and USS, "
             "the part no other process shares (the workers load the app after the fork, so most of RSS is "
             f"their own). Goal: RSS ≤ {memory['goal_mb']} MB per worker.", "",
             "| worker | RSS MB | USS MB | PSS MB |", "|---|---|---|---|"]
    for i, worker in enumerate(memory["workers"], 1):
        lines.append(f"| {i} | {worker['rss_mb']:.1f} | {worker['uss_mb']:.1f} | {worker['pss_mb']:.1f} |")
    largest = memory["rss_mb_max"]
    lines += ["", f"Median RSS {memory['rss_mb_median']:.1f} MB (largest {largest:.1f} MB, "
              f"{largest / memory['goal_mb']:.2f} of the goal): {_met(largest <= memory['goal_mb'])}. "
              f"The master holds {memory['master_rss_mb']:.1f} MB.", ""]
    return lines


#: What earlier profiles of this path showed, and what was changed in app/ because of it.
CHANGES_FROM_THE_PROFILE = [
    "**A statement built per call cost more CPU than running it.** SQLAlchemy computes a built "
    "statement's cache key afresh on every call; the credit lock, the token check, the idempotency "
    "look-up and the catalogue prices are now built once at import with bound parameters "
    "(`app/services/transactions.py` `_LOCK_BY_ID`/`_LOCK_BY_PARTIES`, `app/services/orders.py`, "
    "`app/services/tokens.py`).",
    "**The ORM's per-call work on rows that are plain values.** The token check, the idempotency look-up, "
    "pricing and the order's write run as Core statements on the session's connection "
    "(`app/services/sql.py`), in the same transaction; only the locked account is loaded as an "
    "object, since the decision works on it.",
    "**The idempotency key was looked up a second time under the lock.** The order's insert now says "
    "`ON CONFLICT ON CONSTRAINT uq_orders_retailer_idempotency_key DO NOTHING`, and the key is looked up "
    "under the lock only when that insert met a twin or the order was refused: one round trip less while "
    "the account is locked, for every keyed order.",
    "**The token check wrote on every request, and the request log reloaded the user after the commit.** "
    "`last_used_at` is written only when it is a minute old, and the token's user is read into plain "
    "values (`ActingUser`), so nothing reloads it: four round trips less per request (the UPDATE; the "
    "user's SELECT, its check-out ping and its rollback).",
    "Left as it is: `pool_pre_ping`'s round trip on each check-out (one per request), since it "
    "turns a PostgreSQL restart into no error at all.",
]


def _statement_costs(costs: dict) -> list[str]:
    lines = ["", f"What the first two bought, measured in this run: CPU of this process per call, before (built per "
             f"call, through the ORM session) and now, median of {costs['runs']} runs of {costs['calls']} calls on "
             "the same rows. The SQL sent is the same, so the database's share is not in these figures.", "",
             "| look-up | before µs | now µs | now / before |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['before_us']:.0f} | {r['now_us']:.0f} | {r['ratio']:.2f} |"
              for name, r in costs["statements"].items()]
    return lines


def section_profile(profile: dict) -> list[str]:
    per = profile["per_request"]
    trips = per.get("statements", 0) + per.get("commits", 0) + per.get("rollbacks", 0) + \
        per.get("pool check-outs (each pre-pings)", 0)
    lines = ["## Profile of the hot path: POST /api/v1/orders", "",
             f"pyinstrument, in-process through the Flask test client (so one worker's view, no gunicorn), "
             f"{profile['requests']} orders over 100 accounts with tokens and idempotency keys, after a warm-up: "
             f"{profile['ms_per_request']:.2f} ms per order without the profiler "
             f"({profile['cpu_ms_per_request']:.2f} ms of it CPU in this process), "
             f"{profile['ms_per_request_profiled']:.2f} ms with it. The full call tree and flat list: "
             f"`{profile['profile_file']}`.", "",
             f"Database round trips per order (SQLAlchemy events): **{trips:.0f}**.", "",
             "| per order | count |", "|---|---|"]
    lines += [f"| {name} | {n:g} |" for name, n in per.items()]
    lines += ["", "The statements of one order, in order:", "", "```",
              *profile["statements_of_one_request"], "```", "",
              "Where the time goes, inclusive (shares of the whole request; indented rows are part of the one "
              "above):", "", "| part | share |", "|---|---|"]
    lines += [f"| {name.replace('  of which', '&nbsp;&nbsp;of which')} | {share:.0%} |"
              for name, share in profile["summary"]["key_functions"]]
    lines += ["", "Self time by library (top):", "", "| library | share |", "|---|---|"]
    lines += [f"| {name} | {share:.0%} |" for name, share in profile["summary"]["by_library"]]
    lines += ["", "What dominates: the database round trips — psycopg and SQLAlchemy's execution path carry most "
              "of the self time, and each round trip is paid in Python (compiling, sending, waiting, building "
              "rows) as well as in PostgreSQL. What the profile led to in `app/`:", ""]
    lines += [f"{i}. {text}" for i, text in enumerate(CHANGES_FROM_THE_PROFILE, 1)]
    return lines + _statement_costs(profile["statement_costs"]) + [""]
