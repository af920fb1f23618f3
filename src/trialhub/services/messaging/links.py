"""What an email needs at send time and its payload must not keep (decision 0010)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.consent import ConsentToken
from trialhub.domain.records import OutboxMessage
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial
from trialhub.services.kernel.security import hash_token
from trialhub.store.uow import UnitOfWork


def link_for_sending(
    uow: UnitOfWork, message: OutboxMessage, now: datetime
) -> dict[str, object] | None:
    """The consent link for the email about to go, or None if the link no longer works
    (used, cancelled, replaced by a resend, expired: rule K2), so that no dead or stale
    link is ever mailed."""
    token_id = message.payload.get("consent_token_id")
    raw = message.secret
    token = uow.consent.get_unscoped(str(token_id)) if token_id else None
    if token is None or raw is None or token.token_hash != hash_token(raw):
        return None
    trial = uow.consent.trial_unscoped(token.trial_id)
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


def reset_link_for_sending(
    uow: UnitOfWork, message: OutboxMessage, now: datetime
) -> dict[str, object] | None:
    """The password-reset link for the email about to go, or None if it no longer works
    (used, replaced by a newer one, expired)."""
    reset_id = message.payload.get("reset_id")
    raw = message.secret
    row = uow.portal.reset(reset_id=str(reset_id)) if reset_id else None
    if row is None or raw is None or row.token_hash != hash_token(raw):
        return None
    if row.used_at is not None or now >= row.expires_at:
        return None
    return {"reset_url": f"{message.payload.get('reset_base', '/password/reset/')}{raw}"}
