"""Fan-out: every audit event of a partner becomes one outbox message per subscribed, active
endpoint of that partner, in the transaction of the change (rules E1, E2, P3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import World, make_world
from tests.support.factories import new_customer_body
from trialhub.domain.events import DomainEvent
from trialhub.domain.records import Channel
from trialhub.services.kernel.context import Context
from trialhub.services.messaging import webhooks
from trialhub.services.messaging.webhooks import CreateWebhook
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store import tables
from trialhub.store.repositories import Scope


def _subscribe(world: World, *event_types: str) -> str:
    cmd = CreateWebhook(url="https://hooks.example.com/h", event_types=list(event_types))
    return webhooks.create_endpoint(world.ctx, world.sales_full.actor, cmd).id


def _emit(ctx: Context, *events: tuple[str, str | None], fail: bool = False) -> None:
    """Records audit events in one transaction, committed unless `fail`."""
    at = ctx.now() + timedelta(seconds=1)
    with ctx.uow(Scope.system("test")) as uow:
        for action, partner_id in events:
            uow.record(
                DomainEvent(
                    action=action,
                    subject_type="trial",
                    subject_id="trl_x",
                    at=at,
                    before={"status": "active"},
                    after={"status": "expired"},
                    partner_id=partner_id,
                    org_id="org_x",
                    trial_id="trl_x",
                )
            )
        if not fail:
            uow.commit()


@dataclass(frozen=True)
class Queued:
    recipient: str
    template: str
    cause: str
    partner_id: str | None
    payload: dict[str, object]


def _queued(ctx: Context) -> list[Queued]:
    """The webhook messages waiting, without those about the subscriptions themselves."""
    with ctx.uow(Scope.system("test")) as uow:
        return [
            Queued(m.recipient, m.template, m.cause, m.partner_id, dict(m.payload))
            for m in uow.outbox.all()
            if m.channel == Channel.WEBHOOK and not m.template.startswith("webhook.")
        ]


def test_one_message_per_subscribed_endpoint_and_event(sqlite_world: World) -> None:
    ctx, pid = sqlite_world.ctx, sqlite_world.partner_id
    expired_only = _subscribe(sqlite_world, "trial.expired")
    both = _subscribe(sqlite_world, "trial.expired", "trial.extended")
    catch_all = _subscribe(sqlite_world, "*")
    _subscribe(sqlite_world, "customer.consented")  # hears none of these
    _emit(ctx, ("trial.expired", pid), ("trial.extended", pid), ("trial.lapsed", pid))
    got = sorted((m.recipient, m.template) for m in _queued(ctx))
    assert got == sorted(
        [
            (expired_only, "trial.expired"),
            (both, "trial.expired"),
            (both, "trial.extended"),
            (catch_all, "trial.expired"),
            (catch_all, "trial.extended"),
            (catch_all, "trial.lapsed"),
        ]
    )
    causes = {m.cause for m in _queued(ctx)}
    assert len(causes) == 3  # one cause per audit event, shared by its endpoints
    assert all(c.startswith("event:") for c in causes)


def test_the_payload_carries_the_event(sqlite_world: World) -> None:
    ctx, pid = sqlite_world.ctx, sqlite_world.partner_id
    endpoint = _subscribe(sqlite_world, "trial.expired")
    _emit(ctx, ("trial.expired", pid))
    (message,) = _queued(ctx)
    assert message.recipient == endpoint
    assert message.partner_id == pid
    assert message.payload["type"] == "trial.expired"
    data = message.payload["data"]
    assert isinstance(data, dict)
    assert f"event:{data['event_id']}" == message.cause
    assert {k: data[k] for k in ("subject_type", "subject_id", "trial_id", "org_id")} == {
        "subject_type": "trial",
        "subject_id": "trl_x",
        "trial_id": "trl_x",
        "org_id": "org_x",
    }
    assert (data["before"], data["after"]) == ({"status": "active"}, {"status": "expired"})


def test_nothing_for_other_partners_disabled_endpoints_or_no_partner(
    sqlite_world: World,
) -> None:
    ctx, pid = sqlite_world.ctx, sqlite_world.partner_id
    other = make_world(ctx, name="Partner B")
    theirs = _subscribe(other, "*")
    deleted = _subscribe(sqlite_world, "*")
    webhooks.delete_endpoint(ctx, sqlite_world.sales_full.actor, deleted)
    _emit(ctx, ("trial.expired", pid), ("partner.created", None))
    assert _queued(ctx) == []  # rule P3: B's catch-all hears only B's events
    _emit(ctx, ("trial.expired", other.partner_id))
    assert [m.recipient for m in _queued(ctx)] == [theirs]


def test_a_rolled_back_change_queues_nothing(sqlite_world: World) -> None:
    _subscribe(sqlite_world, "*")
    _emit(sqlite_world.ctx, ("trial.expired", sqlite_world.partner_id), fail=True)
    assert _queued(sqlite_world.ctx) == []  # rule E2: the message commits with its cause


@pytest.mark.both_backends
def test_a_starts_events_reach_webhooks_under_their_own_audit_ids(world: World) -> None:
    """A start writes its entities and several audit rows at once (on PostgreSQL in one
    statement, the audit ids returned with it, decision 0021): each webhook message names
    the audit row of its own event, with that row's action and change (rules E1, E2)."""
    ctx = world.ctx
    _subscribe(world, "*")
    view = trials.start_trial(
        ctx, world.sales_full.actor, StartTrial.model_validate(new_customer_body())
    )
    a = tables.audit_events.c
    with ctx.db.engine.connect() as conn:
        audit = {
            row.id: row
            for row in conn.execute(
                select(a.id, a.action, a.subject_id, a.after).where(a.trial_id == view.id)
            )
        }
    sent = [q for q in _queued(ctx) if q.payload["data"]["trial_id"] == view.id]  # type: ignore[index]
    assert len(audit) >= 2
    assert len(sent) == len(audit)
    for message in sent:
        data = message.payload["data"]
        assert isinstance(data, dict)
        row = audit[data["event_id"]]
        assert message.cause == f"event:{row.id}"
        assert message.template == row.action == message.payload["type"]
        assert data["subject_id"] == row.subject_id
        assert data["after"] == row.after
