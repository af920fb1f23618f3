"""Goal 5 of issue 11: memory stays flat as the data grows tenfold, server and worker.

At D and 10 x D customers (smoke: 1,000 and 10,000; full: 10,000 and 100,000; one open
trial each, bulk-inserted by `benchmarks/flat.py`'s seed), on SQLite and PostgreSQL:

- a `trialhub serve` process answers the same mix of requests at both sizes (the customer
  list's first page and pages deeper along the cursor, `status=` and text filters, customer
  pages over the API and the portal, trial starts), then its resident memory is read;
- a `trialhub worker` process makes its passes over the same 200 due deadlines (and idle
  passes after them), then its resident memory is read.

A row per process: RSS at 10 x D (measured) beside RSS at D (bare); met when the ratio is
at most 1.2.

    make bench GOALS=goal_memory
    TRIALHUB_BENCH_SIZE=smoke make bench GOALS=goal_memory
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import flat  # noqa: E402
from benchmarks.goal_statements import _pg_database  # noqa: E402
from benchmarks.report import Row  # noqa: E402
from trialhub.bootstrap import make_context  # noqa: E402
from trialhub.clock import MovableClock  # noqa: E402
from trialhub.services import accounts  # noqa: E402
from trialhub.services.accounts.schemas import IssueToken  # noqa: E402
from trialhub.services.demo import SYSTEM_OPERATOR  # noqa: E402
from trialhub.store import tables  # noqa: E402
from trialhub.store.db import Database, upgrade  # noqa: E402

CUSTOMERS = {"smoke": 1_000, "full": 10_000}  # D; the second measure is at 10 x D
ROUNDS = 30  # of the request mix (14 requests each)
DUE = 200  # deadlines the worker applies at both sizes
TRIALHUB = Path(sys.executable).with_name("trialhub")


def run(size: str) -> list[Row]:
    d = CUSTOMERS[size]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        small = _measure(f"sqlite:///{tmp}/memory-1.db", d)
        large = _measure(f"sqlite:///{tmp}/memory-10.db", 10 * d)
        rows += _rows("sqlite", d, small, large)
    with _pg_database() as url_small, _pg_database() as url_large:
        if url_small is not None and url_large is not None:
            small = _measure(url_small, d)
            large = _measure(url_large, 10 * d)
            rows += _rows("postgresql", d, small, large)
    return rows


def _rows(backend: str, d: int, small: dict[str, float], large: dict[str, float]) -> list[Row]:
    out = []
    for name in small:
        ratio = large[name] / small[name]
        print(f"  {backend} {name}: {small[name]:.1f} -> {large[name]:.1f} MB", flush=True)
        out.append(
            Row(
                backend=backend,
                goal="5 memory",
                measure=f"{name} RSS ({d:,} -> {10 * d:,} customers)",
                measured=large[name],
                unit="MB",
                bare=small[name],
                target="<= 1.2 x",
                met=ratio <= 1.2,
            )
        )
    return out


def _measure(url: str, n: int) -> dict[str, float]:
    """Seeds n customers (their trials ending from 90 days on), then measures both processes."""
    upgrade(url)
    now = datetime.now(UTC).replace(microsecond=0)
    db = Database.open(url)
    try:
        ctx = make_context(db=db, clock=MovableClock(now))
        flat.START = now  # the seed's trials start now: nothing is due but what we make due
        actor, _ = flat.seed(ctx, n)
        admin_id = actor.admin_id  # type: ignore[attr-defined]
        token = accounts.issue_token(ctx, SYSTEM_OPERATOR, admin_id, IssueToken(label="bench"))
        session = accounts.sign_in(ctx, actor.email, flat.PASSWORD, address="127.0.0.1")  # type: ignore[attr-defined]
        _make_due(ctx.db, now)
    finally:
        db.dispose()
    env = {**os.environ, "TRIALHUB_DATABASE_URL": url, "TRIALHUB_LOG_LEVEL": "warning"}
    out = {"server": _server_rss(env, str(token.token), session.token, n)}
    out["worker"] = _worker_rss(env, url)
    return out


def _make_due(db: Database, now: datetime) -> None:
    """DUE trials end in 7 days: their notice before the end is due now (rule T4)."""
    t, d = tables.trials, tables.due_events
    with db.engine.begin() as conn:
        ids = list(conn.execute(select(t.c.id).order_by(t.c.id).limit(DUE)).scalars())
        conn.execute(update(t).where(t.c.id.in_(ids)).values(ends_at=now + timedelta(days=7)))
        conn.execute(
            update(d)
            .where(d.c.trial_id.in_(ids), d.c.kind == "notice_before_end")
            .values(due_at=now)
        )
        conn.execute(
            update(d)
            .where(d.c.trial_id.in_(ids), d.c.kind == "end")
            .values(due_at=now + timedelta(days=7))
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _server_rss(env: dict[str, str], token: str, session: str, n: int) -> float:
    port = _free_port()
    proc = subprocess.Popen(
        [str(TRIALHUB), "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(healthy, "the server to start")
        with httpx.Client(base_url=base, timeout=60) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            client.cookies.set("trialhub_session", session)
            rng = random.Random(5)
            for _ in range(ROUNDS):
                _one_round(client, rng, n)
        return _rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _one_round(client: httpx.Client, rng: random.Random, n: int) -> None:
    """The same 14 requests at any size: lists, pages, customer reads, two starts."""
    page = client.get("/v1/customers", params={"limit": 50}).json()
    for _ in range(4):  # deeper along the cursor
        if page.get("next_cursor"):
            page = client.get("/v1/customers", params={"cursor": page["next_cursor"]}).json()
    client.get("/v1/customers", params={"status": "active"})
    client.get("/v1/customers", params={"text": f"Company {rng.randrange(n):07d}"})
    customer = f"cus_b{rng.randrange(n):07d}"
    client.get(f"/v1/customers/{customer}")
    client.get("/customers")
    client.get(f"/customers/{customer}")
    for _ in range(2):
        body = {
            "customer": {
                "company_name": f"Memory {uuid.uuid4().hex[:8]}",
                "admin_email": f"a-{uuid.uuid4().hex}@memory.example",
                "business_vertical": "retail",
                "country": "FR",
                "supported_location_ack": True,
            },
            "services": [{"code": "messaging"}],
            "user_licenses": 5,
        }
        got = client.post("/v1/trials", json=body)
        assert got.status_code == 201, got.text


def _worker_rss(env: dict[str, str], url: str) -> float:
    proc = subprocess.Popen(
        [str(TRIALHUB), "worker", "--interval", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = Database.open(url)
    d = tables.due_events

    def applied() -> bool:
        with db.engine.connect() as conn:
            done = conn.execute(
                select(d.c.id).where(d.c.kind == "notice_before_end", d.c.done_at.is_not(None))
            ).all()
        return len(done) >= DUE

    try:
        _wait(applied, "the worker to apply the due deadlines", timeout=600)
        time.sleep(2)  # and a few passes with nothing due
        return _rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        db.dispose()
