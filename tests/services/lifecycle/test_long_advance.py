"""A long move of the sandbox clock over many trials: every deadline once, in time order,
in a few statements each, one clock write, nothing delivered (rules T10, E2)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from tests.conftest import World, make_world, new_customer_body
from tests.support.apps import app_for
from tests.support.list_keys import assert_keys_follow_trials, fill_status_rows
from tests.support.statements import statements as counting
from trialhub.bootstrap import build_context
from trialhub.domain.records import ScheduledDeadline
from trialhub.domain.trial import Trial
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.services.messaging import mailbox
from trialhub.settings import Settings
from trialhub.store import tables
from trialhub.store.uow import UnitOfWork

# 750 deadlines by default, to keep the suite fast; the statement budget below does not
# depend on the number. TRIALHUB_TEST_ADVANCE_TRIALS=2000 runs the full-size case (10,000
# deadlines: about 80 s on the shared 2-core CI machine, where 100 trials took 34 s before)
TRIALS = int(os.environ.get("TRIALHUB_TEST_ADVANCE_TRIALS", "150"))
STATEMENTS_PER_DEADLINE = 10  # was 25 and more, plus a clock write and a delivery per step


@pytest.fixture
def sandbox_ctx(sqlite_url: str) -> Iterator[Context]:
    ctx = build_context(Settings(), database_url=sqlite_url, sandbox=True, migrate=False)
    yield ctx
    ctx.db.dispose()


def seed(ctx: Context, world: World, n: int, start: datetime) -> int:
    """n active one-service trials, each ending at its own minute, with their customer,
    organization, administrator and deadlines, inserted in bulk. Returns the deadlines."""
    p = ctx.policy
    admin_id = world.sales_full.actor.admin_id
    rows: dict[str, list[dict[str, Any]]] = {
        name: [] for name in ("organizations", "org_admins", "customers", "trials")
    }
    rows |= {"trial_services": [], "due_events": []}
    for i in range(n):
        org, cus, trl = f"org_s{i:05d}", f"cus_s{i:05d}", f"trl_s{i:05d}"
        ends = start + timedelta(days=30 + i % 60, minutes=i)
        rows["organizations"].append(
            {"id": org, "name": f"Co {i}", "kind": "customer", "country": "FR", "region": "EU"}
        )
        rows["org_admins"].append(
            {"id": f"oad_s{i:05d}", "org_id": org, "email": f"a{i}@co.example", "name": "A"}
        )
        rows["customers"].append(
            {"id": cus, "partner_id": world.partner_id, "org_id": org, "state": "active"}
            | {"access": "full", "created_by_admin_id": admin_id, "sort_end": ends}
            | {"sort_name": f"Co {i}"}
        )
        rows["trials"].append(
            {"id": trl, "partner_id": world.partner_id, "org_id": org, "customer_id": cus}
            | {"kind": "new_customer", "status": "active", "duration_days": 90}
            | {"user_licenses": 5, "setup": "now", "updated_at": start, "starts_at": start}
            | {"ends_at": ends, "active_at": start, "version": 1}
        )
        rows["trial_services"].append(
            {"id": f"tsv_s{i:05d}", "trial_id": trl, "org_id": org, "service": "messaging"}
            | {"quantity": 5, "is_open": True, "added_at": start}
        )
        for kind, at in (  # in rule order, as the schedule writes them (rules T4-T7)
            ("notice_before_end", ends - timedelta(days=max(p.notice_days_before))),
            ("notice_on_end", ends),
            ("end", ends),
            ("user_notice", ends + p.grace),
            ("grace_end", ends + p.grace),
        ):
            rows["due_events"].append({"trial_id": trl, "kind": kind, "due_at": at})
    for values in rows.values():
        for v in values:
            v.setdefault("created_at", start)
    for v in rows["org_admins"]:
        v["full"] = True
    with ctx.db.engine.begin() as conn:
        for table, values in rows.items():
            conn.execute(insert(getattr(tables, table)), values)
        fill_status_rows(conn)  # the list's status rows, as the app would have them
    return len(rows["due_events"])


def audit_times(ctx: Context) -> list[tuple[str | None, str, datetime]]:
    with ctx.db.engine.connect() as conn:
        found = conn.execute(
            text(
                "select trial_id, action, at from audit_events where trial_id is not null"
                " order by id"
            )
        ).all()
    return [
        (r[0], r[1], r[2] if isinstance(r[2], datetime) else datetime.fromisoformat(r[2]))
        for r in found
    ]


def test_a_year_and_two_months_over_many_trials(sandbox_ctx: Context) -> None:
    ctx = sandbox_ctx
    world = make_world(ctx)
    deadlines = seed(ctx, world, TRIALS, ctx.now())
    with TestClient(app_for(ctx)) as client, counting(ctx.db.engine) as statements:
        moved = client.post(
            "/v1/sandbox/clock", json={"advance": "P1Y2M"}, headers=world.operator.headers
        )
    assert moved.status_code == 200, moved.text
    assert mailbox.list_mailbox(ctx) == []  # nothing delivered inside the request
    clock_writes = [s for s in statements if s.lstrip().upper().startswith("UPDATE SANDBOX_CLOCK")]
    assert len(clock_writes) == 1  # the clock moves once, not once per deadline
    assert len(statements) <= STATEMENTS_PER_DEADLINE * deadlines, len(statements) / deadlines
    body = moved.json()
    assert (body["applied"], body["obsolete"], body["failed"]) == (deadlines, 0, 0)
    with ctx.db.engine.connect() as conn:
        left = conn.execute(text("select count(*) from due_events where done_at is null"))
        assert left.scalar_one() == 0
        unsent = conn.execute(text("select count(*) from outbox where sent_at is null"))
        assert unsent.scalar_one() == body["waiting"] > 0
    events = audit_times(ctx)
    per_trial = Counter((t, a) for t, a, _ in events if t and t.startswith("trl_s"))
    for i in range(TRIALS):
        for action in (
            "trial.notice_before_end",
            "trial.notice_on_end",
            "trial.expired",
            "trial.users_notified",
            "trial.lapsed",
        ):
            assert per_trial[(f"trl_s{i:05d}", action)] == 1, (i, action)
    instants = [at for _, _, at in events]
    assert instants == sorted(instants)  # applied in time order across all trials
    assert_keys_follow_trials(ctx.db.engine)  # every customer's list keys followed


def test_a_deadline_made_on_the_way_runs_in_its_place(
    sandbox_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadline whose effect schedules an earlier one than the rest of its batch: the new
    one runs before the later ones, in the same move (rule T10)."""
    ctx = sandbox_ctx
    world = make_world(ctx)
    with TestClient(app_for(ctx)) as client:
        ids = []
        for days in (30, 60):
            body = new_customer_body(
                services=[{"code": "calling"}], meetings=None, user_licenses=5, duration_days=days
            )
            ids.append(
                client.post("/v1/trials", json=body, headers=world.sales_full.headers).json()["id"]
            )
        first, second = ids
        real = lifecycle._HANDLERS[lifecycle.DeadlineKind.END]

        def end_and_shorten_grace(
            c: Context, uow: UnitOfWork, trial: Trial, row: ScheduledDeadline
        ) -> str:
            outcome = real(c, uow, trial, row)
            if trial.id == first and trial.ends_at is not None:
                trial.ends_at -= timedelta(days=25)  # its grace now ends 5 days after it
            return outcome

        monkeypatch.setitem(lifecycle._HANDLERS, lifecycle.DeadlineKind.END, end_and_shorten_grace)
        moved = client.post(
            "/v1/sandbox/clock", json={"advance": "P120D"}, headers=world.operator.headers
        )
    assert moved.status_code == 200, moved.text
    events = audit_times(ctx)
    instants = [at for _, _, at in events]
    assert instants == sorted(instants)
    lapsed = {t: at for t, a, at in events if a == "trial.lapsed"}
    expired = {t: at for t, a, at in events if a == "trial.expired"}
    assert lapsed[first] - expired[first] == timedelta(days=5)
    assert lapsed[second] - expired[second] == timedelta(days=30)
    assert lapsed[first] < expired[second] + timedelta(days=30)
    applied = Counter((t, a) for t, a, _ in events)
    for trial_id in ids:
        for action in ("trial.notice_before_end", "trial.expired", "trial.lapsed"):
            assert applied[(trial_id, action)] == 1, (trial_id, action)
        assert applied[(trial_id, "trial.numbers_released")] == 1  # Calling (rule T8)
    assert moved.json()["steps"] >= 2  # the batch ended where the new deadline came due
