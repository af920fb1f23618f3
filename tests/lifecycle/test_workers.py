"""Workers that crash, race and scale (rule T10)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text

from tests.conftest import START, make_world, new_customer_body
from tests.devices.test_shipments import dispatch_body, order_body
from trialhub.clock import MovableClock
from trialhub.services import devices, lifecycle, trials
from trialhub.services.context import Context
from trialhub.services.schemas import DispatchShipment, OrderShipment, StartTrial
from trialhub.store.db import Database

CRASHER = """
import os, sys
from datetime import datetime
from trialhub.clock import MovableClock
from trialhub.services import lifecycle
from trialhub.services.context import Context
from trialhub.store.db import Database

clock = MovableClock(datetime.fromisoformat(sys.argv[2]))
ctx = Context(db=Database.open(sys.argv[1]), clock=clock)
real = lifecycle._HANDLERS[lifecycle.DeadlineKind.END]

def die(*args):
    real(*args)
    os._exit(9)  # the process dies between applying and committing

lifecycle._HANDLERS[lifecycle.DeadlineKind.END] = die
lifecycle.tick(ctx)
"""


def _start_many(ctx: Context, n: int, *, days: int = 30) -> list[str]:
    world = make_world(ctx)
    body = {"services": [{"code": "messaging"}], "meetings": None, "user_licenses": 1}
    return [
        trials.start_trial(
            ctx,
            world.sales_full.actor,
            StartTrial.model_validate(new_customer_body(duration_days=days, **body)),
        ).id
        for _ in range(n)
    ]


def _applied(ctx: Context) -> Counter[tuple[str, str]]:
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            text("select trial_id, action from audit_events where trial_id is not null")
        )
        return Counter((r[0], r[1]) for r in rows)


def test_a_killed_worker_loses_and_repeats_nothing(
    sqlite_url: str, clock: MovableClock, tmp_path: Path
) -> None:
    ctx = Context(db=Database.open(sqlite_url), clock=clock)
    (trial_id,) = _start_many(ctx, 1)
    clock.advance(timedelta(days=30))
    script = tmp_path / "crash.py"
    script.write_text(CRASHER)
    done = subprocess.run(
        [sys.executable, str(script), sqlite_url, clock.now().isoformat()], check=False, timeout=60
    )
    assert done.returncode == 9  # it really died mid-transaction
    assert _applied(ctx)[(trial_id, "trial.expired")] == 0  # nothing half-written
    report = lifecycle.tick(ctx)
    assert {k for _, k, _ in report.outcomes} == {"notice_before_end", "notice_on_end", "end"}
    assert _applied(ctx)[(trial_id, "trial.expired")] == 1
    assert lifecycle.tick(ctx).processed == 0
    ctx.db.dispose()


@pytest.mark.postgres
def test_racing_workers_on_postgresql_apply_each_deadline_once(pg_url: str) -> None:
    clock = MovableClock(START)
    setup = Context(db=Database.open(pg_url), clock=clock)
    ids = _start_many(setup, 30)
    clock.advance(timedelta(days=61))  # notices, end, user notice, grace end: 5 rows each
    contexts = [Context(db=Database.open(pg_url), clock=clock) for _ in range(4)]
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
    applied = _applied(setup)
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
    count = {"n": 0}

    def on_execute(*_args: object) -> None:
        count["n"] += 1

    event.listen(ctx.db.engine, "before_cursor_execute", on_execute)
    try:
        lifecycle.tick(ctx)
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", on_execute)
    return count["n"]


def _cost_with(url: str, idle: int) -> int:
    clock = MovableClock(START)
    ctx = Context(db=Database.open(url), clock=clock)
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
    ctx = Context(db=Database.open(url), clock=clock)
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
