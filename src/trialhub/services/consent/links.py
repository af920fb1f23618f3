"""Consent links: who gets them (rule K1), how they are issued (rule K2), and how the link is
put into its email at send time only, while it still works (decision 0010)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.consent import ConsentToken, consent_recipients
from trialhub.domain.ids import new_id
from trialhub.domain.organization import Organization
from trialhub.domain.trial import Trial
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.security import hash_token, new_consent_token
from trialhub.services.kernel.views import service_name
from trialhub.services.messaging.outbox import queue_email
from trialhub.store.uow import UnitOfWork


def send_consent_request(
    ctx: Context,
    uow: UnitOfWork,
    trial: Trial,
    org: Organization,
    partner_name: str,
    now: datetime,
    *,
    cause: str,
) -> list[str]:
    """Issues one single-use link per recipient and queues the emails (rules K1, K2)."""
    assert trial.consent_email is not None
    recipients = consent_recipients(org, trial.consent_email)
    services = [service_name(ctx.catalog, c) for c in trial.open_service_codes()]
    for recipient in recipients:
        raw = new_consent_token()
        token = ConsentToken(
            id=new_id("cst"),
            trial_id=trial.id,
            org_id=org.id,
            recipient_email=recipient,
            token_hash=hash_token(raw),
            created_at=now,
        )
        uow.consent.add(token)
        queue_email(
            uow,
            template="consent_request",
            recipient=recipient,
            cause=cause,
            # the raw token travels as the message's secret, never in the payload, and is
            # erased once the email is sent (link_for_sending)
            secret=raw,
            payload={
                "consent_token_id": token.id,
                "consent_base": f"{ctx.public_url}/consent/",
                "organization": org.name,
                "partner": partner_name,
                "services": services,
                "expires_at": trial.consent_deadline.isoformat()
                if trial.consent_deadline
                else None,
                "recipient_is_full_admin": recipient in {a.email for a in org.full_admins()},
            },
            now=now,
            partner_id=trial.partner_id,
            org_id=org.id,
            trial_id=trial.id,
        )
    return recipients
