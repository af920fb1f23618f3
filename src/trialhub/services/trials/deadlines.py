"""The trial's own deadlines, as the worker applies them (rules T4-T8)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from trialhub.domain.deadlines import DeadlineKind
from trialhub.domain.organization import Customer, Organization
from trialhub.domain.records import ClaimedDeadline, TrialFacts
from trialhub.domain.states import NUMBER_KEEPING_STATUSES, TrialStatus
from trialhub.domain.trial import Trial
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.deadlines import DeadlineHandler, NoticeHandler
from trialhub.services.messaging.audience import Managed, managing_admin_emails
from trialhub.services.messaging.outbox import OfTrial, queue_trial_email
from trialhub.store.uow import UnitOfWork


def send_expiry_notice(
    ctx: Context, uow: UnitOfWork, trial: TrialFacts, row: ClaimedDeadline
) -> str:
    """Rule T4: before the end date (the policy says how long) and on it, customer and
    partner admins are told. It reads the trial as values (`TrialFacts`): a notice changes
    nothing, and the worker reads a batch's notices without loading entities (issue 11)."""
    if trial.status != TrialStatus.ACTIVE or trial.ends_at is None:
        return "obsolete"
    days = 0 if row.kind == DeadlineKind.NOTICE_ON_END else max(ctx.policy.notice_days_before)
    if trial.ends_at - row.due_at != timedelta(days=days):
        return "obsolete"
    partner = uow.partners.get(trial.partner_id)
    common = {
        "organization": trial.organization,
        "org_id": trial.org_id,
        "partner": partner.name if partner else "",
        "services": list(trial.services),
        "ends_at": trial.ends_at.isoformat(),
        "days_left": days,
    }
    cause = f"{row.kind}:{trial.id}:{row.due_at.isoformat()}"
    _tell_both_sides(
        uow, trial, trial.admin_emails, trial, "expiry_notice", cause, row.due_at, common
    )
    trial.record_event(f"trial.{row.kind}", row.due_at, days_left=days)
    return "notified"


def expire_at_end(ctx: Context, uow: UnitOfWork, trial: Trial, row: ClaimedDeadline) -> str:
    """Rule T5: the end date passes: expired, licenses tagged Expired, grace starts."""
    if trial.status != TrialStatus.ACTIVE or trial.ends_at != row.due_at:
        return "obsolete"
    trial.expire(row.due_at)
    return "expired"


def tell_users_access_ended(
    ctx: Context, uow: UnitOfWork, trial: Trial, row: ClaimedDeadline
) -> str:
    """Rule T6: when the grace period after the end date ends, users learn they lost the
    trial services."""
    if trial.status != TrialStatus.EXPIRED or trial.ends_at is None:
        return "obsolete"
    if trial.ends_at + ctx.policy.grace != row.due_at:
        return "obsolete"
    org = _org(uow, trial)
    payload = {"organization": org.name, "services": trial.open_service_codes()}
    people = {u.email for u in org.users} | {a.email for a in org.admins}
    for email in sorted(people):
        queue_trial_email(
            uow, trial, "access_ended", email, f"access_ended:{trial.id}", row.due_at, payload
        )
    trial.record_event("trial.users_notified", row.due_at, recipients=len(people))
    return "notified"


def lapse_at_grace_end(ctx: Context, uow: UnitOfWork, trial: Trial, row: ClaimedDeadline) -> str:
    """Rule T7: grace over, unconverted: lapsed, irreversibly, and everything released.
    Rule T8: Calling numbers are kept for the policy's retention first."""
    if trial.status != TrialStatus.EXPIRED or trial.ends_at is None:
        return "obsolete"
    if trial.ends_at + ctx.policy.grace != row.due_at:
        return "obsolete"
    at = row.due_at
    org = _org(uow, trial)
    partner = uow.partners.get(trial.partner_id)
    payload = {
        "organization": org.name,
        "partner": partner.name if partner else "",
        "services": trial.open_service_codes(),
    }
    admins = [a.email for a in org.admins]
    customer = _customer(uow, trial)
    _tell_both_sides(
        uow, trial, admins, customer, "trial_lapsed", f"lapsed:{trial.id}", at, payload
    )
    moved = _release_organization(uow, trial, org, at)
    trial.lapse(at, ctx.policy, ctx.catalog, users_moved=moved)
    return "lapsed"


def _release_organization(uow: UnitOfWork, trial: Trial, org: Organization, at: datetime) -> int:
    """Rule T7 (choice): when nothing else keeps the organization (no purchased service, no
    other open trial), its people move to the free consumer organization and its admin roles
    go. An organization with paid services keeps its people; only the trial's parts go."""
    others = [t for t in uow.trials.of_org_for_worker(org.id) if t.id != trial.id and t.is_open]
    if org.subscriptions or others:
        return 0
    free = uow.organizations.free_organization()
    if free is None:
        free = Organization.free(at)
        uow.organizations.add(free)
        uow.flush()
    released = org.release_people(free, at, partner_id=trial.partner_id, trial_id=trial.id)
    for user in released.new_users:
        uow.organizations.add_member(user)
    for admin in released.dropped_admins:
        uow.organizations.delete_member(admin)
    return released.moved


def release_numbers(ctx: Context, uow: UnitOfWork, trial: Trial, row: ClaimedDeadline) -> str:
    """Rules T8, T9: the kept Calling numbers are released."""
    if trial.status not in NUMBER_KEEPING_STATUSES:
        return "obsolete"
    if trial.numbers_release_at != row.due_at:
        return "obsolete"
    org = _org(uow, trial)
    customer = _customer(uow, trial)
    partner = uow.partners.get(trial.partner_id)
    payload = {"organization": org.name, "partner": partner.name if partner else ""}
    for email in managing_admin_emails(uow, customer):
        queue_trial_email(
            uow, trial, "numbers_released", email, f"numbers:{trial.id}", row.due_at, payload
        )
    trial.record_event("trial.numbers_released", row.due_at)
    return "released"


def _org(uow: UnitOfWork, trial: Trial) -> Organization:
    org = uow.organizations.get(trial.org_id)
    assert org is not None
    return org


def _customer(uow: UnitOfWork, trial: Trial) -> Customer:
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    assert customer is not None
    return customer


def _tell_both_sides(
    uow: UnitOfWork,
    about: OfTrial,
    admin_emails: Iterable[str],
    customer: Managed,
    template: str,
    cause: str,
    at: datetime,
    payload: Mapping[str, object],
) -> None:
    """Rules T4, T7: every customer administrator and every partner administrator who
    manages the customer hears of it, each with its audience."""
    for email in admin_emails:
        queue_trial_email(
            uow, about, template, email, cause, at, {**payload, "audience": "customer"}
        )
    for email in managing_admin_emails(uow, customer):
        queue_trial_email(
            uow, about, template, email, cause, at, {**payload, "audience": "partner"}
        )


# the notices read their trial as values (`READS_VALUES`)
NOTICE_HANDLERS: dict[DeadlineKind, NoticeHandler] = {
    DeadlineKind.NOTICE_BEFORE_END: send_expiry_notice,
    DeadlineKind.NOTICE_ON_END: send_expiry_notice,
}

DEADLINE_HANDLERS: dict[DeadlineKind, DeadlineHandler] = {
    DeadlineKind.END: expire_at_end,
    DeadlineKind.USER_NOTICE: tell_users_access_ended,
    DeadlineKind.GRACE_END: lapse_at_grace_end,
    DeadlineKind.NUMBER_RELEASE: release_numbers,
}
