"""4. HTTP end to end under the real gunicorn, and 6. memory per worker after that run.

`gunicorn -c gunicorn.conf.py wsgi:app` serves the bench database on a free loopback port; the load
generator (bench/loadgen.py, its own process) posts orders with retailers' API tokens:
  - saturation: closed loop at several concurrencies, over 1,000 accounts and over one hot account;
  - latency: open loop at a fixed 200 orders/s (and at 70 % of saturation when that is lower);
and the CPU times of generator, gunicorn and PostgreSQL are sampled when each window opens and closes.
"""

import os
import tempfile
from pathlib import Path

from sqlalchemy import text

from app.extensions import db
from bench.common import QUICK, make_accounts, make_api_tokens, median, percentile, reset
from bench.processes import CpuSampler, gunicorn, plain_database_url, run_loadgen, tree

ACCOUNTS = 1000
#: gunicorn.conf.py's own default, 2 × cores + 1: a worker waiting on PostgreSQL leaves its core to another.
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
#: Concurrent clients of the closed loop; saturation is the best median among them.
USERS = [16] if QUICK else [4, 8, 16, 32]
SECONDS = 2.0 if QUICK else 5.0
RUNS = 1 if QUICK else 3
FIXED_RATE = 200.0
#: How long the generator waits for answers after a window before counting them unanswered.
DRAIN_SECONDS = 2.0 if QUICK else 5.0
OPEN_SECONDS = 1.5 if QUICK else 10.0
#: The issue's goals.
GOAL_ORDERS_PER_S, GOAL_P99_MS, GOAL_RSS_MB = 500, 50, 100
GROUPS = ("load generator", "gunicorn", "postgresql")


