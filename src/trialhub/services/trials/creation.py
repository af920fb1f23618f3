"""The ways a trial comes to be: a new customer (C1-C4), an existing organization with its
consent (C3, K1), or added to a customer already in the list (A1)."""

from __future__ import annotations

from datetime import datetime, timedelta

from trialhub.domain.errors import Conflict, ErrorCollector, NotFound, ValidationFailed
from trialhub.domain.events import DomainEvent
from trialhub.domain.model import (
    AccessLevel,
    Customer,
    CustomerState,
    MeetingsSite,
    OrgAdmin,
    Organization,
    OrgKind,
    Trial,
    TrialKind,
    TrialService,
    new_id,
)
from trialhub.domain.rules import eligibility
from trialhub.domain.states import TrialStatus, transition
from trialhub.services.consent.links import send_consent_request
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.messaging.outbox import queue_email
from trialhub.services.trials.form import CustomerFields, ServiceFields
from trialhub.services.trials.schemas import StartTrial
from trialhub.store.repositories import EmailOwner
from trialhub.store.uow import UnitOfWork


def org_of(uow: UnitOfWork, org_id: str) -> Organization:
    org = uow.organizations.get(org_id)
    if org is None:
        raise NotFound("No such organization.")
    return org


def open_holders(uow: UnitOfWork, org_id: str) -> dict[str, str]:
    """Which partner holds an open trial of each service of the organization (rule S3)."""
    return {s.service: partner for s, partner in uow.trials.open_services_of_org(org_id)}


def check_eligible(
    uow: UnitOfWork,
    partner_id: str,
    org: Organization,
    form: ServiceFields,
    errors: ErrorCollector,
    *,
    field: str = "services",
) -> None:
    """Rule S3 for each chosen service; serialized per organization where the database can."""
    uow.customers.lock_for_org(partner_id, org.id)
    purchased = org.purchased_services()
    holders = open_holders(uow, org.id)
    for i, chosen in enumerate(form.services):
        verdict = eligibility(
            chosen.definition.code, purchased=purchased, open_holders=holders, partner_id=partner_id
        )
        if not verdict.eligible:
            errors.add(f"{field}[{i}].code", f"{chosen.definition.name}: {verdict.reason}", "S3")


def check_site_free(uow: UnitOfWork, form: ServiceFields, errors: ErrorCollector) -> None:
    """Rule S2: a site name is held by one organization until released."""
    if form.site_name and uow.trials.site_held(form.site_name):
        errors.add("meetings.site_url", "That Meetings site name is already taken.", "S2")


def start_for_existing_org(
    ctx: Context,
    uow: UnitOfWork,
    actor: Actor,
    owner: EmailOwner,
    admin_email: str,
    form: ServiceFields,
    cmd: StartTrial,
    now: datetime,
) -> Trial:
    """Rules C3, C4, K1: after the partner confirmed the organization, request its consent."""
    assert actor.partner_id is not None
    org = owner.organization
    customer = uow.customers.for_org(actor.partner_id, org.id)
    if customer is not None and customer.state == CustomerState.ACTIVE:
        raise Conflict(
            f"{org.name} is already in your customer list; add a trial to that customer instead.",
            field="customer.admin_email",
            rule="C4",
            code="already_a_customer",
        )
    if customer is not None and customer.state == CustomerState.PENDING:
        raise Conflict(
            f"A trial request to {org.name} is already waiting for consent; resend or cancel it.",
            field="customer.admin_email",
            rule="K5",
            code="consent_already_pending",
        )
    if cmd.confirm_existing_org_id != org.id:
        raise ValidationFailed(
            f"This email belongs to the existing organization {org.name} ({org.id}, "
            f"{org.region}); confirm that organization (confirm_existing_org_id={org.id}) to "
            "request its consent.",
            field="confirm_existing_org_id",
            rule="C3",
            code="existing_organization_needs_confirmation",
        )
    errors = ErrorCollector()
    check_eligible(uow, actor.partner_id, org, form, errors)
    check_site_free(uow, form, errors)
    errors.raise_if_any()
    if customer is None:
        customer = Customer(
            id=new_id("cus"),
            partner_id=actor.partner_id,
            org_id=org.id,
            state=CustomerState.PENDING.value,
            created_by_admin_id=actor.admin_id,
            created_at=now,
            organization=org,
        )
        uow.customers.add(customer)
    else:  # removed earlier (declined, cancelled, expired): the same entry comes back
        customer.state = CustomerState.PENDING.value
        customer.access = None
        customer.removed_at = None
        customer.created_by_admin_id = actor.admin_id
    customer.record(_customer_event(customer, now))
    uow.flush()
    trial = _new_trial(
        ctx,
        uow,
        actor,
        customer,
        org.id,
        form,
        cmd,
        TrialKind.EXISTING_CUSTOMER,
        now,
        status=TrialStatus.PENDING_CONSENT,
    )
    trial.setup = "later"
    trial.consent_email = admin_email
    trial.consent_deadline = now + ctx.policy.consent_window  # rule K6, enforced by the worker
    recipients = send_consent_request(
        ctx, uow, trial, org, actor.partner_name or "", now, cause=f"consent:{trial.id}:0"
    )
    trial.event(
        "trial.consent_requested", now, recipients=recipients, deadline=trial.consent_deadline
    )
    return trial


