"""Issue 11, goal 1: starting a trial over HTTP, against what the database itself can do.

On SQLite and PostgreSQL, in one run, side by side:
- **over HTTP**: a live `trialhub serve --workers <cores>` subprocess (no lifecycle worker,
  access log off), an API token, a new administrator email per request; 1 and 8 concurrent
  clients (threads, one keep-alive connection each) for a few seconds each. The clients are
  the standard library's `http.client`, the lightest Python client: they share the machine
  with the server, and httpx spent 0.58 ms of CPU per start where `http.client` spends
  0.19 ms (`BENCH_CLIENT=httpx` measures with httpx, for comparison);
- **bare**: the rows one start really writes (every table, captured from a real start and
  read back in their final state) inserted again with SQLAlchemy Core, one transaction per
  start, at 1 and 8 threads;
- **pgbench** (PostgreSQL): `pgbench -n -c 8 -j 2 -T N -f script.sql` with a script that
  inserts the same rows, on the same scratch database.

Rows: starts/s at 1 and 8 clients against bare (goal >= 0.5 x), against pgbench (goal
>= 0.25 x), and p99 against p50 at 8 clients (goal <= 3 x). At full size each rate is the
median of three rounds, HTTP and bare in turn (the issue's own method: the machine's drift
falls on both); the smoke run measures once. Only ratios compare across machines; the
clients share the machine with the server.

    GOALS=goal_start TRIALHUB_BENCH_SIZE=smoke .venv/bin/python benchmarks/run.py
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, Table, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import start_setup as setup  # noqa: E402
from benchmarks.report import Row  # noqa: E402
from trialhub.store import tables  # noqa: E402

SECONDS = {"smoke": 1, "full": 5}
# rounds of every rate, HTTP and bare in turn; the medians are compared, as the issue measured
ROUNDS = {"smoke": 1, "full": 3}
Plan = list[tuple[Table, list[dict[str, Any]]]]


def run(size: str) -> list[Row]:
    seconds = SECONDS[size]
    rows: list[Row] = []
    for backend in ("sqlite", "postgresql"):
        with setup.scratch_database(backend) as url:
            if url is None:
                print(f"   {backend}: not reachable, skipped", flush=True)
                continue
            rows.extend(_measure(backend, url, seconds, ROUNDS[size]))
    return rows


def _measure(backend: str, url: str, seconds: int, rounds: int) -> list[Row]:
    bench = setup.prepare(url)
    plan, tokens = capture(bench)
    written = sum(len(r) for _, r in plan)
    print(f"   {backend}: one start writes {written} rows in {len(plan)} tables", flush=True)
    processes = int(os.environ.get("TRIALHUB_BENCH_PROCESSES", os.cpu_count() or 1))
    rates: dict[tuple[str, int], list[float]] = {}
    latencies: list[float] = []  # at 8 clients, every round's
    with setup.server(url, processes) as base:
        for _ in range(rounds):
            for n in (1, 8):
                rate, took = over_http(base, bench.token, n, seconds)
                bare_rate = bare_core(bench.engine, plan, tokens, n, seconds)
                rates.setdefault(("http", n), []).append(rate)
                rates.setdefault(("bare", n), []).append(bare_rate)
                latencies.extend(took if n == 8 else [])
                print(f"   {backend}, {n} client(s): {rate:.0f}/s, bare {bare_rate:.0f}/s")
    http = {n: statistics.median(rates[("http", n)]) for n in (1, 8)}
    bare = {n: statistics.median(rates[("bare", n)]) for n in (1, 8)}
    where = f"--workers {processes}"
    of = f", median of {rounds}" if rounds > 1 else ""
    out = [Row(backend, "1 start", "rows one start writes", written, "rows")]
    for n in (1, 8):
        rate = http[n]
        out.append(
            Row(
                backend,
                "1 start",
                f"start over HTTP, {n} client{'s' if n > 1 else ''} ({where}) vs bare Core{of}",
                rate,
                "/s",
                bare=bare[n],
                target=">= 0.5 x bare",
                met=rate >= 0.5 * bare[n],
            )
        )
    rate = http[8]
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    out.append(
        Row(
            backend,
            "1 start",
            "p99 at 8 clients (bare column: p50)",
            p99,
            "ms",
            bare=p50,
            target="p99 <= 3 x p50",
            met=p99 <= 3 * p50,
        )
    )
    if backend == "postgresql":
        tps = statistics.median(setup.pgbench(url, plan, tokens, seconds) for _ in range(rounds))
        out.append(
            Row(
                backend,
                "1 start",
                f"start over HTTP, 8 clients ({where}) vs pgbench -c 8 -j 2{of}",
                rate,
                "/s",
                bare=tps,
                target=">= 0.25 x pgbench",
                met=rate >= 0.25 * tps,
            )
        )
    bench.engine.dispose()
    return out


def capture(bench: setup.Bench) -> tuple[Plan, list[str]]:
    """The rows one real start writes, in their final state (a later UPDATE, such as the
    customer's sort key, folded in), read back: every table's rows after the start that
    were not there before, tables in their foreign keys' order (however the app wrote
    them: one statement a table, several tables in one, COPY). And the values that must
    be fresh in each copy: the new email and the new rows' own ids (a one-column string
    key; ids the database numbers are left out of the rows, it numbers them again)."""

    def rows() -> dict[Table, list[dict[str, Any]]]:
        with bench.engine.connect() as conn:
            return {
                t: [dict(r) for r in conn.execute(select(t)).mappings()]
                for t in tables.metadata.sorted_tables
            }

    def key(row: dict[str, Any]) -> str:
        return json.dumps(row, sort_keys=True, default=str)

    before = {t: {key(r) for r in found} for t, found in rows().items()}
    local = f"x-{uuid.uuid4().hex}"
    bench.start_in_process(f"{local}@bench.example")
    plan: Plan = []
    tokens = [local]
    for table, found in rows().items():
        new = [r for r in found if key(r) not in before[table]]
        (*pk,) = table.primary_key.columns
        for row in new:
            if len(pk) == 1 and isinstance(row[pk[0].name], int):
                del row[pk[0].name]  # the database numbers it
            elif len(pk) == 1:
                tokens.append(str(row[pk[0].name]))
        if new:
            plan.append((table, new))
    return plan, tokens


def over_http(base: str, token: str, clients: int, seconds: int) -> tuple[float, list[float]]:
    """Starts per second and each start's latency (ms), `clients` at a time."""
    latencies: list[float] = []
    failures: list[int | str] = []
    lock = threading.Lock()
    post = _httpx_post if os.environ.get("BENCH_CLIENT") == "httpx" else _stdlib_post

    def client(until: float) -> None:
        with post(base, token) as send:
            while time.perf_counter() < until:
                began = time.perf_counter()
                status = send(setup.start_body(setup.new_email()))
                took = (time.perf_counter() - began) * 1000
                with lock:
                    if status == 201:
                        latencies.append(took)
                    else:
                        failures.append(status)

    _threads(clients, client, time.perf_counter() + 0.5)  # warm every process up
    latencies.clear()
    failures.clear()
    began = time.perf_counter()
    _threads(clients, client, began + seconds)
    elapsed = time.perf_counter() - began
    if failures:
        print(f"   {len(failures)} starts failed: {sorted(set(map(str, failures)))}", flush=True)
    return len(latencies) / elapsed, latencies


