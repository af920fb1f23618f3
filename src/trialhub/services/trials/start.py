"""Use cases that start and read trials (rules P1-P3, C1-C4, S1-S3, T1, A1)."""

from __future__ import annotations

from datetime import timedelta

from trialhub.domain.errors import ErrorCollector
from trialhub.domain.organization import CustomerState, Organization
from trialhub.domain.roles import Action
from trialhub.domain.rules import Eligibility, eligibility
from trialhub.domain.trial_parts import TrialKind
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial
from trialhub.services.kernel.views import region_view
from trialhub.services.trials.creation import (
    Start,
    Starting,
    add_to_customer,
    classify,
    open_holders,
    start_for_existing_org,
    start_for_new_customer,
)
from trialhub.services.trials.form import ServiceFields, validate_services
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

# the three ways a trial starts (rules C1-C4, K1, A1), by what `classify` found
STARTS = {
    TrialKind.ADDED: add_to_customer,
    TrialKind.EXISTING_CUSTOMER: start_for_existing_org,
    TrialKind.NEW_CUSTOMER: start_for_new_customer,
}


def preview_trial(ctx: Context, actor: Actor, cmd: PreviewTrial) -> PreviewView:
    """What starting this trial would do, without doing it: the region, the organization the
    email belongs to (rule C3), and which services are eligible and why not (rule S3)."""
    require_partner(actor, Action.START_TRIAL)
    assert actor.partner_id is not None
    errors = ErrorCollector()
    form = validate_services(ctx.catalog, ctx.policy, cmd, errors, require_services=False)
    with ctx.uow(actor.scope) as uow:
        start = classify(ctx, uow, actor, cmd, errors)
        ends = ctx.now() + timedelta(days=form.duration_days)
        if start.kind is TrialKind.ADDED:
            assert start.org is not None
            assert start.customer is not None
            return PreviewView(
                flow="add_to_customer",
                region=region_view(ctx.catalog, start.org.region),
                existing_organization=_existing_org_view(ctx, start),
                services=_eligibility_views(ctx, uow, actor.partner_id, start.org),
                duration_days=form.duration_days,
                ends_at_if_started_now=ends,
            )
        assert start.fields is not None
        region_code = start.fields.region
        if start.org is None:
            services = [_view(ctx, Eligibility(code, True)) for code in ctx.catalog.services]
        else:
            region_code = start.org.region  # rule C2: an organization never changes region
            services = _eligibility_views(ctx, uow, actor.partner_id, start.org)
        warnings = [*_start_warnings(ctx, start), *_site_taken_warning(uow, form)]
        flow = "existing_customer" if start.org is not None else "new_customer"
        return PreviewView(
            flow="add_to_customer" if start.listed else flow,
            region=region_view(ctx.catalog, region_code),
            existing_organization=_existing_org_view(ctx, start) if start.org else None,
            needs_confirmation=flow == "existing_customer" and not start.listed,
            warnings=warnings,
            services=services,
            duration_days=form.duration_days,
            ends_at_if_started_now=ends,
        )


def start_trial(ctx: Context, actor: Actor, cmd: StartTrial) -> TrialView:
    """Start a trial: for a new customer, for an existing organization after the partner
    confirmed it (rule C3; it then waits for consent), or added to a customer in the list (A1)."""
    require_partner(actor, Action.START_TRIAL)
    now = ctx.now()
    errors = ErrorCollector()
    form = validate_services(ctx.catalog, ctx.policy, cmd, errors)
    with ctx.uow(actor.scope) as uow:
        start = classify(ctx, uow, actor, cmd, errors)
        trial = STARTS[start.kind](Starting(ctx, uow, actor, start, form, cmd, now))
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def get_trial(ctx: Context, actor: Actor, trial_id: str) -> TrialView:
    with ctx.reader(actor.scope) as uow:
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


def _site_taken_warning(uow: UnitOfWork, form: ServiceFields) -> list[str]:
    if form.site_name and uow.trials.site_held_any_partner(form.site_name):
        return [f"The Meetings site name {form.site_name!r} is already taken (rule S2)."]
    return []


def _existing_org_view(ctx: Context, start: Start) -> ExistingOrgView:
    assert start.org is not None
    listed = start.kind is TrialKind.ADDED or start.listed
    return ExistingOrgView(
        id=start.org.id,
        name=start.org.name,
        region=region_view(ctx.catalog, start.org.region),
        in_your_customer_list=listed,
        customer_id=start.customer.id if listed and start.customer else None,
    )


def _start_warnings(ctx: Context, start: Start) -> list[str]:
    """What the partner should know before confirming (rules C2, C3, C4, K5)."""
    assert start.fields is not None
    org, out = start.org, []
    if org is None:
        if start.free_account:
            out.append(
                "This email is a free Webex account; it will be moved into the new "
                "customer organization (rule C3)."
            )
        return out
    if start.customer is not None and start.customer.state == CustomerState.PENDING:
        out.append(
            f"A trial request to {org.name} is already waiting for its consent: resend "
            "or cancel it (rule K5)."
        )
    if start.listed:
        out.append(
            "This organization is already your customer: add a trial to it instead (rule C4)."
        )
    if org.region != start.fields.region:
        out.append(
            f"The organization's data stays in {ctx.catalog.regions[org.region].name}; "
            "an organization cannot move between regions (rule C2)."
        )
    return out