def _mark_tokens_used(app) -> None:
    """Steady traffic uses each token more than once a minute, so last_used_at is fresh and the token
    check writes nothing; without this the first use of each token in a window would also commit."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET last_used_at = now()"))


class _Runner:
    def __init__(self, app, server, directory: Path, target: dict, tokens: list[str]):
        self.app, self.server, self.directory = app, server, directory
        self.target, self.tokens = target, tokens
        self.sampler = CpuSampler(plain_database_url(app))
        self.postgres = []

    def _sample(self, loadgen_pid: int) -> dict:
        return self.sampler.sample({"load generator": tree(loadgen_pid), "gunicorn": self.server.processes(),
                                    "postgresql": self.postgres})

    def load(self, tokens: list[str], **config) -> dict:
        _mark_tokens_used(self.app)
        # Listed before the window, not in it: the workers' pooled connections are open after the warm-up.
        self.postgres = self.sampler.postgres_processes()
        config = {"host": "127.0.0.1", "port": self.server.port, "tokens": tokens, "idempotency_keys": True,
                  "drain_seconds": DRAIN_SECONDS,
                  "wholesaler_id": self.target["wholesaler_id"], "product_id": self.target["product_id"]} | config
        result, samples = run_loadgen(config, self.directory, sample=self._sample)
        result["idle_wait_s"] = self.server.wait_idle()  # the next run starts on an idle server
        latencies = result.pop("latencies_ms")
        result["p50_ms"] = percentile(latencies, 50) if latencies else None
        result["p99_ms"] = percentile(latencies, 99) if latencies else None
        result["cpu_s"] = CpuSampler.difference(samples["START"], samples["END"])
        result["errors"] = sum(n for status, n in result["statuses"].items() if status not in ("200", "201"))
        return result | {"latencies_ms": latencies}


def _cpu_split(runs: list[dict]) -> dict:
    """Cores used by each group over the runs (CPU seconds / wall seconds) and CPU ms per order."""
    window = sum(r["window_s"] for r in runs)
    orders = sum(r["completed"] for r in runs)
    split = {}
    for name in (*GROUPS, "whole machine"):
        seconds = sum(r["cpu_s"][name] for r in runs)
        split[name] = {"cores": seconds / window, "ms_per_order": 1000 * seconds / orders if orders else None}
    other = split["whole machine"]["cores"] - sum(split[g]["cores"] for g in GROUPS)
    split["other processes"] = {"cores": max(0.0, other), "ms_per_order": None}
    return split


def _saturation(runner: _Runner, scenarios: dict[str, dict]) -> dict:
    """Closed loop for each scenario (name → its tokens, concurrencies and loadgen options). The windows
    alternate between scenarios at each concurrency, run after run, so noise from the rest of the machine
    falls on every scenario alike."""
    runs: dict[tuple[str, int], list[dict]] = {}
    concurrencies = sorted({u for scenario in scenarios.values() for u in scenario["users"]})
    for i in range(RUNS):
        for users in concurrencies:
            for name, scenario in scenarios.items():
                if users in scenario["users"]:
                    runs.setdefault((name, users), []).append(runner.load(
                        scenario["tokens"], mode="closed", users=users, seconds=SECONDS, seed=i,
                        **scenario.get("config", {})))
    results = {}
    for name, scenario in scenarios.items():
        by_users = {}
        for users in scenario["users"]:
            done = runs[(name, users)]
            figures = by_users[users] = {
                "per_s": median([r["per_s"] for r in done]), "p50_ms": median([r["p50_ms"] for r in done]),
                "p99_ms": median([r["p99_ms"] for r in done]), "errors": sum(r["errors"] for r in done),
                "statuses": [r["statuses"] for r in done], "cpu": _cpu_split(done), "runs": len(done)}
            print(f"   {name}, {users} clients: {figures['per_s']:.0f}/s p50 {figures['p50_ms']:.1f} ms "
                  f"p99 {figures['p99_ms']:.1f} ms, errors {figures['errors']}", flush=True)
        best = max(by_users, key=lambda u: by_users[u]["per_s"])
        results[name] = {"by_users": by_users, "best_users": best,
                         **{k: by_users[best][k] for k in ("per_s", "p50_ms", "p99_ms", "errors", "cpu")}}
    return results


def _curve(latencies: list[float]) -> list[tuple[float, float]]:
    points = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 98, 99, 99.5, 99.9, 100]
    return [(p, percentile(latencies, p)) for p in points] if latencies else []


def _fixed_rate(runner: _Runner, tokens: list[str], rate: float) -> dict:
    runs = [runner.load(tokens, mode="open", rate=rate, seconds=OPEN_SECONDS, seed=100 + i) for i in range(RUNS)]
    figures = {"rate": rate, "runs": len(runs), "seconds": OPEN_SECONDS,
               "per_s": median([r["per_s"] for r in runs]),
               "p50_ms": median([r["p50_ms"] for r in runs]), "p99_ms": median([r["p99_ms"] for r in runs]),
               "errors": sum(r["errors"] for r in runs), "dropped": sum(r["dropped"] for r in runs),
               "scheduled": sum(r["scheduled"] for r in runs), "answered": sum(r["answered"] for r in runs),
               "unanswered": sum(r["unanswered"] for r in runs),
               "max_send_lag_ms": max(r["max_send_lag_ms"] for r in runs), "cpu": _cpu_split(runs),
               # the latency curve of the median run (by p99), for the plot
               "percentiles": _curve(sorted(runs, key=lambda r: r["p99_ms"])[len(runs) // 2]["latencies_ms"])}
    print(f"   open loop {rate:.0f}/s: p50 {figures['p50_ms']:.1f} ms p99 {figures['p99_ms']:.1f} ms "
          f"errors {figures['errors']} unanswered {figures['unanswered']}", flush=True)
    return figures


def _memory(server) -> dict:
    workers = []
    for process in server.worker_processes():
        info = process.memory_full_info()
        workers.append({"pid": process.pid, "rss_mb": info.rss / 2**20, "uss_mb": info.uss / 2**20,
                        "pss_mb": getattr(info, "pss", 0) / 2**20})
    master = server.master.memory_info().rss / 2**20
    return {"workers": workers, "master_rss_mb": master, "rss_mb_max": max(w["rss_mb"] for w in workers),
            "rss_mb_median": median([w["rss_mb"] for w in workers]),
            "uss_mb_median": median([w["uss_mb"] for w in workers]), "goal_mb": GOAL_RSS_MB}


def run(app) -> dict:
    reset(app)
    targets = make_accounts(app, ACCOUNTS)
    tokens = make_api_tokens(app, targets)
    lifetime = 900 if not QUICK else 300  # the server's hard upper bound, far beyond the runs below
    with tempfile.TemporaryDirectory(prefix="creditline-bench-") as tmp, \
            gunicorn(app, workers=WORKERS, directory=Path(tmp), lifetime=lifetime) as server:
        runner = _Runner(app, server, Path(tmp), targets[0], tokens)
        runner.load(tokens, mode="closed", users=8, seconds=1.0 if QUICK else 2.0)  # warm-up: pools, imports
        saturation = _saturation(runner, {
            "1,000 accounts": {"tokens": tokens, "users": USERS},
            "1 hot account": {"tokens": tokens[:1], "users": USERS},
            # The stack's floor: the same server answering GET /healthz (one SELECT 1), no token, no order.
            "GET /healthz": {"tokens": tokens[:1], "users": [max(USERS)], "config": {"get": "/healthz"}}})
        floor = saturation.pop("GET /healthz")
        fixed = [_fixed_rate(runner, tokens, FIXED_RATE)]
        if saturation["1,000 accounts"]["per_s"] < FIXED_RATE:  # past what this machine sustains: also at 70 %
            fixed.append(_fixed_rate(runner, tokens, float(round(0.7 * saturation["1,000 accounts"]["per_s"]))))
        memory = _memory(server)
        server_errors = [line for line in server.log.read_text(errors="replace").splitlines()
                         if '"level": "ERROR"' in line or '"level": "CRITICAL"' in line][:5]
    hot, spread = saturation["1 hot account"]["per_s"], saturation["1,000 accounts"]["per_s"]
    return {"workers": WORKERS, "cpus": os.cpu_count(), "users": USERS, "seconds": SECONDS, "runs": RUNS,
            "accounts": ACCOUNTS,
            "saturation": saturation, "hot_to_spread": hot / spread if spread else None, "healthz": floor,
            "orders_to_healthz": spread / floor["per_s"] if floor["per_s"] else None,
            "fixed_rate": fixed, "memory": memory, "server_errors": server_errors,
            "goals": {"orders_per_s": GOAL_ORDERS_PER_S, "p99_ms": GOAL_P99_MS, "rss_mb": GOAL_RSS_MB}}