Send = Any  # (body: dict) -> HTTP status, or the name of the error that cut the exchange


@contextmanager
def _stdlib_post(base: str, token: str) -> Iterator[Send]:
    """POST /v1/trials on one keep-alive connection, opened again if the server closes it."""
    host, port = base.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def send(body: dict[str, Any]) -> int | str:
        try:
            conn.request("POST", "/v1/trials", body=json.dumps(body), headers=headers)
            response = conn.getresponse()
            response.read()
        except (http.client.HTTPException, OSError) as error:
            conn.close()  # the next request connects again; this one counts as failed
            return type(error).__name__
        return response.status

    try:
        yield send
    finally:
        conn.close()


@contextmanager
def _httpx_post(base: str, token: str) -> Iterator[Send]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        yield lambda body: client.post("/v1/trials", json=body).status_code


def bare_core(engine: Engine, plan: Plan, tokens: list[str], threads: int, seconds: int) -> float:
    """Transactions per second inserting a fresh copy of the write set with Core."""
    done = [0]
    lock = threading.Lock()

    def worker(until: float) -> None:
        count = 0
        while time.perf_counter() < until:
            copy = setup.fresh_copy(plan, tokens, uuid.uuid4().hex[:12])
            with engine.begin() as conn:
                for table, rows in copy:
                    conn.execute(insert(table), rows)
            count += 1
        with lock:
            done[0] += count

    began = time.perf_counter()
    _threads(threads, worker, began + seconds)
    return done[0] / (time.perf_counter() - began)


def _threads(n: int, target: Any, until: float) -> None:
    threads = [threading.Thread(target=target, args=(until,)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


if __name__ == "__main__":
    from benchmarks.report import markdown, size

    print(markdown(run(size())))
