"""Ending a consent request: its links die and the customer leaves the list (rules K5, K6)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.trial import Trial
from trialhub.services.kernel.context import Context
from trialhub.store.uow import UnitOfWork


def revoke_links(uow: UnitOfWork, trial_id: str, now: datetime, *, except_id: str = "") -> None:
    """Rule K2: the trial's consent links that still work stop working."""
    for token in uow.consent.for_trial(trial_id):
        if token.id != except_id and token.usable:
            token.revoked_at = now


def end_request(ctx: Context, uow: UnitOfWork, trial: Trial, now: datetime, *, reason: str) -> None:
    """Cancelled, declined or expired: the trial ends, links die, the customer leaves the
    partner's list unless another open trial keeps it there (rules K5, K6)."""
    trial.cancel(now, ctx.policy, ctx.catalog, reason=reason)
    revoke_links(uow, trial.id, now)
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    assert customer is not None
    others = any(t.is_open for t in uow.customers.trials_of(customer.id) if t.id != trial.id)
    customer.withdraw(now, reason=reason, other_open_trials=others)
