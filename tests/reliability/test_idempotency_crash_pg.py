"""Idempotency keys survive crashes: real `trialhub serve` processes on PostgreSQL, one
killed with SIGKILL mid-request after it claimed its key, one alive but too slow. A retry
after the lease runs the request, and exactly one trial exists in the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.conftest import Login, free_port, make_world, new_customer_body
from trialhub.domain.policy import DEFAULT_POLICY
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle.sandbox import SandboxClock

# real servers on PostgreSQL, like the crash test beside it: `make reliability` (issue 11)
pytestmark = [pytest.mark.postgres, pytest.mark.reliability]

TRIALHUB = Path(sys.executable).with_name("trialhub")
LEASE = DEFAULT_POLICY.idempotency_lease


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]


@contextmanager
def serving(db_url: str, logs: Path, count: int) -> Iterator[list[Server]]:
    """`count` processes of `trialhub serve` on the database's sandbox clock, started
    together (each takes seconds to import)."""
    env = {**os.environ, "TRIALHUB_DATABASE_URL": db_url, "TRIALHUB_LOG_LEVEL": "warning"}
    servers = []
    try:
        for i in range(count):
            port = free_port()
            with (logs / f"server-{i}.log").open("ab") as out:
                proc = subprocess.Popen(
                    [str(TRIALHUB), "serve", "--sandbox", "--no-worker", "--port", str(port)],
                    env=env,
                    stdout=out,
                    stderr=out,
                )
            servers.append(Server(f"http://127.0.0.1:{port}", proc))
        for i, server in enumerate(servers):
            try:
                wait_until(lambda s=server: _healthy(s.url), what="a server to start")
            except AssertionError as error:
                raise AssertionError(f"{error}: {(logs / f'server-{i}.log').read_text()}") from None
        yield servers
    finally:
        for server in servers:
            server.proc.kill()
            server.proc.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Call:
    """A POST running in a thread; `response` is None if the connection died."""

    thread: threading.Thread
    response: httpx.Response | None = None
    error: Exception | None = field(default=None)

    def join(self) -> httpx.Response | None:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        return self.response


def post_in_background(url: str, body: dict[str, Any], headers: dict[str, str]) -> Call:
    call = Call(threading.Thread())

    def go() -> None:
        try:
            call.response = httpx.post(url + "/v1/trials", json=body, headers=headers, timeout=60)
        except httpx.HTTPError as error:
            call.error = error

    call.thread = threading.Thread(target=go, daemon=True)
    call.thread.start()
    return call


@contextmanager
def trials_locked(engine: Engine) -> Iterator[None]:
    """Holds back every insert into trials: a request that claimed its key stops there."""
    with engine.connect() as conn:
        tx = conn.begin()
        conn.execute(text("LOCK TABLE trials IN SHARE MODE"))
        try:
            yield
        finally:
            tx.rollback()


def lock_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "select count(*) from pg_stat_activity "
                    "where datname = current_database() and wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def claim_of(engine: Engine, key: str) -> tuple[str | None, int | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text("select owner, status_code from idempotency_keys where key = :k"), {"k": key}
        ).one()
    return row.owner, row.status_code


def trial_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("select count(*) from trials")).scalar_one())


def start_request(key: str, login: Login) -> tuple[dict[str, Any], dict[str, str]]:
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=5)
    return body, {**login.headers, "Idempotency-Key": key}


def move_past_the_lease(ctx: Context, login: Login, *servers: Server) -> None:
    """Moves the shared sandbox clock, and waits until the servers read it."""
    assert isinstance(ctx.clock, SandboxClock)
    moved = ctx.clock.move_to(ctx.now() + LEASE)

    def caught_up(server: Server) -> bool:
        now = httpx.get(server.url + "/v1/sandbox/clock", headers=login.headers).json()["now"]
        return datetime.fromisoformat(now) >= moved

    for server in servers:
        wait_until(lambda s=server: caught_up(s), what="the server to read the moved clock")


def test_a_request_killed_after_its_claim_is_retried_after_the_lease(
    sandbox: Context, pg_url: str, tmp_path: Path
) -> None:
    engine = sandbox.db.engine
    login = make_world(sandbox).sales_full
    body, headers = start_request("crash-1", login)
    # both servers start first: the retry must come well within the first one's lease
    with serving(pg_url, tmp_path, 2) as (first, second):
        with trials_locked(engine):
            doomed = post_in_background(first.url, body, headers)
            wait_until(lambda: lock_waiters(engine) == 1, what="the request to block")
            owner, status = claim_of(engine, "crash-1")
            assert owner is not None  # claimed...
            assert status is None  # ...not answered
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(timeout=10)
        assert doomed.join() is None  # the connection died with the server
        # its half-done transaction is gone with it
        wait_until(lambda: lock_waiters(engine) == 0, what="the dead request's transaction to end")
        assert trial_count(engine) == 0
        early = httpx.post(second.url + "/v1/trials", json=body, headers=headers, timeout=30)
        assert early.status_code == 409, early.text
        assert early.json()["code"] == "idempotency_in_progress"
        assert 1 <= int(early.headers["Retry-After"]) <= LEASE.total_seconds()
        move_past_the_lease(sandbox, login, second)
        retry = httpx.post(second.url + "/v1/trials", json=body, headers=headers, timeout=30)
        assert retry.status_code == 201, retry.text
        replay = httpx.post(second.url + "/v1/trials", json=body, headers=headers, timeout=30)
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json()["id"] == retry.json()["id"]
    assert trial_count(engine) == 1


def test_a_slow_request_racing_a_takeover_leaves_one_trial(
    sandbox: Context, pg_url: str, tmp_path: Path
) -> None:
    engine = sandbox.db.engine
    login = make_world(sandbox).sales_full
    body, headers = start_request("race-1", login)
    with serving(pg_url, tmp_path, 2) as (slow_server, retry_server):
        with trials_locked(engine):
            slow = post_in_background(slow_server.url, body, headers)
            wait_until(lambda: lock_waiters(engine) == 1, what="the first request to block")
            slow_owner, _ = claim_of(engine, "race-1")
            # the first request is alive, just stuck: a retry elsewhere takes its key over
            move_past_the_lease(sandbox, login, retry_server)
            retry = post_in_background(retry_server.url, body, headers)
            wait_until(
                lambda: claim_of(engine, "race-1")[0] != slow_owner and lock_waiters(engine) == 2,
                what="the retry to take over and block behind the first",
            )
            # released here: the first finishes its work, then finds its claim gone
        lost, won = slow.join(), retry.join()
    assert lost is not None
    assert won is not None
    assert lost.status_code == 409, lost.text
    assert lost.json()["code"] == "idempotency_in_progress"
    assert won.status_code == 201, won.text
    assert trial_count(engine) == 1
    assert claim_of(engine, "race-1")[1] == 201
