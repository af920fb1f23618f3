"""Workers that crash, race and scale (rule T10)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import START, make_world, new_customer_body
from tests.support.factories import dispatch_body, order_body
from tests.support.lifecycle import applied_actions, start_trials
from tests.support.statements import statements
from trialhub.bootstrap import make_context
from trialhub.clock import MovableClock
from trialhub.services import devices, lifecycle
from trialhub.services.devices.schemas import DispatchShipment, OrderShipment
from trialhub.services.kernel.context import Context
from trialhub.services.messaging import delivery
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store.db import Database

CRASHER = """
import os, sys
from datetime import datetime
from trialhub.clock import MovableClock
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.bootstrap import make_context
from trialhub.services.kernel.context import Context
from trialhub.store.db import Database

clock = MovableClock(datetime.fromisoformat(sys.argv[2]))
ctx = make_context(db=Database.open(sys.argv[1]), clock=clock)
real = lifecycle._HANDLERS[lifecycle.DeadlineKind.END]

def die(*args):
    real(*args)
    os._exit(9)  # the process dies between applying and committing

lifecycle._HANDLERS[lifecycle.DeadlineKind.END] = die
lifecycle.tick(ctx)
"""


def _start_many(ctx: Context, n: int, *, days: int = 30) -> list[str]:
    return start_trials(ctx, make_world(ctx).sales_full.actor, n, days=days)


@pytest.mark.reliability  # real processes SIGKILLed: `make reliability`
def test_a_killed_worker_loses_and_repeats_nothing(
    sqlite_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    ctx = make_context(db=Database.open(sqlite_url), clock=clock)
    (trial_id,) = _start_many(ctx, 1)
    clock.advance(timedelta(days=30))
    script = tmp_path / "crash.py"
    script.write_text(CRASHER)
    done = subprocess.run(
        [sys.executable, str(script), sqlite_url, clock.now().isoformat()], check=False, timeout=60
    )
    assert done.returncode == 9  # it really died mid-transaction
    assert applied_actions(ctx)[(trial_id, "trial.expired")] == 0  # nothing half-written
    report = lifecycle.tick(ctx)
    assert {k for _, k, _ in report.outcomes} == {"notice_before_end", "notice_on_end", "end"}
    assert applied_actions(ctx)[(trial_id, "trial.expired")] == 1
    assert lifecycle.tick(ctx).processed == 0
    ctx.db.dispose()


@pytest.mark.postgres
def test_racing_workers_on_postgresql_apply_each_deadline_once(pg_url: str) -> None:
    clock = MovableClock(START)
    setup = make_context(db=Database.open(pg_url), clock=clock)
    ids = _start_many(setup, 30)
    clock.advance(timedelta(days=61))  # notices, end, user notice, grace end: 5 rows each
    contexts = [make_context(db=Database.open(pg_url), clock=clock) for _ in range(4)]
    barrier = threading.Barrier(len(contexts))
    reports: list[lifecycle.TickReport] = []
    errors: list[BaseException] = []

    def work(c: Context) -> None:
        barrier.wait()
        try:
            reports.append(lifecycle.tick(c, batch=7))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(c,)) for c in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(r.failed for r in reports) == 0
    assert sum(r.processed for r in reports) == 30 * 5
    applied = applied_actions(setup)
    for trial_id in ids:
        for action in ("trial.notice_before_end", "trial.expired", "trial.lapsed"):
            assert applied[(trial_id, action)] == 1, (trial_id, action)
    with setup.db.engine.connect() as conn:
        pending = conn.execute(
            text("select count(*) from due_events where done_at is null and due_at <= :t"),
            {"t": clock.now()},
        ).scalar_one()
        dupes = conn.execute(
            text(
                "select count(*) from (select recipient, cause from outbox"
                " group by recipient, cause having count(*) > 1) d"
            )
        ).scalar_one()
    assert pending == 0
    assert dupes == 0
    for c in (setup, *contexts):
        c.db.dispose()


def _statements_per_tick(ctx: Context) -> int:
    with statements(ctx.db.engine) as sent:
        lifecycle.tick(ctx)
    return len(sent)


def _cost_with(url: str, idle: int) -> int:
    clock = MovableClock(START)
    ctx = make_context(db=Database.open(url), clock=clock)
    _start_many(ctx, idle, days=90)  # nothing due for weeks
    _start_many(ctx, 3, days=30)
    clock.advance(timedelta(days=23))  # only the 3 short trials have a due notice
    cost = _statements_per_tick(ctx)
    idle_cost = _statements_per_tick(ctx)
    ctx.db.dispose()
    return cost * 1000 + idle_cost


def test_a_tick_costs_what_is_due_not_what_exists(sqlite_template: Path, tmp_path: Path) -> None:
    import shutil

    urls = []
    for name in ("few", "many"):
        shutil.copyfile(sqlite_template, tmp_path / f"{name}.db")
        urls.append(f"sqlite:///{tmp_path}/{name}.db")
    few = _cost_with(urls[0], idle=20)
    many = _cost_with(urls[1], idle=200)  # ten times the trials, the same 3 due
    assert few == many, (few, many)
    assert few % 1000 <= 2  # a pass with nothing due: one query (and an empty commit)


def _ship_many(ctx: Context, n: int, *, due_in_days: int) -> None:
    """n Calling trials, each with two phones out, due back `due_in_days` + 14 days from now."""
    from datetime import timedelta as td

    world = make_world(ctx)
    body = {"services": [{"code": "calling"}], "meetings": None, "user_licenses": 1}
    for i in range(n):
        trial = trials.start_trial(
            ctx,
            world.sales_full.actor,
            StartTrial.model_validate(new_customer_body(duration_days=90, **body)),
        )
        order = devices.order_shipment(
            ctx, world.sales_full.actor, trial.id, OrderShipment.model_validate(order_body())
        )
        due = ctx.now() + td(days=due_in_days)
        devices.dispatch_shipment(
            ctx,
            world.operator.actor,
            order.id,
            DispatchShipment.model_validate(
                dispatch_body(
                    f"SN-{due_in_days}-{i}-A", f"SN-{due_in_days}-{i}-B", device_due_at=due
                )
            ),
        )


def _device_cost_with(url: str, idle: int) -> int:
    clock = MovableClock(START)
    ctx = make_context(db=Database.open(url), clock=clock)
    ctx.policy = replace(ctx.policy, max_active_device_trials_per_partner=1000)
    _ship_many(ctx, idle, due_in_days=60)  # devices out, nothing due for weeks
    _ship_many(ctx, 3, due_in_days=10)
    clock.advance(timedelta(days=10))  # only the 3 first reminders are due (rule D7)
    cost = _statements_per_tick(ctx)
    ctx.db.dispose()
    return cost


def test_device_reminders_cost_what_is_due_not_what_is_out(
    sqlite_template: Path, tmp_path: Path
) -> None:
    import shutil

    urls = []
    for name in ("few", "many"):
        shutil.copyfile(sqlite_template, tmp_path / f"{name}.db")
        urls.append(f"sqlite:///{tmp_path}/{name}.db")
    few = _device_cost_with(urls[0], idle=5)
    many = _device_cost_with(urls[1], idle=40)  # eight times the shipments out, the same 3 due
    assert few == many, (few, many)


# ---- emails and SIGKILL: at-least-once, and a repeat only for the message in hand (E2) ---

SENDER = """
import sys
from datetime import datetime
from trialhub.clock import MovableClock
from trialhub.notify.render import JinjaRenderer
from trialhub.notify.smtp import SmtpMailer
from trialhub.services.messaging import delivery
from trialhub.bootstrap import make_context
from trialhub.services.kernel.context import Context
from trialhub.store.db import Database

