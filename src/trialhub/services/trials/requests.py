"""A request pending customer consent: resend its emails or cancel it (rule K5)."""

from __future__ import annotations

from trialhub.domain.roles import Action
from trialhub.services.consent.links import send_consent_request
from trialhub.services.consent.requests import end_request, revoke_links
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial
from trialhub.services.trials.creation import org_of
from trialhub.services.trials.schemas import TrialView
from trialhub.services.trials.views import trial_view


def resend(ctx: Context, actor: Actor, trial_id: str) -> TrialView:
    """Rule K5: new links to the same people; the consent window does not restart (choice)."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        trial.require_pending_consent(now, ctx.policy)
        org = org_of(uow, trial.org_id)
        revoke_links(uow, trial.id, now)
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
        trial.record_event("trial.consent_resent", now, recipients=recipients)
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def cancel(ctx: Context, actor: Actor, trial_id: str) -> TrialView:
    """Rule K5: cancel a pending request; the customer leaves the partner's list."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        end_request(ctx, uow, trial, now, reason="cancelled")
        uow.commit()
        return trial_view(ctx.catalog, trial, now)
