"""A request pending customer consent: resend its emails or cancel it (rule K5)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.errors import (
    InvalidTransition,
)
from trialhub.domain.model import (
    Trial,
)
from trialhub.domain.roles import Action
from trialhub.domain.states import TrialStatus
from trialhub.services.consent.links import send_consent_request
from trialhub.services.consent.requests import _revoke_tokens, end_request
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial
from trialhub.services.trials.schemas import TrialView
from trialhub.services.trials.views import trial_view


def resend(ctx: Context, actor: Actor, trial_id: str) -> TrialView:
    """Rule K5: new links to the same people; the 10-day window does not restart (choice)."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        _require_pending(trial, now)
        org = uow.organizations.get(trial.org_id)
        assert org is not None
        _revoke_tokens(uow, trial.id, now)
        # one email per recipient per send: a retried resend at the same instant queues nothing
        recipients = send_consent_request(
            ctx,
            uow,
            trial,
            org,
            actor.partner_name or "",
            now,
            cause=f"consent:{trial.id}:{now.isoformat()}",
        )
        trial.event("trial.consent_resent", now, recipients=recipients)
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def cancel(ctx: Context, actor: Actor, trial_id: str) -> TrialView:
    """Rule K5: cancel a pending request; the customer leaves the partner's list."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        if trial.status != TrialStatus.PENDING_CONSENT:
            raise InvalidTransition(
                "Only a request pending customer consent can be cancelled; delete the trial "
                "instead.",
                rule="K5",
            )
        end_request(uow, trial, now, reason="cancelled")
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def _require_pending(trial: Trial, now: datetime) -> None:
    if trial.status != TrialStatus.PENDING_CONSENT:
        raise InvalidTransition("The trial is not waiting for customer consent.", rule="K5")
    deadline = trial.consent_deadline
    lapsed_by_time = deadline is not None and (
        (trial.status == TrialStatus.PENDING_CONSENT and now >= deadline)
        or (trial.status == TrialStatus.CANCELLED and trial.cancelled_at == deadline)
    )
    if lapsed_by_time:
        raise InvalidTransition(
            "The 10-day consent window has passed; the request is being cancelled.", rule="K6"
        )
