"""Consent of existing customers: request, resend, cancel, and the customer's decision
(rules K1-K7)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from trialhub.domain.consent import ConsentToken
from trialhub.domain.errors import (
    ConsentUnavailable,
    Forbidden,
    NotFound,
)
from trialhub.domain.organization import AccessLevel, Organization
from trialhub.domain.policy import Policy
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial
from trialhub.services.consent.requests import end_request, revoke_links
from trialhub.services.consent.schemas import ConsentDecision, ConsentView, PendingRequestView
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.security import hash_token
from trialhub.services.kernel.throttle import Attempt, Secret, checking
from trialhub.services.kernel.views import service_name
from trialhub.services.messaging.outbox import queue_email
from trialhub.store.repositories import Scope
from trialhub.store.uow import UnitOfWork


def _token_scope() -> Scope:
    return Scope.system("consent")


def _load_token(
    uow: UnitOfWork, raw: str, now: datetime, policy: Policy
) -> tuple[ConsentToken, Trial]:
    """The token and its trial, if the link still works (rule K2)."""
    token = uow.consent.by_hash_unscoped(hash_token(raw))
    if token is None:
        raise NotFound("This consent link is not valid.", field="token", rule="K2")
    trial = uow.consent.trial_unscoped(token.trial_id)
    assert trial is not None
    if token.used_at is not None:
        raise ConsentUnavailable(
            "This consent link was already used.", field="token", rule="K2", code="consent_used"
        )
    if trial.consent_expired(now):
        raise ConsentUnavailable(
            f"This consent request expired after {policy.consent_window_days} days.",
            field="token",
            rule="K6",
            code="consent_expired",
        )
    if token.revoked_at is not None or trial.status == TrialStatus.CANCELLED:
        raise ConsentUnavailable(
            "This consent request was cancelled or replaced by a newer email.",
            field="token",
            rule="K2",
            code="consent_cancelled",
        )
    if trial.status != TrialStatus.PENDING_CONSENT:
        raise ConsentUnavailable(
            "This consent request was already answered.",
            field="token",
            rule="K2",
            code="consent_used",
        )
    return token, trial


@contextmanager
def _guessing(ctx: Context, address: str | None) -> Iterator[None]:
    """Unknown links count against the client's address, and past the limit no link is
    looked up from there (rule X1); `None`: a local caller that has the database anyway."""
    if address is None:
        yield
        return
    with checking(ctx, Attempt(Secret.CONSENT_LINK, address), failure=NotFound):
        yield


def view(ctx: Context, raw: str, *, address: str | None) -> ConsentView:
    """What the recipient sees, with every pending request of its organization (rule K7)."""
    now = ctx.now()
    with _guessing(ctx, address), ctx.uow(_token_scope()) as uow:
        token, trial = _load_token(uow, raw, now, ctx.policy)
        return _consent_view(ctx, uow, token, trial)


def decide(ctx: Context, raw: str, cmd: ConsentDecision, *, address: str | None) -> ConsentView:
    """A full administrator accepts (with or without full-admin access) or declines (K2-K4, K6)."""
    now = ctx.now()
    with _guessing(ctx, address), ctx.uow(_token_scope()) as uow:
        token, trial = _load_token(uow, raw, now, ctx.policy)
        org = uow.organizations.get(trial.org_id)
        assert org is not None
        if token.recipient_email not in {a.email for a in org.full_admins()}:
            raise Forbidden(
                "Only a full administrator of the organization can accept or decline a trial "
                "request; ask one of them to use the link they received.",
                rule="K2",
                code="not_full_admin",
            )
        # the audit log names the customer administrator who decided
        uow.scope = Scope(None, f"customer:{token.recipient_email}", trial.partner_id)
        token.used_at = now
        revoke_links(uow, trial.id, now, except_id=token.id)
        if cmd.decision == "decline":
            end_request(ctx, uow, trial, now, reason="declined")
        else:
            _accept(uow, trial, token, now, full_admin=cmd.grant_full_admin)
        _tell_partner(ctx, uow, trial, org, cmd, now)
        uow.commit()
        return _consent_view(ctx, uow, token, trial)


def _tell_partner(
    ctx: Context,
    uow: UnitOfWork,
    trial: Trial,
    org: Organization,
    cmd: ConsentDecision,
    now: datetime,
) -> None:
    """The administrator who asked learns the answer (and can provision if accepted)."""
    creator = uow.admins.get(trial.created_by_admin_id) if trial.created_by_admin_id else None
    if creator is None:
        return
    accepted = cmd.decision == "accept"
    queue_email(
        uow,
        template="consent_decided",
        recipient=creator.email,
        cause=f"consent_decided:{trial.id}",
        payload={
            "organization": org.name,
            "decision": "accepted" if accepted else "declined",
            "access": ("full" if cmd.grant_full_admin else "provisioning") if accepted else None,
        },
        now=now,
        partner_id=trial.partner_id,
        org_id=org.id,
        trial_id=trial.id,
    )


def _accept(
    uow: UnitOfWork, trial: Trial, token: ConsentToken, now: datetime, *, full_admin: bool
) -> None:
    """Rule K3: the organization joins the list with the access the administrator chose."""
    trial.accept(now)
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    assert customer is not None
    access = AccessLevel.FULL if full_admin else AccessLevel.PROVISIONING
    customer.consent(access, now, by=token.recipient_email, trial_id=trial.id)


def _consent_view(ctx: Context, uow: UnitOfWork, token: ConsentToken, trial: Trial) -> ConsentView:
    org = uow.organizations.get(trial.org_id)
    assert org is not None
    pending = []
    for t in uow.consent.pending_trials_of_org_any_partner(org.id):
        sender = uow.partners.get(t.partner_id)
        pending.append(
            PendingRequestView(
                trial_id=t.id,
                partner_name=sender.name if sender else "",
                services=[service_name(ctx.catalog, c) for c in t.open_service_codes()],
                expires_at=t.consent_deadline,
            )
        )
    partner = uow.partners.get(trial.partner_id)
    return ConsentView(
        trial_id=trial.id,
        status=trial.status,
        status_label=TrialStatus(trial.status).label,
        organization=org.name,
        partner_name=partner.name if partner else "",
        recipient_email=token.recipient_email,
        recipient_is_full_admin=token.recipient_email in {a.email for a in org.full_admins()},
        services=[service_name(ctx.catalog, c) for c in trial.open_service_codes()],
        expires_at=trial.consent_deadline,
        decision=_decision(trial),
        pending_requests=pending,
    )


def _decision(trial: Trial) -> str | None:
    if trial.status == TrialStatus.AWAITING_PROVISIONING or trial.awaiting_provisioning_at:
        return "accepted"
    if trial.status == TrialStatus.CANCELLED:
        return "declined_or_cancelled"
    return None
