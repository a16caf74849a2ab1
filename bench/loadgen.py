"""A small HTTP load generator for section 4: closed or open loop, one asyncio loop, one process.

Run as ``python -m bench.loadgen CONFIG.json``; it prints ``START`` when the measured window opens,
``END`` when it closes (so the caller can sample CPU times of the server processes at those two
moments), then one JSON line with the figures. It stops by itself: the window is ``seconds`` long,
requests still in flight get ``drain_seconds`` more, and every request has its own timeout.

Why not locust: on this 2-core machine the generator's CPU comes straight out of the server's. This
one spends a few tens of microseconds per request (the requests are pre-formatted bytes, the
responses are read with a bare asyncio protocol) and its open loop is a true one: requests are
sent on a fixed schedule whatever the server does, and latency is counted from the scheduled
time, so a stalled server shows as latency rather than as a lower sending rate (coordinated
omission). Gunicorn's sync worker closes the connection after every response, so each request
opens its own loopback connection, as a client behind a non-pooling proxy would.
"""

import asyncio
import json
import os
import random
import sys
import time


class _Exchange(asyncio.Protocol):
    """One request on its own connection: send, read status line, headers and body, close."""

    def __init__(self, payload: bytes, done: asyncio.Future):
        self.payload, self.done, self.buffer = payload, done, bytearray()
        self.body_at = self.length = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.payload)

    def data_received(self, data):
        self.buffer += data
        if self.body_at is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.body_at = end + 4
            for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    self.length = int(value)
        if self.length is not None and len(self.buffer) - self.body_at >= self.length:
            self._finish()
            self.transport.close()

    def connection_lost(self, exc):
        self._finish()

    def _finish(self):
        if self.done.done():
            return
        if self.body_at is None:
            self.done.set_result(("error", 0))
            return
        try:
            status = int(self.buffer[9:12])
        except ValueError:
            status = 0
        complete = self.length is None or len(self.buffer) - self.body_at >= self.length
        self.done.set_result(("ok" if complete else "error", status))


class Generator:
    def __init__(self, config: dict):
        self.config = config
        self.host, self.port = config["host"], config["port"]
        self.tokens = config["tokens"]
        self.rng = random.Random(config.get("seed", 0))
        self.run_id = os.urandom(4).hex()
        self.sent = 0
        if config.get("get"):  # a plain GET instead of an order: the stack's floor, e.g. /healthz
            self.head = f"GET {config['get']} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nConnection: close\r\n"
            self.body = b""
        else:
            body = json.dumps({"wholesaler_id": config["wholesaler_id"],
                               "lines": [{"product_id": config["product_id"], "quantity": 1}]}).encode()
            self.head = (f"POST /api/v1/orders HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: "
                         f"application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n")
            self.body = body
        self.timeout = config.get("request_timeout", 10.0)
        self.statuses: dict[str, int] = {}
        self.latencies: list[float] = []

    def _payload(self) -> bytes:
        self.sent += 1
        token = self.tokens[self.rng.randrange(len(self.tokens))]
        key = f"Idempotency-Key: lg-{self.run_id}-{self.sent}\r\n" if self.config.get("idempotency_keys") else ""
        return (self.head + f"Authorization: Bearer {token}\r\n{key}\r\n").encode() + self.body

    async def _one(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        transport = None
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _Exchange(self._payload(), done), self.host, self.port),
                self.timeout)
            return await asyncio.wait_for(done, self.timeout)
        except (TimeoutError, OSError):
            return "error", 0
        finally:
            if transport is not None:
                transport.close()

    def _record(self, outcome: str, status: int, latency: float | None) -> None:
        name = str(status) if outcome == "ok" else "error"
        self.statuses[name] = self.statuses.get(name, 0) + 1
        if latency is not None and outcome == "ok":
            self.latencies.append(round(latency * 1000, 3))

    async def closed_loop(self, users: int, seconds: float) -> dict:
        """``users`` clients, each sending its next request when the previous one is answered."""
        completed = 0

        async def user():
            nonlocal completed
            while time.perf_counter() < stop:
                started = time.perf_counter()
                outcome, status = await self._one()
                finished = time.perf_counter()
                if finished <= stop:  # only what was answered inside the window counts
                    completed += 1
                    self._record(outcome, status, finished - started)

        started, cpu = self._start()
        stop = started + seconds
        tasks = [asyncio.create_task(user()) for _ in range(users)]
        await asyncio.sleep(max(0.0, stop - time.perf_counter()))
        window, cpu = self._end(started, cpu)
        await asyncio.wait(tasks, timeout=self.config.get("drain_seconds", 5.0))
        for task in tasks:
            task.cancel()
        return {"mode": "closed", "users": users, "window_s": window, "loadgen_cpu_s": cpu,
                "completed": completed, "per_s": completed / window}

    async def open_loop(self, rate: float, seconds: float) -> dict:
        """Requests sent every 1/rate seconds whatever the server does; latency from the scheduled time."""
        max_in_flight = self.config.get("max_in_flight", 256)
        in_flight: set[asyncio.Task] = set()
        dropped, lag = 0, 0.0

        in_window = 0

        async def timed(scheduled: float):
            nonlocal in_window
            outcome, status = await self._one()
            finished = time.perf_counter()
            in_window += finished <= started + seconds
            self._record(outcome, status, finished - scheduled)

        started, cpu = self._start()
        total = int(rate * seconds)
        for k in range(total):
            scheduled = started + k / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lag = max(lag, time.perf_counter() - scheduled)
            if len(in_flight) >= max_in_flight:  # the client's own limit: counted, never hidden
                dropped += 1
                continue
            task = asyncio.create_task(timed(scheduled))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.sleep(max(0.0, started + seconds - time.perf_counter()))
        window, cpu = self._end(started, cpu)
        unanswered = 0
        if in_flight:
            _, pending = await asyncio.wait(set(in_flight), timeout=self.config.get("drain_seconds", 5.0))
            unanswered = len(pending)
            for task in pending:
                task.cancel()
        # completed: answered inside the window (what the CPU samples cover); answered: at all
        return {"mode": "open", "rate": rate, "window_s": window, "loadgen_cpu_s": cpu, "scheduled": total,
                "dropped": dropped, "unanswered": unanswered, "max_send_lag_ms": lag * 1000,
                "answered": len(self.latencies), "completed": in_window, "per_s": in_window / window}

    @staticmethod
    def _start() -> tuple[float, float]:
        print("START", flush=True)
        return time.perf_counter(), time.process_time()

    @staticmethod
    def _end(started: float, cpu: float) -> tuple[float, float]:
        print("END", flush=True)
        return time.perf_counter() - started, time.process_time() - cpu


async def _main(config: dict) -> dict:
    generator = Generator(config)
    if config["mode"] == "closed":
        result = await generator.closed_loop(config["users"], config["seconds"])
    else:
        result = await generator.open_loop(config["rate"], config["seconds"])
    return result | {"statuses": generator.statuses, "latencies_ms": generator.latencies}


def main() -> None:
    with open(sys.argv[1]) as file:
        config = json.load(file)
    result = asyncio.run(_main(config))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
