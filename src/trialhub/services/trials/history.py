"""What happened to a trial, and every deadline still ahead of it."""

from __future__ import annotations

from trialhub.domain.deadlines import trial_deadlines
from trialhub.domain.roles import Action
from trialhub.domain.states import TrialStatus
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial
from trialhub.services.trials.schemas import (
    AuditEventView,
    DeadlineView,
    TimelineView,
)


def timeline(ctx: Context, actor: Actor, trial_id: str) -> TimelineView:
    """What happened to the trial, and every deadline still ahead of it."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.READ_CUSTOMERS)
        events = uow.audit.since(after=None, limit=10_000, trial_id=trial.id)
        ahead = [
            d
            for d in trial_deadlines(
                trial,
                ctx.policy,
                ctx.catalog,
                shipments=uow.shipments.for_trial(trial.id),
            )
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