def start_for_new_customer(
    ctx: Context,
    uow: UnitOfWork,
    actor: Actor,
    fields: CustomerFields,
    form: ServiceFields,
    cmd: StartTrial,
    owner: EmailOwner | None,
    now: datetime,
) -> Trial:
    """Creates the organization, its full administrator, the customer-list entry and the trial."""
    assert actor.partner_id is not None
    org = Organization(
        id=new_id("org"),
        name=fields.company_name,
        kind=OrgKind.CUSTOMER.value,
        country=fields.country,
        region=fields.region,  # rule C2
        business_vertical=fields.business_vertical,
        created_by_partner_id=actor.partner_id,
        created_at=now,
    )
    uow.organizations.add(org)
    if owner is not None:
        # rule C3: a free (consumer) account moves into the new organization
        user = uow.organizations.user_by_email(fields.admin_email)
        if user is not None:
            user.org_id = org.id
    org.admins.append(
        OrgAdmin(
            id=new_id("oad"),
            org_id=org.id,
            email=fields.admin_email,
            name=fields.admin_email.split("@")[0],
            full=True,
            created_at=now,
        )
    )
    org.record(_org_event(org, actor, now, moved_free_account=owner is not None))
    customer = Customer(
        id=new_id("cus"),
        partner_id=actor.partner_id,
        org_id=org.id,
        state=CustomerState.ACTIVE.value,
        access=AccessLevel.FULL.value,
        created_by_admin_id=actor.admin_id,
        created_at=now,
        organization=org,
    )
    uow.customers.add(customer)
    customer.record(_customer_event(customer, now))
    # the mapping has no relationships between these aggregates, so the parents go first
    uow.flush()
    return _new_trial(ctx, uow, actor, customer, org.id, form, cmd, TrialKind.NEW_CUSTOMER, now)


def add_to_customer(
    ctx: Context,
    uow: UnitOfWork,
    actor: Actor,
    customer: Customer,
    form: ServiceFields,
    cmd: StartTrial,
    now: datetime,
) -> Trial:
    """Rule A1: a trial added to a customer in the list, of services that pass rule S3."""
    assert actor.partner_id is not None
    if customer.state != CustomerState.ACTIVE:
        raise Conflict(
            "This customer has not accepted your trial request yet.",
            field="customer_id",
            rule="K4",
        )
    errors = ErrorCollector()
    if cmd.customer is not None or cmd.confirm_existing_org_id is not None:
        errors.add("customer_id", "Give either customer_id or the customer's details, not both.")
    org = org_of(uow, customer.org_id)
    check_eligible(uow, actor.partner_id, org, form, errors)
    check_site_free(uow, form, errors)
    errors.raise_if_any()
    trial = _new_trial(ctx, uow, actor, customer, org.id, form, cmd, TrialKind.ADDED, now)
    # rule A1: every customer administrator learns that the trial started
    for admin in org.admins:
        queue_email(
            uow,
            template="trial_started",
            recipient=admin.email,
            cause=f"trial_started:{trial.id}",
            payload={
                "organization": org.name,
                "partner": actor.partner_name,
                "services": form.codes,
            },
            now=now,
            partner_id=trial.partner_id,
            org_id=org.id,
            trial_id=trial.id,
        )
    return trial


