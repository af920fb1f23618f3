"""Rule K6: a request not accepted within its window is cancelled."""

from __future__ import annotations

from trialhub.domain.model import (
    DueEvent,
    Trial,
)
from trialhub.domain.states import TrialStatus
from trialhub.services.consent.requests import end_request
from trialhub.services.kernel.context import Context
from trialhub.services.messaging.outbox import queue_email
from trialhub.store.uow import UnitOfWork


def _consent_expiry(ctx: Context, uow: UnitOfWork, trial: Trial, row: DueEvent) -> str:
    """Rule K6: not accepted within the consent window -> cancelled, off the list."""
    if trial.status != TrialStatus.PENDING_CONSENT or trial.consent_deadline != row.due_at:
        return "obsolete"
    end_request(uow, trial, row.due_at, reason="consent expired")
    org = uow.organizations.get(trial.org_id)
    assert org is not None
    creator = uow.admins.get(trial.created_by_admin_id) if trial.created_by_admin_id else None
    if creator is not None:
        queue_email(
            uow,
            template="consent_expired",
            recipient=creator.email,
            cause=f"consent_expired:{trial.id}",
            payload={"organization": org.name, "trial_id": trial.id},
            now=row.due_at,
            partner_id=trial.partner_id,
            org_id=org.id,
            trial_id=trial.id,
        )
    return "cancelled"
