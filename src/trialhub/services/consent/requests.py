"""Ending a consent request: its links die and the customer leaves the list (rules K5, K6)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.events import DomainEvent
from trialhub.domain.model import (
    CustomerState,
    Trial,
)
from trialhub.domain.states import TrialStatus, transition
from trialhub.store.uow import UnitOfWork


def _revoke_tokens(uow: UnitOfWork, trial_id: str, now: datetime, *, except_id: str = "") -> None:
    for token in uow.consent.for_trial(trial_id):
        if token.id != except_id and token.used_at is None and token.revoked_at is None:
            token.revoked_at = now


def end_request(uow: UnitOfWork, trial: Trial, now: datetime, *, reason: str) -> None:
    """Cancelled, declined or expired: the trial ends, links die, the customer leaves the
    partner's list unless another open trial keeps it there (rules K5, K6)."""
    transition(trial, TrialStatus.CANCELLED, now, reason=reason)
    if trial.site is not None and trial.site.released_at is None:
        trial.site.released_at = now
    _revoke_tokens(uow, trial.id, now)
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    assert customer is not None
    others = [t for t in uow.customers.trials_of(customer.id) if t.id != trial.id and t.is_open]
    if customer.state == CustomerState.PENDING and not others:
        customer.state = CustomerState.REMOVED.value
        customer.removed_at = now
        customer.record(
            DomainEvent(
                action="customer.removed",
                subject_type="customer",
                subject_id=customer.id,
                at=now,
                after={"reason": reason},
                partner_id=customer.partner_id,
                org_id=customer.org_id,
            )
        )
