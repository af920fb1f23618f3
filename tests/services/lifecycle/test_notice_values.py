"""Expiry notices read their trial as values, not entities (rule T4; issue 11): the same
emails and audit rows, a batch of notices loads no entity, and a notice after a row that
changed its organization reads the organization as it is then."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from tests.conftest import World
from tests.support.factories import new_customer_body
from tests.support.lifecycle import start_trials
from tests.support.statements import statements
from trialhub.clock import MovableClock
from trialhub.domain.deadlines import READS_VALUES, DeadlineKind
from trialhub.domain.organization import Organization
from trialhub.services import trials as trials_service
from trialhub.services.customers.assignments import assign_customer
from trialhub.services.customers.organizations import (
    add_org_admin,
    add_org_user,
    create_organization,
)
from trialhub.services.customers.schemas import AddOrgAdmin, AddOrgUser, CreateOrganization
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.services.messaging import webhooks
from trialhub.services.messaging.schemas import CreateWebhook
from trialhub.services.trials import deadlines as trials_deadlines
from trialhub.services.trials.schemas import ChangeServices, StartTrial
from trialhub.store import tables
from trialhub.store.repositories import Scope
from trialhub.store.repositories.trials import TrialRepository


def _notices(ctx: Context, trial_id: str) -> list[dict[str, Any]]:
    o = tables.outbox.c
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            select(o.recipient, o.payload, o.cause)
            .where(o.trial_id == trial_id, o.template == "expiry_notice")
            .order_by(o.recipient)
        )
        return [{"to": r[0], **r[1], "cause": r[2]} for r in rows]


def _shaped_trial(world: World) -> tuple[str, dict[str, Any]]:
    """A trial with three services, one of them removed; an organization with two
    administrators; a customer provisioned by one partner administrator with OWN reach
    and assigned to none yet. Its id and the request's customer part."""
    ctx = world.ctx
    body = new_customer_body(
        duration_days=30,
        services=[
            {"code": "messaging"},
            {"code": "calling"},
            {"code": "meetings", "edition": "meet"},
        ],
        meetings=None,
        user_licenses=5,
    )
    trial = trials_service.start_trial(ctx, world.sales.actor, StartTrial.model_validate(body))
    trials_service.change_services(
        ctx, world.sales_full.actor, trial.id, ChangeServices(remove=["calling"])
    )
    add_org_admin(
        ctx, world.operator.actor, trial.org_id, AddOrgAdmin(email="second@acme.example", name="B")
    )
    return trial.id, body["customer"]


@pytest.mark.both_backends
def test_the_values_are_what_the_entities_hold(world: World) -> None:
    """`facts_for_worker` reads, in rows, what the entities hold: the trial's state and open
    services in its order, its organization's name and administrators in their order,
    and whom its customer reaches with OWN reach (rule P2), before and after an
    assignment."""
    ctx = world.ctx
    trial_id, _ = _shaped_trial(world)
    others = start_trials(ctx, world.sales_full.actor, 2)
    admins = [world.sales, world.sales_full, world.partner_admin, world.read_only]
    for assigned in (False, True):
        if assigned:
            customer_id = trials_service.get_trial(
                ctx, world.sales_full.actor, others[0]
            ).customer_id
            assign_customer(
                ctx, world.partner_full.actor, customer_id, world.partner_admin.actor.admin_id
            )
        with ctx.uow(Scope.system("worker")) as uow:
            facts = uow.trials.facts_for_worker([trial_id, *others, "trl_missing"])
            assert set(facts) == {trial_id, *others}  # a trial that does not exist: none
            for one in (trial_id, *others):
                trial = uow.trials.get(one)
                assert trial is not None
                org = uow.organizations.get(trial.org_id)
                customer = uow.customers.get(trial.customer_id, include_removed=True)
                assert org is not None
                assert customer is not None
                got = facts[one]
                assert (got.id, got.trial_id, got.partner_id, got.org_id, got.customer_id) == (
                    trial.id,
                    trial.id,
                    trial.partner_id,
                    trial.org_id,
                    trial.customer_id,
                )
                assert (got.status, got.ends_at) == (trial.status, trial.ends_at)
                assert list(got.services) == trial.open_service_codes()
                assert got.organization == org.name
                assert list(got.admin_emails) == [a.email for a in org.admins]
                assert got.event_owners() == trial.event_owners()
                for admin in admins:
                    one_id = admin.actor.admin_id
                    assert got.reachable_by(one_id) == customer.reachable_by(one_id)
    shaped = facts[trial_id]
    assert sorted(shaped.services) == ["meetings", "messaging"]  # calling was removed
    assert len(shaped.admin_emails) == 2
    assert shaped.reachable_by(world.sales.actor.admin_id)  # it provisioned the customer
    assert facts[others[0]].reachable_by(world.partner_admin.actor.admin_id)  # assigned, P2
    assert not facts[others[1]].reachable_by(world.partner_admin.actor.admin_id)


