"""Consent links: who gets them (rule K1), how they are issued (rule K2), and how the link is
put into its email at send time only, while it still works (decision 0010)."""

from __future__ import annotations

import secrets
from datetime import datetime

from trialhub.domain.model import ConsentToken, Organization, OutboxMessage, Trial, new_id
from trialhub.domain.states import TrialStatus
from trialhub.services.context import Context
from trialhub.services.outbox import queue_email
from trialhub.services.security import hash_token
from trialhub.services.views import service_name
from trialhub.store.uow import UnitOfWork


def consent_recipients(org: Organization, given_email: str) -> list[str]:
    """Rule K1: a full administrator alone, or the given person and every full administrator."""
    full = [a.email for a in org.full_admins()]
    if given_email in full:
        return [given_email]
    return [given_email, *(e for e in full if e != given_email)]


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
    services = [service_name(ctx.catalog, s.service) for s in trial.open_services()]
    for recipient in recipients:
        raw = secrets.token_urlsafe(32)
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


def link_for_sending(
    uow: UnitOfWork, message: OutboxMessage, now: datetime
) -> dict[str, object] | None:
    """The consent link for the email about to go, or None if the link no longer works
    (used, cancelled, replaced by a resend, expired: rule K2), so that no dead or stale
    link is ever mailed."""
    token_id = message.payload.get("consent_token_id")
    raw = message.secret
    token = uow.consent.get(str(token_id)) if token_id else None
    if token is None or raw is None or token.token_hash != hash_token(raw):
        return None
    trial = uow.consent.trial(token.trial_id)
    if trial is None or not _usable(token, trial, now):
        return None
    return {"consent_url": f"{message.payload.get('consent_base', '/consent/')}{raw}"}


def _usable(token: ConsentToken, trial: Trial, now: datetime) -> bool:
    """Rule K2: a link works until used, cancelled or expired (rule K6)."""
    return (
        token.used_at is None
        and token.revoked_at is None
        and trial.status == TrialStatus.PENDING_CONSENT
        and (trial.consent_deadline is None or now < trial.consent_deadline)
    )
