"""Use cases that start and read trials (rules P1-P3, C1-C4, S1-S3, T1, A1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

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
from trialhub.domain.roles import Action
from trialhub.domain.rules import Eligibility, eligibility
from trialhub.domain.states import TrialStatus, transition
from trialhub.services.context import Actor, Context, require_partner, require_reach
from trialhub.services.schemas import (
    EligibilityView,
    ExistingOrgView,
    PreviewTrial,
    PreviewView,
    StartTrial,
    TrialView,
)
from trialhub.services.trial_form import (
    CustomerFields,
    ServiceFields,
    validate_customer,
    validate_services,
)
from trialhub.services.views import region_view, trial_view
from trialhub.store.repositories import EmailOwner
from trialhub.store.uow import UnitOfWork


def preview_trial(ctx: Context, actor: Actor, cmd: PreviewTrial) -> PreviewView:
    """What starting this trial would do, without doing it: the region, the organization the
    email belongs to (rule C3), and which services are eligible and why not (rule S3)."""
    require_partner(actor, Action.START_TRIAL)
    assert actor.partner_id is not None
    errors = ErrorCollector()
    form = validate_services(ctx.catalog, ctx.policy, cmd, errors, require_services=False)
    with ctx.uow(actor.scope) as uow:
        if cmd.customer_id is not None:
            customer = _customer_in_reach(uow, actor, cmd.customer_id, Action.START_TRIAL)
            org = _org(uow, customer.org_id)
            errors.raise_if_any()
            return PreviewView(
                flow="add_to_customer",
                region=region_view(ctx.catalog, org.region),
                existing_organization=ExistingOrgView(
                    id=org.id,
                    name=org.name,
                    region=region_view(ctx.catalog, org.region),
                    in_your_customer_list=True,
                    customer_id=customer.id,
                ),
                services=_eligibility_views(ctx, uow, actor.partner_id, org),
                duration_days=form.duration_days,
                ends_at_if_started_now=ctx.now() + timedelta(days=form.duration_days),
            )
        if cmd.customer is None:
            errors.add("customer", "Give the customer's details, or a customer_id.", "C1")
            errors.raise_if_any()
        assert cmd.customer is not None
        fields = validate_customer(ctx.catalog, ctx.policy, cmd.customer, errors)
        errors.raise_if_any()
        assert fields is not None
        owner = uow.organizations.owner_of_email(fields.admin_email)
        warnings: list[str] = []
        existing: ExistingOrgView | None = None
        flow: Literal["new_customer", "existing_customer", "add_to_customer"] = "new_customer"
        services: list[EligibilityView]
        region_code = fields.region
        if owner is not None and owner.organization.kind == OrgKind.CUSTOMER:
            org = owner.organization
            link = uow.customers.for_org(actor.partner_id, org.id)
            in_list = link is not None and link.state != CustomerState.REMOVED
            existing = ExistingOrgView(
                id=org.id,
                name=org.name,
                region=region_view(ctx.catalog, org.region),
                in_your_customer_list=in_list,
                customer_id=link.id if link is not None and in_list else None,
            )
            region_code = org.region  # rule C2: an organization never changes region
            flow = "add_to_customer" if in_list else "existing_customer"
            if in_list:
                warnings.append(
                    "This organization is already your customer: add a trial to it instead "
                    "(rule C4)."
                )
            if org.region != fields.region:
                warnings.append(
                    f"The organization's data stays in {ctx.catalog.regions[org.region].name}; "
                    "an organization cannot move between regions (rule C2)."
                )
            services = _eligibility_views(ctx, uow, actor.partner_id, org)
        else:
            if owner is not None:
                warnings.append(
                    "This email is a free Webex account; it will be moved into the new "
                    "customer organization (rule C3)."
                )
            services = [_view(ctx, Eligibility(code, True)) for code in ctx.catalog.services]
        site_warning = _site_taken_warning(uow, form)
        if site_warning:
            warnings.append(site_warning)
        return PreviewView(
            flow=flow,
            region=region_view(ctx.catalog, region_code),
            existing_organization=existing,
            needs_confirmation=flow == "existing_customer",
            warnings=warnings,
            services=services,
            duration_days=form.duration_days,
            ends_at_if_started_now=ctx.now() + timedelta(days=form.duration_days),
        )


def start_trial(ctx: Context, actor: Actor, cmd: StartTrial) -> TrialView:
    """Start a trial: for a new customer, or added to a customer already in the list (A1)."""
    require_partner(actor, Action.START_TRIAL)
    assert actor.partner_id is not None
    now = ctx.now()
    errors = ErrorCollector()
    form = validate_services(ctx.catalog, ctx.policy, cmd, errors)
    with ctx.uow(actor.scope) as uow:
        if cmd.customer_id is not None:
            customer = _customer_in_reach(uow, actor, cmd.customer_id, Action.START_TRIAL)
            errors.raise_if_any()
            trial = _add_to_customer(ctx, uow, actor, customer, form, cmd, now)
        else:
            if cmd.customer is None:
                errors.add("customer", "Give the customer's details, or a customer_id.", "C1")
                errors.raise_if_any()
            assert cmd.customer is not None
            fields = validate_customer(ctx.catalog, ctx.policy, cmd.customer, errors)
            _check_site_free(uow, form, errors)
            errors.raise_if_any()
            assert fields is not None
            owner = uow.organizations.owner_of_email(fields.admin_email)
            if owner is not None and owner.organization.kind == OrgKind.CUSTOMER:
                _refuse_existing(uow, actor, owner, cmd)
            trial = _start_for_new_customer(ctx, uow, actor, fields, form, cmd, owner, now)
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def get_trial(ctx: Context, actor: Actor, trial_id: str) -> TrialView:
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.READ_CUSTOMERS)
        return trial_view(ctx.catalog, trial, ctx.now())


def load_trial(uow: UnitOfWork, actor: Actor, trial_id: str, action: Action) -> Trial:
    """A trial of the caller's partner, within the caller's reach, or 404 (rules P2, P3)."""
    if actor.is_operator:
        trial = uow.trials.get(trial_id)
        if trial is None:
            raise NotFound("No such trial.", rule="P3")
        return trial
    require_partner(actor, action)
    trial = uow.trials.get(trial_id)
    if trial is None:
        raise NotFound("No such trial.", rule="P3")
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    if customer is None:
        raise NotFound("No such trial.", rule="P3")
    require_reach(actor, action, customer)
    return trial


# ---- helpers ------------------------------------------------------------------------------


def _customer_in_reach(uow: UnitOfWork, actor: Actor, customer_id: str, action: Action) -> Customer:
    customer = uow.customers.get(customer_id)
    if customer is None:
        raise NotFound("No such customer.", field="customer_id", rule="P3")
    require_reach(actor, action, customer)
    return customer


def _org(uow: UnitOfWork, org_id: str) -> Organization:
    org = uow.organizations.get(org_id)
    if org is None:
        raise NotFound("No such organization.")
    return org


def _open_holders(uow: UnitOfWork, org_id: str) -> dict[str, str]:
    return {
        service.service: partner for service, partner in uow.trials.open_services_of_org(org_id)
    }


def _eligibility_views(
    ctx: Context, uow: UnitOfWork, partner_id: str, org: Organization
) -> list[EligibilityView]:
    purchased = org.purchased_services()
    holders = _open_holders(uow, org.id)
    return [
        _view(
            ctx, eligibility(code, purchased=purchased, open_holders=holders, partner_id=partner_id)
        )
        for code in ctx.catalog.services
    ]


def _view(ctx: Context, e: Eligibility) -> EligibilityView:
    return EligibilityView(
        code=e.service,
        name=ctx.catalog.services[e.service].name,
        eligible=e.eligible,
        reason=e.reason,
        reason_code=e.code,
    )


def _site_taken_warning(uow: UnitOfWork, form: ServiceFields) -> str | None:
    if form.site_name and uow.trials.site_held(form.site_name):
        return f"The Meetings site name {form.site_name!r} is already taken (rule S2)."
    return None


def _check_site_free(uow: UnitOfWork, form: ServiceFields, errors: ErrorCollector) -> None:
    if form.site_name and uow.trials.site_held(form.site_name):
        errors.add("meetings.site_url", "That Meetings site name is already taken.", "S2")


def _refuse_existing(uow: UnitOfWork, actor: Actor, owner: EmailOwner, cmd: StartTrial) -> None:
    """Rules C3 and C4: an email of an existing organization is not a new customer."""
    assert actor.partner_id is not None
    org = owner.organization
    customer = uow.customers.for_org(actor.partner_id, org.id)
    if customer is not None and customer.state != CustomerState.REMOVED:
        raise Conflict(
            f"{org.name} is already in your customer list; add a trial to that customer instead.",
            field="customer.admin_email",
            rule="C4",
            code="already_a_customer",
        )
    if cmd.confirm_existing_org_id != org.id:
        raise ValidationFailed(
            f"This email belongs to the existing organization {org.name}; preview the trial "
            "and confirm that organization (confirm_existing_org_id) to request its consent.",
            field="confirm_existing_org_id",
            rule="C3",
            code="existing_organization_needs_confirmation",
        )
    raise Conflict(
        "Trials for existing organizations need the customer's consent, which this server "
        "does not support yet.",
        field="confirm_existing_org_id",
        rule="K1",
        code="consent_not_supported",
    )


def _start_for_new_customer(
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


def _add_to_customer(
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
    org = _org(uow, customer.org_id)
    uow.customers.lock_for_org(actor.partner_id, org.id)
    purchased = org.purchased_services()
    holders = _open_holders(uow, org.id)
    for i, chosen in enumerate(form.services):
        verdict = eligibility(
            chosen.definition.code,
            purchased=purchased,
            open_holders=holders,
            partner_id=actor.partner_id,
        )
        if not verdict.eligible:
            errors.add(f"services[{i}].code", f"{chosen.definition.name}: {verdict.reason}", "S3")
    _check_site_free(uow, form, errors)
    errors.raise_if_any()
    return _new_trial(ctx, uow, actor, customer, org.id, form, cmd, TrialKind.ADDED, now)


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
) -> Trial:
    assert actor.partner_id is not None
    trial = Trial(
        id=new_id("trl"),
        partner_id=actor.partner_id,
        org_id=org_id,
        customer_id=customer.id,
        kind=kind.value,
        status=TrialStatus.AWAITING_PROVISIONING.value,
        duration_days=form.duration_days,
        user_licenses=form.user_licenses,
        setup=cmd.setup,
        created_by_admin_id=actor.admin_id,
        created_at=now,
        updated_at=now,
        awaiting_provisioning_at=now,
    )
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
    if cmd.setup == "now":
        provision(trial, now)
    uow.flush()  # rule S3 and S2 races surface here as rule errors, not at commit
    return trial


def provision(trial: Trial, now: datetime) -> None:
    """Rule T1: provisioning completes; the trial runs from now for its duration."""
    trial.starts_at = now
    trial.ends_at = now + timedelta(days=trial.duration_days)
    transition(trial, TrialStatus.ACTIVE, now)


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