@pytest.mark.both_backends
def test_a_batch_of_notices_loads_no_entity_and_tells_everyone(
    world: World, clock: MovableClock
) -> None:
    """Rule T4 through values: each administrator of the organization and each partner
    administrator who manages the customer gets the notice, with the open services and
    the organization's name, and the trial's audit log records it; the batch reads no
    trial, customer or organization entity."""
    ctx = world.ctx
    trial_id, customer = _shaped_trial(world)
    plain = start_trials(ctx, world.sales_full.actor, 3)
    clock.advance(timedelta(days=23))  # the 7-day notices only
    with statements(ctx.db.engine) as sent:
        report = lifecycle.tick(ctx, batch=100)
    assert report.applied == 4
    entity_reads = [
        s
        for s in sent
        if "trials.version" in s or "customers.sort_name" in s or "org_admins.name" in s
    ]
    assert entity_reads == []
    trial = trials_service.get_trial(ctx, world.sales.actor, trial_id)
    assert trial.ends_at is not None
    notices = _notices(ctx, trial_id)
    by_audience: dict[str, set[str]] = {}
    for n in notices:
        by_audience.setdefault(n["audience"], set()).add(n["to"])
        assert sorted(n["services"]) == ["meetings", "messaging"]
        assert n["organization"] == customer["company_name"]
        assert n["partner"] == "Partner A"
        assert (n["days_left"], n["ends_at"]) == (7, trial.ends_at.isoformat())
    customer_side = {customer["admin_email"], "second@acme.example"}
    assert by_audience["customer"] == customer_side
    # those who reach every customer, and the OWN-reach one who provisioned it (rule P2)
    full_reach = {world.sales_full.actor.email, world.partner_full.actor.email}
    assert by_audience["partner"] == {world.sales.actor.email, *full_reach}
    with ctx.db.engine.connect() as conn:
        audit = conn.execute(
            text(
                "select subject_type, subject_id, partner_id, org_id, after from audit_events"
                " where trial_id = :t and action = 'trial.notice_before_end'"
            ),
            {"t": trial_id},
        ).all()
    assert len(audit) == 1
    subject_type, subject_id, partner_id, org_id, after = audit[0]
    assert (subject_type, subject_id) == ("trial", trial_id)
    assert (partner_id, org_id) == (world.partner_id, trial.org_id)
    assert (after if isinstance(after, dict) else json.loads(after)) == {"days_left": 7}
    for other in plain:
        assert {n["to"] for n in _notices(ctx, other) if n["audience"] == "partner"} == full_reach


