"""The trial's own deadlines, as the worker applies them (rules T4-T8)."""

from __future__ import annotations

from datetime import datetime, timedelta

from trialhub.domain.deadlines import DeadlineKind
from trialhub.domain.events import DomainEvent
from trialhub.domain.model import (
    Customer,
    DueEvent,
    Organization,
    OrgKind,
    OrgUser,
    Trial,
    new_id,
)
from trialhub.domain.states import TrialStatus, transition
from trialhub.services.kernel.context import Context
from trialhub.services.messaging.audience import managing_admin_emails
from trialhub.services.messaging.outbox import queue_trial_email
from trialhub.services.trials.schedule import keeps_numbers
from trialhub.store.uow import UnitOfWork


def _notice(ctx: Context, uow: UnitOfWork, trial: Trial, row: DueEvent) -> str:
    """Rule T4: 7 days before and on the end date, customer and partner admins are told."""
    if trial.status != TrialStatus.ACTIVE or trial.ends_at is None:
        return "obsolete"
    days = 0 if row.kind == DeadlineKind.NOTICE_ON_END else max(ctx.policy.notice_days_before)
    if trial.ends_at - row.due_at != timedelta(days=days):
        return "obsolete"
    org = _org(uow, trial)
    customer = _customer(uow, trial)
    partner = uow.partners.get(trial.partner_id)
    services = [s.service for s in trial.open_services()]
    common = {
        "organization": org.name,
        "org_id": org.id,
        "partner": partner.name if partner else "",
        "services": services,
        "ends_at": trial.ends_at.isoformat(),
        "days_left": days,
    }
    cause = f"{row.kind}:{trial.id}:{row.due_at.isoformat()}"
    for admin in org.admins:
        queue_trial_email(
            uow,
            trial,
            "expiry_notice",
            admin.email,
            cause,
            row.due_at,
            {**common, "audience": "customer"},
        )
    for email in managing_admin_emails(uow, customer):
        queue_trial_email(
            uow,
            trial,
            "expiry_notice",
            email,
            cause,
            row.due_at,
            {**common, "audience": "partner"},
        )
    trial.event(f"trial.{row.kind}", row.due_at, days_left=days)
    return "notified"


def _end(ctx: Context, uow: UnitOfWork, trial: Trial, row: DueEvent) -> str:
    """Rule T5: the end date passes: expired, licenses tagged Expired, grace starts."""
    if trial.status != TrialStatus.ACTIVE or trial.ends_at != row.due_at:
        return "obsolete"
    transition(trial, TrialStatus.EXPIRED, row.due_at)
    return "expired"


def _user_notice(ctx: Context, uow: UnitOfWork, trial: Trial, row: DueEvent) -> str:
    """Rule T6: 30 days after the end date, users learn they lost the trial services."""
    if trial.status != TrialStatus.EXPIRED or trial.ends_at is None:
        return "obsolete"
    if trial.ends_at + ctx.policy.grace != row.due_at:
        return "obsolete"
    org = _org(uow, trial)
    payload = {"organization": org.name, "services": [s.service for s in trial.open_services()]}
    people = {u.email for u in org.users} | {a.email for a in org.admins}
    for email in sorted(people):
        queue_trial_email(
            uow, trial, "access_ended", email, f"access_ended:{trial.id}", row.due_at, payload
        )
    trial.event("trial.users_notified", row.due_at, recipients=len(people))
    return "notified"


def _grace_end(ctx: Context, uow: UnitOfWork, trial: Trial, row: DueEvent) -> str:
    """Rule T7: grace over, unconverted: lapsed, irreversibly. Rule T8: Calling numbers are
    kept 15 more days."""
    if trial.status != TrialStatus.EXPIRED or trial.ends_at is None:
        return "obsolete"
    if trial.ends_at + ctx.policy.grace != row.due_at:
        return "obsolete"
    at = row.due_at
    numbers = keeps_numbers(ctx.catalog, trial)
    org = _org(uow, trial)
    customer = _customer(uow, trial)
    partner = uow.partners.get(trial.partner_id)
    payload = {
        "organization": org.name,
        "partner": partner.name if partner else "",
        "services": [s.service for s in trial.open_services()],
    }
    for admin in org.admins:
        queue_trial_email(
            uow,
            trial,
            "trial_lapsed",
            admin.email,
            f"lapsed:{trial.id}",
            at,
            {**payload, "audience": "customer"},
        )
    for email in managing_admin_emails(uow, customer):
        queue_trial_email(
            uow,
            trial,
            "trial_lapsed",
            email,
            f"lapsed:{trial.id}",
            at,
            {**payload, "audience": "partner"},
        )
    transition(trial, TrialStatus.LAPSED, at)
    for service in trial.services:
        if service.removed_at is None:
            service.removed_at = at  # licenses released
    if trial.site is not None and trial.site.released_at is None:
        trial.site.released_at = at  # the Meetings site URL is released
    if numbers:
        trial.numbers_release_at = at + ctx.policy.number_retention
    moved = _release_organization(uow, trial, org, at)
    trial.event("trial.released", at, users_moved=moved, numbers_kept=numbers)
    return "lapsed"


def _release_organization(uow: UnitOfWork, trial: Trial, org: Organization, at: datetime) -> int:
    """Rule T7 (choice): when nothing else keeps the organization (no purchased service, no
    other open trial), its people move to the free consumer organization and its admin roles
    go. An organization with paid services keeps its people; only the trial's parts go."""
    others = [t for t in _org_trials(uow, org.id) if t.id != trial.id and t.is_open]
    if org.subscriptions or others:
        return 0
    free = uow.organizations.free_organization()
    if free is None:
        free = Organization(
            id=new_id("org"),
            name="Webex Free",
            kind=OrgKind.FREE.value,
            country="US",
            region="US",
            created_at=at,
        )
        uow.organizations.add(free)
        uow.flush()
    moved = 0
    known = {u.email for u in org.users}
    for user in list(org.users):
        user.org_id = free.id
        moved += 1
    for admin in list(org.admins):
        if admin.email not in known:
            uow.organizations.add_member(
                OrgUser(
                    id=new_id("usr"),
                    org_id=free.id,
                    email=admin.email,
                    name=admin.name,
                    created_at=at,
                )
            )
            moved += 1
        uow.session.delete(admin)
    org.record(
        DomainEvent(
            action="organization.released",
            subject_type="organization",
            subject_id=org.id,
            at=at,
            after={"moved_to": free.id, "people": moved},
            partner_id=trial.partner_id,
            org_id=org.id,
            trial_id=trial.id,
        )
    )
    return moved


def _number_release(ctx: Context, uow: UnitOfWork, trial: Trial, row: DueEvent) -> str:
    """Rules T8, T9: the kept Calling numbers are released."""
    if trial.status not in (TrialStatus.LAPSED, TrialStatus.DELETED, TrialStatus.CONVERTED):
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
    trial.event("trial.numbers_released", row.due_at)
    return "released"


def _org(uow: UnitOfWork, trial: Trial) -> Organization:
    org = uow.organizations.get(trial.org_id)
    assert org is not None
    return org


def _customer(uow: UnitOfWork, trial: Trial) -> Customer:
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    assert customer is not None
    return customer


def _org_trials(uow: UnitOfWork, org_id: str) -> list[Trial]:
    return uow.trials.of_org(org_id)
