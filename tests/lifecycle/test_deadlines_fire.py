"""Every deadline fires at its exact instant, exactly once (rules K6, T4-T8, T10)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import World, new_customer_body
from trialhub.clock import MovableClock
from trialhub.domain.errors import IrreversibleLapse
from trialhub.domain.records import DueEvent
from trialhub.services.customers import organizations as orgs
from trialhub.services.customers.schemas import AddOrgAdmin, AddOrgUser, CreateOrganization
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.services.lifecycle.runner import TickReport
from trialhub.services.trials import operations as trial_ops
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import ExtendTrial, StartTrial
from trialhub.store.repositories import Scope

SECOND = timedelta(seconds=1)


def start(world: World, **kw: Any) -> str:
    body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=5, **kw)
    return trials.start_trial(world.ctx, world.sales_full.actor, StartTrial.model_validate(body)).id


def state(ctx: Context, trial_id: str) -> dict[str, Any]:
    with ctx.uow(Scope.system()) as uow:
        trial = uow.trials.get(trial_id)
        assert trial is not None
        return {
            "status": trial.status,
            "audit": [e.action for e in uow.audit.since(after=None, limit=1000, trial_id=trial_id)],
            "outbox": Counter(
                (m.template, m.recipient, m.cause) for m in uow.outbox.for_trial(trial_id)
            ),
            "due": [
                (d.kind, d.done_at is not None, d.outcome) for d in uow.due.for_trial(trial_id)
            ],
        }


def step_to(clock: MovableClock, ctx: Context, instant: Any) -> tuple[TickReport, TickReport]:
    """Ticks one second before the instant and at it."""
    clock.set(instant - SECOND)
    before = lifecycle.tick(ctx)
    clock.set(instant)
    at = lifecycle.tick(ctx)
    return before, at


def test_whole_life_one_deadline_at_a_time(world: World, clock: MovableClock) -> None:
    ctx = world.ctx
    trial_id = start(world, duration_days=30)
    end = clock.now() + timedelta(days=30)
    expected = [
        ("notice_before_end", end - timedelta(days=7), "active"),
        ("notice_on_end", end, "expired"),  # the end applies at the same instant
        ("user_notice", end + timedelta(days=30), "lapsed"),
        ("number_release", end + timedelta(days=45), "lapsed"),
    ]
    for kind, instant, status in expected:
        before, at = step_to(clock, ctx, instant)
        assert before.processed == 0, kind  # one second early: nothing
        assert at.applied >= 1, kind
        assert kind in [k for _, k, _ in at.outcomes]
        assert state(ctx, trial_id)["status"] == status
        again = lifecycle.tick(ctx)
        assert again.processed == 0  # at most once
    s = state(ctx, trial_id)
    assert all(done for _, done, _ in s["due"])
    assert Counter(s["audit"])["trial.notice_before_end"] == 1
    assert Counter(s["audit"])["trial.expired"] == 1
    assert Counter(s["audit"])["trial.lapsed"] == 1
    assert Counter(s["audit"])["trial.numbers_released"] == 1
    assert max(s["outbox"].values()) == 1  # one email per recipient and cause
    templates = Counter(t for t, _, _ in s["outbox"])
    assert templates["expiry_notice"] == 6  # 2 notices x (1 customer admin + 2 managing admins)
    assert templates["trial_lapsed"] == 3
    assert templates["numbers_released"] == 2
    with pytest.raises(IrreversibleLapse):
        trial_ops.extend_trial(ctx, world.sales_full.actor, trial_id, ExtendTrial())


def test_notices_go_to_customer_admins_and_managing_partner_admins(
    world: World, clock: MovableClock
) -> None:
    trial_id = trials.start_trial(
        world.ctx, world.sales.actor, StartTrial.model_validate(new_customer_body(duration_days=30))
    ).id
    step_to(clock, world.ctx, clock.now() + timedelta(days=23))
    recipients = {r for (t, r, _) in state(world.ctx, trial_id)["outbox"] if t == "expiry_notice"}
    # rule T4: the customer's admin, the admins reaching all customers, and the sales admin
    # who provisioned it; not the read-only one nor the partner admin without the customer
    assert recipients == {
        next(iter(r for r in recipients if r.startswith("admin-"))),
        world.sales_full.actor.email,
        world.partner_full.actor.email,
        world.sales.actor.email,
    }


def test_consent_expires_after_exactly_ten_days(world: World, clock: MovableClock) -> None:  # K6
    ctx = world.ctx
    org = orgs.create_organization(
        ctx, SYSTEM_OPERATOR, CreateOrganization(name="Globex", country="DE")
    )
    orgs.add_org_admin(
        ctx, SYSTEM_OPERATOR, org.id, AddOrgAdmin(email="boss@globex.example", name="B")
    )
    body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=5)
    body["customer"]["admin_email"] = "boss@globex.example"
    body["confirm_existing_org_id"] = org.id
    trial = trials.start_trial(ctx, world.sales_full.actor, StartTrial.model_validate(body))
    before, at = step_to(clock, ctx, clock.now() + timedelta(days=10))
    assert before.processed == 0
    assert [k for _, k, _ in at.outcomes] == ["consent_expiry"]
    s = state(ctx, trial.id)
    assert s["status"] == "cancelled"
    expired = [r for (t, r, _) in s["outbox"] if t == "consent_expired"]
    assert expired == [world.sales_full.actor.email]
    with ctx.uow(Scope.system()) as uow:
        customer = uow.customers.get(trial.customer_id, include_removed=True)
        assert customer is not None
        assert customer.state == "removed"


def test_extend_rewrites_deadlines_and_keeps_history(world: World, clock: MovableClock) -> None:
    ctx = world.ctx
    trial_id = start(world, duration_days=30)
    step_to(clock, ctx, clock.now() + timedelta(days=23))  # the 7-day notice went out
    trial_ops.extend_trial(ctx, world.sales_full.actor, trial_id, ExtendTrial())
    s = state(ctx, trial_id)
    done = [(k, o) for k, d, o in s["due"] if d]
    pending = [k for k, d, _ in s["due"] if not d]
    assert done == [("notice_before_end", "notified")]
    assert pending == [
        "notice_before_end",
        "notice_on_end",
        "end",
        "user_notice",
        "grace_end",
        "number_release",
    ]
    # nothing fires at the old end date any more
    _, at = step_to(clock, ctx, clock.now() + timedelta(days=7))
    assert at.processed == 0
    assert state(ctx, trial_id)["status"] == "active"


def test_delete_leaves_only_the_number_release(world: World, clock: MovableClock) -> None:
    ctx = world.ctx
    trial_id = start(world)
    trial_ops.delete_trial(ctx, world.sales_full.actor, trial_id, confirm=True)
    pending = [(k, d) for k, d, _ in state(ctx, trial_id)["due"] if not d]
    assert pending == [("number_release", False)]
    _, at = step_to(clock, ctx, clock.now() + timedelta(days=15))  # rule T9
    assert [k for _, k, _ in at.outcomes] == ["number_release"]


def test_a_stopped_worker_catches_up_in_order(world: World, clock: MovableClock) -> None:
    ctx = world.ctx
    trial_id = start(world, duration_days=30)
    end = clock.now() + timedelta(days=30)
    clock.advance(timedelta(days=200))
    report = lifecycle.tick(ctx)
    assert [k for _, k, _ in report.outcomes] == [
        "notice_before_end",
        "notice_on_end",
        "end",
        "user_notice",
        "grace_end",
        "number_release",
    ]
    with ctx.uow(Scope.system()) as uow:
        events = [
            (e.action, e.at) for e in uow.audit.since(after=None, limit=100, trial_id=trial_id)
        ]
    stamped = dict(events)
    assert stamped["trial.expired"] == end  # stamped at its own instant, not at "now"
    assert stamped["trial.lapsed"] == end + timedelta(days=30)
    assert stamped["trial.numbers_released"] == end + timedelta(days=45)
    assert [at for _, at in events] == sorted(at for _, at in events)


def test_lapse_moves_people_to_the_free_org_only_when_nothing_keeps_them(
    world: World, clock: MovableClock
) -> None:
    ctx = world.ctx
    trial_id = start(world, duration_days=30)
    with ctx.uow(Scope.system()) as uow:
        trial = uow.trials.get(trial_id)
        assert trial is not None
        org_id = trial.org_id
    orgs.add_org_user(ctx, SYSTEM_OPERATOR, org_id, AddOrgUser(email="u1@acme.example", name="U"))
    clock.advance(timedelta(days=61))
    lifecycle.tick(ctx)
    with ctx.uow(Scope.system()) as uow:
        org = uow.organizations.get(org_id)
        free = uow.organizations.free_organization()
        assert org is not None
        assert free is not None
        assert org.users == []
        assert org.admins == []
        assert {"u1@acme.example"} <= {u.email for u in free.users}
        assert len(free.users) == 2  # the user and the former administrator


def end_row(ctx: Context, trial_id: str) -> DueEvent:
    """A copy of the trial's end deadline as stored now."""
    with ctx.uow(Scope.system()) as uow:
        row = next(d for d in uow.due.for_trial(trial_id) if d.kind == "end")
        return replace(row)


