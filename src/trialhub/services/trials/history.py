"""What happened to a trial, and every deadline still ahead of it."""

from __future__ import annotations

from collections.abc import Sequence

from trialhub.domain.deadlines import trial_deadlines
from trialhub.domain.devices import DeviceShipment
from trialhub.domain.records import AuditEvent
from trialhub.domain.roles import Action
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial
from trialhub.services.kernel.actor import Actor, require_reach
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_customer, load_trial
from trialhub.services.trials.schemas import (
    AuditEventView,
    DeadlineView,
    TimelineView,
)


def timeline(ctx: Context, actor: Actor, trial_id: str) -> TimelineView:
    """What happened to the trial, and every deadline still ahead of it."""
    with ctx.reader(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.READ_CUSTOMERS)
        events = uow.audit.since(after=None, limit=10_000, trial_id=trial.id)
        return _timeline_of(ctx, trial, events, uow.shipments.for_trial(trial.id))


def customer_timelines(ctx: Context, actor: Actor, customer_id: str) -> list[TimelineView]:
    """The timeline of each trial of a customer in reach, in a bounded number of queries
    (the customer page): the same events and deadlines as `timeline` gives one by one."""
    with ctx.reader(actor.scope) as uow:
        customer = load_customer(uow, customer_id)
        require_reach(actor, Action.READ_CUSTOMERS, customer)
        trials = uow.customers.trials_of(customer.id)
        ids = [t.id for t in trials]
        events: dict[str, list[AuditEvent]] = {i: [] for i in ids}
        for event in uow.audit.for_trials(ids):
            events[event.trial_id or ""].append(event)
        shipments = uow.shipments.for_trials(ids)
        return [_timeline_of(ctx, t, events[t.id], shipments.get(t.id, [])) for t in trials]


def _timeline_of(
    ctx: Context, trial: Trial, events: Sequence[AuditEvent], shipments: Sequence[DeviceShipment]
) -> TimelineView:
    now = ctx.now()
    ahead = [
        d
        for d in trial_deadlines(trial, ctx.policy, ctx.catalog, shipments=shipments)
        if d.at > now
    ]
    status = TrialStatus(trial.status)
    return TimelineView(
        trial_id=trial.id,
        status=status.value,
        status_label=status.label,
        events=[AuditEventView.model_validate(e) for e in events],
        deadlines=[DeadlineView(kind=d.kind.value, label=d.label, at=d.at) for d in ahead],
    )
