"""The server and the worker SIGKILLed at random points on PostgreSQL (issue 11).

Real `trialhub serve` and `trialhub worker` processes share one sandbox database. Rounds of
keyed trial starts (Idempotency-Key) and clock moves (some through the server, which applies
the deadlines on the way; some written straight to the clock, for the worker to apply) run
while the server, the worker or both are killed at a random instant, then restarted. In the
end every key is retried until it answers, the clock goes past every deadline and the worker
drains the outbox. Then:

- every key has exactly one trial, and a replay of it answers that trial (rules E1, X2);
- every deadline due was applied, once: no duplicate audit event per trial, action and
  instant, none failed (rule T10);
- no outbox row was lost: every notice applied left its emails, every trial its start
  emails, and every email was delivered once (rule E2).

The seed is fixed (`TRIALHUB_CRASH_SEED`), so a failure replays; `TRIALHUB_FUZZ=thorough`
runs more rounds.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.conftest import Login, World, free_port, make_world
from tests.reliability.test_idempotency_crash_pg import start_request, wait_until
from tests.support.fuzzing import THOROUGH
from tests.support.lifecycle import DEADLINE_ACTIONS
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle.sandbox import SandboxClock

pytestmark = [pytest.mark.postgres, pytest.mark.reliability]

TRIALHUB = Path(sys.executable).with_name("trialhub")
SEED = int(os.environ.get("TRIALHUB_CRASH_SEED", "11"))
ROUNDS = 24 if THOROUGH else 5
STARTS_PER_ROUND = 5


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str


class Processes:
    """One `trialhub serve` and one `trialhub worker` on the database, each restartable.

    A server takes seconds to import on a busy machine: a standby one is always starting,
    and takes over at once when the serving one is killed."""

    def __init__(self, db_url: str, logs: Path) -> None:
        self.env = {**os.environ, "TRIALHUB_DATABASE_URL": db_url, "TRIALHUB_LOG_LEVEL": "warning"}
        self.logs = logs
        self.server: Server | None = None
        self.standby: Server | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.kills = Counter[str]()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as out:
            return subprocess.Popen([str(TRIALHUB), *args], env=self.env, stdout=out, stderr=out)

    def _new_server(self) -> Server:
        port = str(free_port())
        proc = self._spawn("server", "serve", "--sandbox", "--no-worker", "--port", port)
        return Server(proc, f"http://127.0.0.1:{port}")

    def ensure(self) -> None:
        """Starts what is not running, and waits until the server answers."""
        if self.worker is None:
            self.worker = self._spawn("worker", "worker", "--interval", "0.1")
        if self.server is None:
            self.server, self.standby = self.standby or self._new_server(), None
            wait_until(self._healthy, what="the server to start", timeout=90)
        if self.standby is None:
            self.standby = self._new_server()

    def _healthy(self) -> bool:
        assert self.server is not None
        if self.server.proc.poll() is not None:
            log = (self.logs / "server.log").read_text()
            raise AssertionError(f"the server exited: {log[-2000:]}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, which: str) -> None:
        found = getattr(self, which)
        if found is not None:
            proc = found.proc if isinstance(found, Server) else found
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            setattr(self, which, None)
            self.kills[which] += 1

    def stop(self) -> None:
        for which in ("server", "standby", "worker"):
            self.kill(which)


@pytest.fixture
def processes(pg_url: str, tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(pg_url, tmp_path)
    try:
        yield procs
    finally:
        procs.stop()


class Keys:
    """Every key sent so far, its body, and the trial it answered (once it did)."""

    def __init__(self, login: Login) -> None:
        self.login = login
        self.requests: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
        self.trials: dict[str, str] = {}

    def new(self, n: int) -> list[str]:
        made = [f"crash-{len(self.requests) + i}" for i in range(n)]
        for key in made:
            self.requests[key] = start_request(key, self.login)
        return made

    def open(self) -> list[str]:
        return [k for k in self.requests if k not in self.trials]

    def send(self, url: str, key: str) -> httpx.Response | None:
        body, headers = self.requests[key]
        try:
            got = httpx.post(url + "/v1/trials", json=body, headers=headers, timeout=30)
        except httpx.HTTPError:
            return None  # the server died under it: retried later
        if got.status_code == 201:
            assert self.trials.setdefault(key, got.json()["id"]) == got.json()["id"], key
        else:
            assert got.status_code in (409, 503), got.text  # in progress: a clean retry
        return got


def move_clock_through_server(url: str, operator: Login, advance: str) -> None:
    # killed on the way: what it applied is committed, the rest is still due
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(
            url + "/v1/sandbox/clock",
            json={"advance": advance},
            headers=operator.headers,
            timeout=60,
        )


def kill_at_random(
    rng: random.Random, procs: Processes, work: list[Future[Any]], *victims: str
) -> None:
    """Kills the process(es) doing `work` at a random instant while it runs."""
    time.sleep(rng.uniform(0.02, 1.0))
    for which in victims:
        procs.kill(which)
    for future in work:
        future.result(timeout=90)


def one_round(rng: random.Random, procs: Processes, keys: Keys, world: World, ctx: Context) -> None:
    """Keyed starts in flight, killed at random and retried until each answers; then a move
    of the clock by days (through the server or for the worker), killed at random too."""
    procs.ensure()
    fresh = keys.new(STARTS_PER_ROUND)
    with ThreadPoolExecutor(max_workers=8) as pool:
        sending = [pool.submit(keys.send, procs.url, k) for k in fresh]
        kill_at_random(rng, procs, sending, *rng.choice([("server",), ("server", "worker")]))
    retry_every_key(procs, keys, world)  # well within the key's retention (rule X2)
    for key in fresh:  # a replay answers the same trial
        replay = keys.send(procs.url, key)
        assert replay is not None
        assert replay.headers["Idempotent-Replayed"] == "true"
    days = rng.randint(5, 30)
    with ThreadPoolExecutor(max_workers=1) as pool:
        if rng.random() < 0.5:  # the server applies the deadlines on the way
            advance = f"{days}d"
            moving = [pool.submit(move_clock_through_server, procs.url, world.operator, advance)]
            kill_at_random(rng, procs, moving, "server")
        else:  # the worker applies what this makes due
            assert isinstance(ctx.clock, SandboxClock)
            ctx.clock.move_to(ctx.now() + timedelta(days=days))
            kill_at_random(rng, procs, [], "worker")


def retry_every_key(procs: Processes, keys: Keys, world: World) -> None:
    """Every open key again until it answers; a claim left by a killed server is taken
    over after its lease (a minute of the sandbox clock, far less than the retention)."""
    procs.ensure()
    for _ in range(10):
        for key in keys.open():
            keys.send(procs.url, key)
        if not keys.open():
            return
        move_clock_through_server(procs.url, world.operator, "1m")
    assert keys.open() == []


def settle(procs: Processes, keys: Keys, world: World, ctx: Context) -> None:
    """Past every deadline, and the outbox drained by the worker."""
    procs.ensure()
    move_clock_through_server(procs.url, world.operator, "150d")
    engine = ctx.db.engine
    wait_until(lambda: _undelivered(engine) == 0, what="the outbox to drain", timeout=60)


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def _undelivered(engine: Engine) -> int:
    return int(
        _rows(
            engine,
            "select count(*) from outbox where sent_at is null and channel = 'email'",
        )[0][0]
    )


def test_kills_at_random_points_lose_and_repeat_nothing(
    sandbox: Context, processes: Processes
) -> None:
    rng = random.Random(SEED)
    world = make_world(sandbox)
    keys = Keys(world.sales_full)
    for _ in range(ROUNDS):
        one_round(rng, processes, keys, world, sandbox)
    engine = sandbox.db.engine
    settle(processes, keys, world, sandbox)
    check_one_trial_per_key(keys, engine)
    check_every_deadline_once(engine, sandbox.now())
    check_no_outbox_row_lost(engine)
    assert processes.kills["server"] >= 1
    assert processes.kills["worker"] >= 1


def check_one_trial_per_key(keys: Keys, engine: Engine) -> None:
    trials = [r[0] for r in _rows(engine, "select id from trials")]
    assert sorted(trials) == sorted(keys.trials.values())
    assert len(set(keys.trials.values())) == len(keys.requests)


def check_every_deadline_once(engine: Engine, now: datetime) -> None:
    left = _rows(
        engine,
        "select trial_id, kind from due_events where done_at is null and due_at <= :n",
        n=now,
    )
    assert left == []
    failed = _rows(engine, "select kind, last_error from due_events where attempts > 0")
    assert failed == []
    fired = Counter(
        tuple(r)
        for r in _rows(
            engine,
            "select trial_id, action, at from audit_events where action = any(:actions)",
            actions=list(DEADLINE_ACTIONS),
        )
    )
    assert [k for k, n in fired.items() if n > 1] == []
    assert sum(1 for _, action, _ in fired if action == "trial.lapsed") >= 1  # they did fire


def check_no_outbox_row_lost(engine: Engine) -> None:
    notices = _rows(
        engine,
        "select trial_id, kind, due_at from due_events "
        "where outcome = 'notified' and kind in ('notice_before_end', 'notice_on_end')",
    )
    assert notices
    causes = {r[0] for r in _rows(engine, "select distinct cause from outbox")}
    for trial_id, kind, due_at in notices:
        assert f"{kind}:{trial_id}:{due_at.isoformat()}" in causes, (trial_id, kind)
    per_trial = Counter(r[0] for r in _rows(engine, "select trial_id from outbox"))
    for (trial_id,) in _rows(engine, "select id from trials"):
        assert per_trial[trial_id] >= 1, trial_id
    # every email was delivered (at least once: a worker killed between the send and the
    # mark sends again, as SMTP would; the Message-ID lets the reader drop the copy)
    sent = {r[0] for r in _rows(engine, "select message_id from mailbox")}
    emails = _rows(engine, "select id, sent_at from outbox where channel = 'email'")
    assert [i for i, at in emails if at is None] == []
    assert len(sent) == len(emails)