def test_a_failing_handler_changes_nothing_and_waits_with_growing_delays(
    world: World, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:  # rule T10, with the outbox's backoff (rule E2)
    ctx = world.ctx
    trial_id = start(world, duration_days=30)
    clock.advance(timedelta(days=30))
    real = lifecycle._HANDLERS[lifecycle.DeadlineKind.END]
    broken = {"on": True}

    def flaky(*args: Any) -> str:
        outcome = real(*args)  # does its work, then dies before the commit
        if broken["on"]:
            raise RuntimeError("worker killed")
        return outcome

    monkeypatch.setitem(lifecycle._HANDLERS, lifecycle.DeadlineKind.END, flaky)
    first = lifecycle.tick(ctx)
    assert first.failed == 1
    assert [k for _, k, _ in first.outcomes] == ["notice_before_end", "notice_on_end"]
    s = state(ctx, trial_id)
    assert s["status"] == "active"  # the half-done effect was rolled back
    assert "trial.expired" not in s["audit"]
    row = end_row(ctx, trial_id)
    assert (row.done_at, row.attempts) == (None, 1)
    assert "worker killed" in (row.last_error or "")
    delays = []
    for attempts in (2, 3, 4, 5):
        assert lifecycle.tick(ctx).processed == 0  # not retried on every pass
        assert row.next_attempt_at is not None
        delays.append(row.next_attempt_at - clock.now())
        clock.set(row.next_attempt_at - SECOND)
        assert lifecycle.tick(ctx).processed == 0  # nor a second early
        clock.set(row.next_attempt_at)
        assert lifecycle.tick(ctx).failed == 1  # retried when its time comes
        row = end_row(ctx, trial_id)
        assert row.attempts == attempts
    assert delays == [timedelta(seconds=30 * 2**n) for n in range(4)]  # 30 s, 1, 2, 4 min
    broken["on"] = False
    assert row.next_attempt_at is not None
    clock.set(row.next_attempt_at)
    second = lifecycle.tick(ctx)
    assert [k for _, k, _ in second.outcomes] == ["end"]
    s = state(ctx, trial_id)
    assert Counter(s["audit"])["trial.expired"] == 1
    expired_at = end_row(ctx, trial_id).due_at
    assert s["status"] == "expired"
    with ctx.uow(Scope.system()) as uow:
        trial = uow.trials.get(trial_id)
        assert trial is not None
        assert trial.expired_at == expired_at  # stamped with the deadline, not the retry


def test_later_deadlines_wait_behind_a_failing_one(
    world: World, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:  # rule T10: in order, even when a handler fails for weeks
    ctx = world.ctx
    trial_id = start(world, duration_days=30)
    real = lifecycle._HANDLERS[lifecycle.DeadlineKind.END]

    def broken(*args: Any) -> str:
        raise RuntimeError("a bug in the end handler")

    monkeypatch.setitem(lifecycle._HANDLERS, lifecycle.DeadlineKind.END, broken)
    clock.advance(timedelta(days=75))  # past the end, the grace period and number release
    for _ in range(12):  # the failing row comes back with its backoff; nothing overtakes it
        report = lifecycle.tick(ctx)
        assert {k for _, k, _ in report.outcomes} <= {"notice_before_end", "notice_on_end"}
        clock.advance(timedelta(hours=6))
    s = state(ctx, trial_id)
    assert s["status"] == "active"
    assert ("grace_end", False, None) in s["due"]  # still waiting, not closed as obsolete
    monkeypatch.setitem(lifecycle._HANDLERS, lifecycle.DeadlineKind.END, real)
    clock.advance(timedelta(hours=6))
    lifecycle.tick(ctx)
    s = state(ctx, trial_id)
    assert s["status"] == "lapsed"  # expired, then lapsed, in order
    assert [o for k, _, o in s["due"] if k in ("end", "user_notice", "grace_end")] == [
        "expired",
        "notified",
        "lapsed",
    ]
