"""The ways a trial comes to be: a new customer (C1-C4), an existing organization with its
consent (C3, K1), or added to a customer already in the list (A1). `classify` tells which
one a request is, once, for both the preview and the start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trialhub.domain.errors import ErrorCollector, NotFound, ValidationFailed
from trialhub.domain.organization import (
    AccessLevel,
    Customer,
    CustomerState,
    Organization,
    OrgKind,
)
from trialhub.domain.roles import Action
from trialhub.domain.rules import eligibility
from trialhub.domain.trial import Trial
from trialhub.domain.trial_parts import TrialKind
from trialhub.services.consent.links import send_consent_request
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import _customer_in_reach
from trialhub.services.messaging.outbox import queue_trial_email
from trialhub.services.trials.form import CustomerFields, ServiceFields, validate_customer
from trialhub.services.trials.schemas import StartTrial
from trialhub.store.uow import UnitOfWork


@dataclass(frozen=True)
class Start:
    """Which of the three ways a trial request starts, with what it was found to name."""

    kind: TrialKind
    # the organization the trial is for; None for a new customer
    org: Organization | None = None
    # the organization's entry in the partner's list, if it has one (any state)
    customer: Customer | None = None
    # the new customer's details, when the request gave them
    fields: CustomerFields | None = None
    # rule C3: the email is a free (consumer) account, moved into the new organization
    free_account: bool = False

    @property
    def listed(self) -> bool:
        """The organization is an active customer of the partner already (rule C4)."""
        return self.customer is not None and self.customer.state == CustomerState.ACTIVE


@dataclass(frozen=True)
class Starting:
    """One start request on its way: where it runs, who asks, which way and what for, when."""

    ctx: Context
    uow: UnitOfWork
    actor: Actor
    start: Start
    form: ServiceFields
    cmd: StartTrial
    now: datetime

    @property
    def partner_id(self) -> str:
        assert self.actor.partner_id is not None
        return self.actor.partner_id


def classify(
    ctx: Context, uow: UnitOfWork, actor: Actor, cmd: StartTrial, errors: ErrorCollector
) -> Start:
    """Rules C1, C3, A1: a customer of the list by its id, else the customer's details,
    whose administrator email may belong to an existing organization. Raises the errors
    collected so far with the customer's own."""
    assert actor.partner_id is not None
    if cmd.customer_id is not None:
        customer = _customer_in_reach(uow, actor, cmd.customer_id, Action.START_TRIAL)
        org = org_of(uow, customer.org_id)
        errors.raise_if_any()
        return Start(TrialKind.ADDED, org, customer)
    if cmd.customer is None:
        errors.add("customer", "Give the customer's details, or a customer_id.", "C1")
        errors.raise_if_any()
    assert cmd.customer is not None
    fields = validate_customer(ctx.catalog, ctx.policy, cmd.customer, errors)
    errors.raise_if_any()
    assert fields is not None
    owner = uow.organizations.owner_of_email(fields.admin_email)
    if owner is not None and owner.organization.kind == OrgKind.CUSTOMER:
        org = owner.organization
        link = uow.customers.for_org(actor.partner_id, org.id)
        return Start(TrialKind.EXISTING_CUSTOMER, org, link, fields)
    return Start(TrialKind.NEW_CUSTOMER, fields=fields, free_account=owner is not None)


def org_of(uow: UnitOfWork, org_id: str) -> Organization:
    org = uow.organizations.get(org_id)
    if org is None:
        raise NotFound("No such organization.")
    return org


def open_holders(uow: UnitOfWork, org_id: str) -> dict[str, str]:
    """Which partner holds an open trial of each service of the organization (rule S3)."""
    return {
        s.service: partner for s, partner in uow.trials.open_services_of_org_any_partner(org_id)
    }


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
    if form.site_name and uow.trials.site_held_any_partner(form.site_name):
        errors.add("meetings.site_url", "That Meetings site name is already taken.", "S2")


def check_services(s: Starting, org: Organization | None, errors: ErrorCollector) -> None:
    """Rules S2, S3: each chosen service may be tried (for an organization that exists) and
    the Meetings site name is free; raises every error collected."""
    if org is not None:
        check_eligible(s.uow, s.partner_id, org, s.form, errors)
    check_site_free(s.uow, s.form, errors)
    errors.raise_if_any()


def start_for_existing_org(s: Starting) -> Trial:
    """Rules C3, C4, K1: after the partner confirmed the organization, request its consent."""
    assert s.start.org is not None
    assert s.start.fields is not None
    org, customer = s.start.org, s.start.customer
    if customer is not None:
        customer.require_no_request(org.name)
    if s.cmd.confirm_existing_org_id != org.id:
        raise ValidationFailed(
            f"This email belongs to the existing organization {org.name} ({org.id}, "
            f"{org.region}); confirm that organization (confirm_existing_org_id={org.id}) to "
            "request its consent.",
            field="confirm_existing_org_id",
            rule="C3",
            code="existing_organization_needs_confirmation",
        )
    check_services(s, org, ErrorCollector())
    customer = _pending_customer(s.uow, s.actor, org, customer, s.now)
    trial = _new_trial(s, customer, org, consent_email=s.start.fields.admin_email)
    s.uow.flush()  # rule S3 and S2 races surface here as rule errors, before the emails
    recipients = send_consent_request(
        s.ctx, s.uow, trial, org, s.actor.partner_name or "", s.now, cause=f"consent:{trial.id}:0"
    )
    trial.record_event(
        "trial.consent_requested", s.now, recipients=recipients, deadline=trial.consent_deadline
    )
    return trial