@pytest.mark.both_backends
def test_a_notice_after_a_row_that_changed_its_organization_reads_it_again(
    world: World, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row applied earlier in the batch that changed the organization (here a handler
    that renames it) comes before the notice: the notice reads the organization as that
    row left it, and only its own trial's values are read again."""
    ctx = world.ctx
    changed, untouched = start_trials(ctx, world.sales_full.actor, 2)
    with ctx.uow(Scope.system()) as uow:
        trial = uow.trials.get(changed)
        assert trial is not None
        assert trial.ends_at is not None
        ends = trial.ends_at
    with ctx.db.engine.begin() as conn:  # a row of the trial's own, a day before its notice
        conn.execute(
            insert(tables.due_events).values(
                trial_id=changed,
                kind="device_reminder",
                due_at=ends - timedelta(days=8),
                created_at=clock.now(),
            )
        )

    def renaming(c: Context, uow: Any, trial: Any, row: Any) -> str:
        org = uow.organizations.get(trial.org_id)
        org.name = "Renamed Ltd"
        return "sent"

    reads: list[int] = []
    real_facts = TrialRepository.facts_for_worker

    def counting(self: Any, trial_ids: Any) -> Any:
        reads.append(len(list(trial_ids)))
        return real_facts(self, trial_ids)

    monkeypatch.setitem(lifecycle._HANDLERS, DeadlineKind.DEVICE_REMINDER, renaming)
    monkeypatch.setattr(TrialRepository, "facts_for_worker", counting)
    clock.advance(timedelta(days=23))
    report = lifecycle.tick(ctx, batch=100)
    kinds = [(t, k) for t, k, _ in report.outcomes]
    assert kinds.index((changed, "device_reminder")) < kinds.index((changed, "notice_before_end"))
    assert {n["organization"] for n in _notices(ctx, changed)} == {"Renamed Ltd"}
    assert {n["organization"] for n in _notices(ctx, untouched)} != {"Renamed Ltd"}
    assert reads == [2, 1]  # the batch's, then the changed trial's alone


@pytest.mark.both_backends
def test_a_failing_notice_leaves_no_event_and_no_email(
    world: World, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notice that queued its emails and recorded its event, then failed, is undone
    alone (rule T10): no audit row and no email of it, while the others are sent."""
    ctx = world.ctx
    ids = start_trials(ctx, world.sales_full.actor, 3)
    bad = ids[1]
    real = lifecycle._HANDLERS[DeadlineKind.NOTICE_BEFORE_END]

    def flaky(c: Context, uow: Any, trial: Any, row: Any) -> str:
        outcome = real(c, uow, trial, row)
        if trial.id == bad:
            raise RuntimeError("one bad notice")
        return outcome

    monkeypatch.setitem(lifecycle._HANDLERS, DeadlineKind.NOTICE_BEFORE_END, flaky)
    clock.advance(timedelta(days=23))
    report = lifecycle.tick(ctx, batch=100)
    assert (report.applied, report.failed) == (2, 1)
    with ctx.db.engine.connect() as conn:
        actions = conn.execute(
            text("select trial_id from audit_events where action = 'trial.notice_before_end'")
        ).scalars()
        assert sorted(actions) == sorted(i for i in ids if i != bad)
    assert _notices(ctx, bad) == []
    assert all(len(_notices(ctx, i)) == 3 for i in ids if i != bad)  # 1 customer, 2 partner


@pytest.mark.both_backends
def test_a_notice_read_as_values_reaches_the_partners_webhooks(
    world: World, clock: MovableClock
) -> None:
    """Rule E1: the notice's event, recorded by its values, is fanned out like any
    other: one webhook message per subscribed endpoint, naming the notice's audit row."""
    ctx = world.ctx
    cmd = CreateWebhook(url="https://hooks.example.com/h", event_types=["trial.notice_before_end"])
    endpoint = webhooks.create_endpoint(ctx, world.sales_full.actor, cmd).id
    (trial_id,) = start_trials(ctx, world.sales_full.actor, 1)
    clock.advance(timedelta(days=23))
    assert lifecycle.tick(ctx, batch=100).applied == 1
    o, a = tables.outbox.c, tables.audit_events.c
    with ctx.db.engine.connect() as conn:
        (audit_id,) = conn.execute(
            select(a.id).where(a.trial_id == trial_id, a.action == "trial.notice_before_end")
        ).scalars()
        sent = conn.execute(
            select(o.recipient, o.cause, o.payload).where(
                o.channel == "webhook", o.template == "trial.notice_before_end"
            )
        ).all()
    assert [(r.recipient, r.cause) for r in sent] == [(endpoint, f"event:{audit_id}")]
    data = sent[0].payload["data"]
    assert (data["subject_type"], data["subject_id"], data["trial_id"]) == (
        "trial",
        trial_id,
        trial_id,
    )
    assert data["after"] == {"days_left": 7}


def _org_of(uow: Any, obj: Any) -> str | None:
    """The organization an entity belongs to, as the worker's handlers change them."""
    if isinstance(obj, Organization):
        return str(obj.id)
    org_id = getattr(obj, "org_id", None)
    if org_id is not None:
        return str(org_id)
    trial_id = getattr(obj, "trial_id", None)
    trial = uow.trials.get(trial_id) if trial_id is not None else None
    return None if trial is None else str(trial.org_id)


def test_a_row_changes_only_its_own_trials_organization(
    world: World, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a notice's values may trust (`_BatchFacts`): every other deadline's handler
    changes only its own trial's organization (the trial, its parts, the organization's
    people, the customer), or the free organization that a lapse moves people to, which
    holds no trial. Checked for every row of whole lives: a consent request that expires
    (rule K6), ends, users told, lapses with people moved (T5-T7), numbers released
    (T8)."""
    ctx = world.ctx
    body = new_customer_body(
        services=[{"code": "calling"}], meetings=None, user_licenses=5, duration_days=30
    )
    trial = trials_service.start_trial(ctx, world.sales_full.actor, StartTrial.model_validate(body))
    add_org_user(ctx, SYSTEM_OPERATOR, trial.org_id, AddOrgUser(email="u1@acme.example", name="U"))
    start_trials(ctx, world.sales_full.actor, 2)
    org = create_organization(ctx, SYSTEM_OPERATOR, CreateOrganization(name="Globex", country="DE"))
    add_org_admin(ctx, SYSTEM_OPERATOR, org.id, AddOrgAdmin(email="boss@globex.example", name="B"))
    waiting = new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=1)
    waiting["customer"]["admin_email"] = "boss@globex.example"
    waiting["confirm_existing_org_id"] = org.id
    trials_service.start_trial(ctx, world.sales_full.actor, StartTrial.model_validate(waiting))
    strays: list[tuple[str, str, str | None]] = []
    for kind, real in list(lifecycle._HANDLERS.items()):
        if kind in READS_VALUES:
            continue

        def checking(c: Context, uow: Any, t: Any, row: Any, real: Any = real) -> str:
            before = {id(o) for o in uow.touched()}
            outcome = str(real(c, uow, t, row))
            free = uow.organizations.free_organization()
            allowed = {t.org_id, free.id if free is not None else None}
            for obj in uow.touched():
                if id(obj) not in before and _org_of(uow, obj) not in allowed:
                    strays.append((row.kind, type(obj).__name__, _org_of(uow, obj)))
            return outcome

        monkeypatch.setitem(lifecycle._HANDLERS, kind, checking)
    applied: set[str] = set()
    for _ in range(12):  # past every deadline of every trial, ten days at a time
        clock.advance(timedelta(days=10))
        applied |= {kind for _, kind, outcome in lifecycle.tick(ctx).outcomes}
    assert {"consent_expiry", "end", "user_notice", "grace_end", "number_release"} <= applied
    assert strays == []


def test_the_kinds_read_as_values_are_the_notice_handlers() -> None:
    """The runner passes values to the kinds in `READS_VALUES` and entities to the others:
    a handler registered on the wrong side would get the wrong argument."""
    assert set(trials_deadlines.NOTICE_HANDLERS) == set(READS_VALUES)
    assert not set(trials_deadlines.DEADLINE_HANDLERS) & READS_VALUES
    assert set(lifecycle._HANDLERS) == set(DeadlineKind)  # every kind has its one handler
