"""Use cases that start and read trials (rules P1-P3, C1-C4, S1-S3, T1, A1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from trialhub.domain.errors import ErrorCollector
from trialhub.domain.model import (
    CustomerState,
    Organization,
    OrgKind,
)
from trialhub.domain.roles import Action
from trialhub.domain.rules import Eligibility, eligibility
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import _customer_in_reach, load_trial
from trialhub.services.kernel.views import region_view
from trialhub.services.trials.creation import (
    add_to_customer,
    check_site_free,
    open_holders,
    org_of,
    start_for_existing_org,
    start_for_new_customer,
)
from trialhub.services.trials.form import ServiceFields, validate_customer, validate_services
from trialhub.services.trials.schemas import (
    EligibilityView,
    ExistingOrgView,
    PreviewTrial,
    PreviewView,
    StartTrial,
    TrialView,
)
from trialhub.services.trials.views import trial_view
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
            org = org_of(uow, customer.org_id)
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
            in_list = link is not None and link.state == CustomerState.ACTIVE
            if link is not None and link.state == CustomerState.PENDING:
                warnings.append(
                    f"A trial request to {org.name} is already waiting for its consent: resend "
                    "or cancel it (rule K5)."
                )
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
    """Start a trial: for a new customer, for an existing organization after the partner
    confirmed it (rule C3; it then waits for consent), or added to a customer in the list (A1)."""
    require_partner(actor, Action.START_TRIAL)
    assert actor.partner_id is not None
    now = ctx.now()
    errors = ErrorCollector()
    form = validate_services(ctx.catalog, ctx.policy, cmd, errors)
    with ctx.uow(actor.scope) as uow:
        if cmd.customer_id is not None:
            customer = _customer_in_reach(uow, actor, cmd.customer_id, Action.START_TRIAL)
            errors.raise_if_any()
            trial = add_to_customer(ctx, uow, actor, customer, form, cmd, now)
        else:
            if cmd.customer is None:
                errors.add("customer", "Give the customer's details, or a customer_id.", "C1")
                errors.raise_if_any()
            assert cmd.customer is not None
            fields = validate_customer(ctx.catalog, ctx.policy, cmd.customer, errors)
            errors.raise_if_any()
            assert fields is not None
            owner = uow.organizations.owner_of_email(fields.admin_email)
            if owner is not None and owner.organization.kind == OrgKind.CUSTOMER:
                trial = start_for_existing_org(
                    ctx, uow, actor, owner, fields.admin_email, form, cmd, now
                )
            else:
                check_site_free(uow, form, errors)
                errors.raise_if_any()
                trial = start_for_new_customer(ctx, uow, actor, fields, form, cmd, owner, now)
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def get_trial(ctx: Context, actor: Actor, trial_id: str) -> TrialView:
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.READ_CUSTOMERS)
        return trial_view(ctx.catalog, trial, ctx.now())


def _eligibility_views(
    ctx: Context, uow: UnitOfWork, partner_id: str, org: Organization
) -> list[EligibilityView]:
    purchased = org.purchased_services()
    holders = open_holders(uow, org.id)
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