def _pending_customer(
    uow: UnitOfWork, actor: Actor, org: Organization, customer: Customer | None, now: datetime
) -> Customer:
    """Rules C3, K5: the organization enters the list pending its consent; an entry removed
    earlier (declined, cancelled, expired) comes back."""
    assert actor.partner_id is not None
    if customer is None:
        customer = Customer.new(
            partner_id=actor.partner_id,
            org=org,
            state=CustomerState.PENDING,
            by=actor.admin_id,
            at=now,
        )
        uow.customers.add(customer)
    else:
        customer.request_again(actor.admin_id, now)
    uow.flush()
    return customer


def start_for_new_customer(s: Starting) -> Trial:
    """Creates the organization, its full administrator, the customer-list entry and the trial."""
    check_services(s, None, ErrorCollector())
    org = _new_organization(s.uow, s.actor, s.start, s.now)
    customer = Customer.new(
        partner_id=s.partner_id,
        org=org,
        state=CustomerState.ACTIVE,
        access=AccessLevel.FULL,
        by=s.actor.admin_id,
        at=s.now,
    )
    s.uow.customers.add(customer)
    # everything goes in at commit, in one flush (issue 11): the mapping orders the rows
    # (organization, customer, trial) and the commit turns an S2 race into a rule error
    return _new_trial(s, customer, org)


def _new_organization(uow: UnitOfWork, actor: Actor, start: Start, now: datetime) -> Organization:
    """Rules C1-C3: the organization of a new customer, with its full administrator."""
    assert start.fields is not None
    fields = start.fields
    org = Organization.new(
        name=fields.company_name,
        kind=OrgKind.CUSTOMER,
        country=fields.country,
        region=fields.region,  # rule C2
        business_vertical=fields.business_vertical,
        created_by_partner_id=actor.partner_id,
        at=now,
    )
    uow.organizations.add(org)
    if start.free_account:
        # rule C3: a free (consumer) account moves into the new organization
        user = uow.organizations.user_by_email(fields.admin_email)
        if user is not None:
            user.org_id = org.id
    org.add_admin(fields.admin_email, fields.admin_email.split("@")[0], full=True, at=now)
    org.record_event(
        "organization.created",
        now,
        partner_id=actor.partner_id,
        org_id=org.id,
        name=org.name,
        country=org.country,
        region=org.region,
        business_vertical=org.business_vertical,
        moved_free_account=start.free_account,
    )
    return org


def add_to_customer(s: Starting) -> Trial:
    """Rule A1: a trial added to a customer in the list, of services that pass rule S3."""
    assert s.start.customer is not None
    assert s.start.org is not None
    org, customer = s.start.org, s.start.customer
    customer.require_consented()
    errors = ErrorCollector()
    if s.cmd.customer is not None or s.cmd.confirm_existing_org_id is not None:
        errors.add("customer_id", "Give either customer_id or the customer's details, not both.")
    check_services(s, org, errors)
    trial = _new_trial(s, customer, org)
    s.uow.flush()  # rule S3 and S2 races surface here as rule errors, before the emails
    # rule A1: every customer administrator learns that the trial started
    payload = {"organization": org.name, "partner": s.actor.partner_name, "services": s.form.codes}
    for admin in org.admins:
        queue_trial_email(
            s.uow, trial, "trial_started", admin.email, f"trial_started:{trial.id}", s.now, payload
        )
    return trial


def _new_trial(
    s: Starting, customer: Customer, org: Organization, consent_email: str | None = None
) -> Trial:
    trial = Trial.new(
        partner_id=s.partner_id,
        org_id=customer.org_id,
        customer_id=customer.id,
        kind=s.start.kind,
        services=s.form.choices,
        duration_days=s.form.duration_days,
        user_licenses=s.form.user_licenses,
        setup=s.cmd.setup,
        site=s.form.site,
        by=s.actor.admin_id,
        at=s.now,
        policy=s.ctx.policy,
        consent_email=consent_email,
    )
    s.uow.trials.add(trial)
    welcome(s.uow, trial, s.now, org)
    return trial


def welcome(uow: UnitOfWork, trial: Trial, now: datetime, org: Organization | None = None) -> None:
    """Rule T2: once provisioned, a new customer's administrators get the welcome email, once.
    `org` is the trial's organization when the caller holds it (a new one is not read back)."""
    if not trial.welcomes_customer:
        return
    org = org if org is not None else org_of(uow, trial.org_id)
    payload = {"organization": org.name, "services": [s.service for s in trial.services]}
    for admin in org.full_admins():
        queue_trial_email(
            uow,
            trial,
            "welcome",
            admin.email,
            f"welcome:{trial.org_id}",
            now,
            payload,
            new_cause=uow.created(org),  # a new organization was never welcomed
        )