def _new_trial(
    ctx: Context,
    uow: UnitOfWork,
    actor: Actor,
    customer: Customer,
    org_id: str,
    form: ServiceFields,
    cmd: StartTrial,
    kind: TrialKind,
    now: datetime,
    *,
    status: TrialStatus = TrialStatus.AWAITING_PROVISIONING,
) -> Trial:
    assert actor.partner_id is not None
    trial = Trial(
        id=new_id("trl"),
        partner_id=actor.partner_id,
        org_id=org_id,
        customer_id=customer.id,
        kind=kind.value,
        status=status.value,
        duration_days=form.duration_days,
        user_licenses=form.user_licenses,
        setup=cmd.setup,
        created_by_admin_id=actor.admin_id,
        created_at=now,
        updated_at=now,
    )
    setattr(trial, f"{status.value}_at", now)
    for chosen in form.services:
        trial.services.append(
            TrialService(
                id=new_id("tsv"),
                trial_id=trial.id,
                org_id=org_id,
                service=chosen.definition.code,
                edition=chosen.edition,
                quantity=chosen.quantity,
                is_open=True,  # rule S3: held until the trial leaves the open statuses
                added_at=now,
            )
        )
    if form.site_name and form.time_zone:
        trial.site = MeetingsSite(
            id=new_id("site"),
            name=form.site_name,
            org_id=org_id,
            trial_id=trial.id,
            time_zone=form.time_zone,
            reserved_at=now,
        )
    uow.trials.add(trial)
    trial.event(
        "trial.created",
        now,
        kind=kind.value,
        status=trial.status,
        services=form.codes,
        duration_days=form.duration_days,
        user_licenses=form.user_licenses,
        site=form.site_name,
    )
    if status is TrialStatus.AWAITING_PROVISIONING and cmd.setup == "now":
        provision(uow, trial, now)
    uow.flush()  # rule S3 and S2 races surface here as rule errors, not at commit
    return trial


def provision(uow: UnitOfWork, trial: Trial, now: datetime) -> None:
    """Rule T1: provisioning completes; the trial runs from now for its duration.

    Rule T2: a new customer's administrator then gets the welcome email, once.
    """
    trial.starts_at = now
    trial.ends_at = now + timedelta(days=trial.duration_days)
    transition(trial, TrialStatus.ACTIVE, now)
    if trial.kind != TrialKind.NEW_CUSTOMER:
        return
    org = uow.organizations.get(trial.org_id)
    assert org is not None
    for admin in org.full_admins():
        queue_email(
            uow,
            template="welcome",
            recipient=admin.email,
            cause=f"welcome:{trial.org_id}",
            payload={"organization": org.name, "services": [s.service for s in trial.services]},
            now=now,
            partner_id=trial.partner_id,
            org_id=org.id,
            trial_id=trial.id,
        )


def _org_event(
    org: Organization, actor: Actor, now: datetime, *, moved_free_account: bool
) -> DomainEvent:
    return DomainEvent(
        action="organization.created",
        subject_type="organization",
        subject_id=org.id,
        at=now,
        after={
            "name": org.name,
            "country": org.country,
            "region": org.region,
            "business_vertical": org.business_vertical,
            "moved_free_account": moved_free_account,
        },
        partner_id=actor.partner_id,
        org_id=org.id,
    )


def _customer_event(customer: Customer, now: datetime) -> DomainEvent:
    return DomainEvent(
        action="customer.added",
        subject_type="customer",
        subject_id=customer.id,
        at=now,
        after={"state": customer.state, "access": customer.access},
        partner_id=customer.partner_id,
        org_id=customer.org_id,
    )
