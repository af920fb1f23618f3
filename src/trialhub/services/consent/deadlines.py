"""Rule K6: a request not accepted within its window is cancelled."""

from __future__ import annotations

from trialhub.domain.deadlines import DeadlineKind
from trialhub.domain.records import ClaimedDeadline
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial
from trialhub.services.consent.requests import end_request
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.deadlines import DeadlineHandler
from trialhub.services.messaging.outbox import queue_trial_email
from trialhub.store.uow import UnitOfWork


def expire_consent(ctx: Context, uow: UnitOfWork, trial: Trial, row: ClaimedDeadline) -> str:
    """Rule K6: not accepted within the consent window -> cancelled, off the list."""
    if trial.status != TrialStatus.PENDING_CONSENT or trial.consent_deadline != row.due_at:
        return "obsolete"
    end_request(ctx, uow, trial, row.due_at, reason="consent expired")
    org = uow.organizations.get(trial.org_id)
    assert org is not None
    creator = uow.admins.get(trial.created_by_admin_id) if trial.created_by_admin_id else None
    if creator is not None:
        payload = {"organization": org.name, "trial_id": trial.id}
        cause = f"consent_expired:{trial.id}"
        queue_trial_email(uow, trial, "consent_expired", creator.email, cause, row.due_at, payload)
    return "cancelled"


DEADLINE_HANDLERS: dict[DeadlineKind, DeadlineHandler] = {
    DeadlineKind.CONSENT_EXPIRY: expire_consent,
}