clock = MovableClock(datetime.fromisoformat(sys.argv[2]))
ctx = make_context(db=Database.open(sys.argv[1]), clock=clock)
ctx.renderer = JinjaRenderer("http://127.0.0.1:8000", "https://buy.example/{org_id}")
ctx.mailer = SmtpMailer("127.0.0.1", int(sys.argv[3]), sender="t@t.example", timeout=60)
delivery.deliver(ctx)
"""


class SlowInbox:
    """aiosmtpd handler: keeps every message; can take its time, or hold QUIT unanswered."""

    def __init__(self) -> None:
        self.message_ids: list[str] = []
        self.data_delay = 0.0
        self.hold_quit = False
        self.quitting = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        import asyncio
        import email

        await asyncio.sleep(self.data_delay)
        parsed = email.message_from_bytes(envelope.content)  # type: ignore[attr-defined]
        self.message_ids.append(str(parsed["Message-ID"]))
        return "250 OK"

    async def handle_QUIT(self, server: object, session: object, envelope: object) -> str:
        import asyncio

        self.quitting.set()
        while self.hold_quit:
            await asyncio.sleep(0.05)
        return "221 Bye"


@pytest.fixture
def slow_smtp() -> Iterator[tuple[int, SlowInbox]]:
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    inbox = SlowInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    inbox.hold_quit = False
    controller.stop()


def _sender(tmp_path: Path, url: str, at: datetime, port: int) -> subprocess.Popen[bytes]:
    script = tmp_path / "sender.py"
    script.write_text(SENDER)
    return subprocess.Popen([sys.executable, str(script), url, at.isoformat(), str(port)])


def _wait(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.reliability  # real processes SIGKILLed: `make reliability`
def test_an_email_the_server_accepted_is_recorded_before_the_connection_ends(
    sqlite_url: str, clock: MovableClock, tmp_path: Path, slow_smtp: tuple[int, SlowInbox]
) -> None:
    """The sent mark does not wait for QUIT: a sender killed while the server takes its time
    to say goodbye has already recorded the email, which therefore never goes twice."""
    port, inbox = slow_smtp
    ctx = make_context(db=Database.open(sqlite_url), clock=clock)
    _start_many(ctx, 1)  # one welcome email
    inbox.hold_quit = True
    sender = _sender(tmp_path, sqlite_url, clock.now(), port)
    _wait(inbox.quitting.is_set)  # the server accepted the email; QUIT hangs
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=30)
    inbox.hold_quit = False
    with ctx.db.engine.connect() as conn:
        sent_at = conn.execute(text("select sent_at from outbox")).scalar_one()
    assert sent_at is not None
    clock.advance(delivery.LEASE)  # a crashed sender's lease has run out
    finisher = _sender(tmp_path, sqlite_url, clock.now(), port)
    assert finisher.wait(timeout=60) == 0
    assert len(inbox.message_ids) == 1
    ctx.db.dispose()


@pytest.mark.reliability  # real processes SIGKILLed: `make reliability`
def test_killed_senders_repeat_at_most_the_message_in_hand(
    sqlite_url: str, clock: MovableClock, tmp_path: Path, slow_smtp: tuple[int, SlowInbox]
) -> None:
    """SIGKILL at random moments of delivery: every email arrives (none lost), a repeat
    is at most the one message in hand per kill, and a repeat has the same Message-ID."""
    port, inbox = slow_smtp
    inbox.data_delay = 0.02
    ctx = make_context(db=Database.open(sqlite_url), clock=clock)
    _start_many(ctx, 30)
    kills = 0
    rng = random.Random(8)
    for _ in range(3):
        before = len(inbox.message_ids)
        sender = _sender(tmp_path, sqlite_url, clock.now(), port)
        _wait(lambda before=before: len(inbox.message_ids) > before)  # type: ignore[misc]
        time.sleep(rng.uniform(0, 0.15))
        if sender.poll() is None:
            sender.send_signal(signal.SIGKILL)
            kills += 1
        sender.wait(timeout=30)
        clock.advance(delivery.LEASE)
    assert _sender(tmp_path, sqlite_url, clock.now(), port).wait(timeout=120) == 0
    received = Counter(inbox.message_ids)
    assert len(received) == 30  # every email, at least once
    assert sum(received.values()) - 30 <= kills  # at most the message in hand per kill
    assert set(received.values()) <= {1, 2}
    with ctx.db.engine.connect() as conn:
        assert conn.execute(text("select count(*) from outbox where sent_at is null")).scalar() == 0
    ctx.db.dispose()
