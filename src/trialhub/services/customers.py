"""Use cases that read the customer list, one customer, and the event feed (rules P2, P3)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.errors import ErrorCollector, NotFound
from trialhub.domain.events import DomainEvent
from trialhub.domain.model import Customer, CustomerAssignment, new_id
from trialhub.domain.roles import Action, Reach
from trialhub.domain.rules import eligibility
from trialhub.domain.states import OPEN_STATUSES, TrialStatus
from trialhub.services.context import Actor, Context, require_partner, require_reach
from trialhub.services.schemas import (
    AuditEventView,
    CustomerDetail,
    CustomerPage,
    CustomerSummary,
    EligibilityView,
    EventPage,
)
from trialhub.services.views import organization_view, region_view, trial_view
from trialhub.store.repositories import CustomerFilter, CustomerRow
from trialhub.store.uow import UnitOfWork

STATUS_FILTERS = frozenset({s.value for s in TrialStatus} | {"none"})


def list_customers(
    ctx: Context,
    actor: Actor,
    *,
    status: str | None = None,
    text: str | None = None,
    expiring_within_days: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> CustomerPage:
    """The partner's customer list, soonest-ending trial first (rules P2, P3)."""
    got = require_partner(actor, Action.READ_CUSTOMERS)
    errors = ErrorCollector()
    if status is not None and status not in STATUS_FILTERS:
        errors.add("status", f"Unknown status; one of: {', '.join(sorted(STATUS_FILTERS))}.")
    if expiring_within_days is not None and not 0 <= expiring_within_days <= 3650:
        errors.add("expiring_within_days", "Give a number of days from 0 to 3650.")
    size = ctx.policy.default_page_size if limit is None else limit
    if not 1 <= size <= ctx.policy.max_page_size:
        errors.add("limit", f"Give a page size from 1 to {ctx.policy.max_page_size}.")
    errors.raise_if_any()
    now = ctx.now()
    flt = CustomerFilter(
        status=status,
        text=(text or "").strip() or None,
        expiring_within_days=expiring_within_days,
        reach_admin_id=actor.admin_id if got is Reach.OWN else None,
    )
    with ctx.uow(actor.scope) as uow:
        try:
            rows, next_cursor = uow.customers.search(flt, now=now, limit=size, cursor=cursor)
        except (ValueError, TypeError, KeyError) as error:
            errors.add("cursor", "The cursor is not valid; start again without it.")
            errors.raise_if_any()
            raise AssertionError from error
        return CustomerPage(
            items=[_summary(ctx, row, now) for row in rows], next_cursor=next_cursor
        )


def _summary(ctx: Context, row: CustomerRow, now: datetime) -> CustomerSummary:
    org, cu = row.organization, row.customer
    open_trials = [t for t in row.trials if TrialStatus(t.status) in OPEN_STATUSES]
    soonest = min(
        open_trials,
        key=lambda t: (t.ends_at is None, t.ends_at or now),
        default=None,
    )
    services = sorted({s.service for t in open_trials for s in t.open_services()})
    full_admin = next((a.email for a in org.admins if a.full), None)
    return CustomerSummary(
        id=cu.id,
        org_id=org.id,
        name=org.name,
        admin_email=full_admin,
        country=org.country,
        region=region_view(ctx.catalog, org.region),
        state=cu.state,
        access=cu.access,
        status=soonest.status if soonest else None,
        status_label=TrialStatus(soonest.status).label if soonest else None,
        ends_at=soonest.ends_at if soonest else None,
        days_left=soonest.days_left(now) if soonest and soonest.status == "active" else None,
        services=services,
        trial_ids=[t.id for t in row.trials],
    )


def get_customer(ctx: Context, actor: Actor, customer_id: str) -> CustomerDetail:
    """One customer: its organization, purchased services and who manages each, its trials,
    and which services it may still trial and why not (rules A1, S3)."""
    with ctx.uow(actor.scope) as uow:
        return _customer_detail(ctx, uow, actor, customer_id)


def _customer_detail(
    ctx: Context, uow: UnitOfWork, actor: Actor, customer_id: str
) -> CustomerDetail:
    now = ctx.now()
    customer = uow.customers.get(customer_id)
    if customer is None:
        raise NotFound("No such customer.", rule="P3")
    require_reach(actor, Action.READ_CUSTOMERS, customer)
    org = uow.organizations.get(customer.org_id)
    assert org is not None
    assert actor.partner_id is not None
    holders = {s.service: p for s, p in uow.trials.open_services_of_org(org.id)}
    purchased = org.purchased_services()
    eligible = []
    for code, definition in ctx.catalog.services.items():
        e = eligibility(
            code, purchased=purchased, open_holders=holders, partner_id=actor.partner_id
        )
        eligible.append(
            EligibilityView(
                code=code,
                name=definition.name,
                eligible=e.eligible,
                reason=e.reason,
                reason_code=e.code,
            )
        )
    return CustomerDetail(
        id=customer.id,
        state=customer.state,
        access=customer.access,
        assigned_admin_ids=[a.admin_id for a in customer.assignments],
        created_at=customer.created_at,
        organization=organization_view(ctx.catalog, org, uow),
        trials=[trial_view(ctx.catalog, t, now) for t in uow.customers.trials_of(customer.id)],
        eligible_services=eligible,
    )


def list_events(
    ctx: Context,
    actor: Actor,
    *,
    after: int | None = None,
    limit: int | None = None,
    trial_id: str | None = None,
) -> EventPage:
    """The audit log of the caller's scope, oldest first, resumable with `after` (rule E1)."""
    if not actor.is_operator:
        require_partner(actor, Action.READ_CUSTOMERS)
    size = ctx.policy.default_page_size if limit is None else limit
    errors = ErrorCollector()
    if not 1 <= size <= ctx.policy.max_page_size:
        errors.add("limit", f"Give a page size from 1 to {ctx.policy.max_page_size}.")
    errors.raise_if_any()
    with ctx.uow(actor.scope) as uow:
        events = uow.audit.since(after=after, limit=size + 1, trial_id=trial_id)
        page = events[:size]
        items = [AuditEventView.model_validate(e) for e in page]
        next_cursor = str(page[-1].id) if len(events) > size and page else None
        return EventPage(items=items, next_cursor=next_cursor)


def assign_customer(ctx: Context, actor: Actor, customer_id: str, admin_id: str) -> CustomerDetail:
    """A full administrator assigns a customer to one of its partner's administrators, who
    then manages it even with an own-reach role (rule P2)."""
    require_partner(actor, Action.MANAGE_ADMINS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        customer = uow.customers.get(customer_id)
        if customer is None:
            raise NotFound("No such customer.", rule="P3")
        admin = uow.admins.get(admin_id)
        if admin is None or admin.partner_id != customer.partner_id:
            raise NotFound(
                "No such administrator in your partner organization.", field="admin_id", rule="P3"
            )
        if not any(a.admin_id == admin_id for a in customer.assignments):
            customer.assignments.append(
                CustomerAssignment(
                    id=new_id("asg"), customer_id=customer.id, admin_id=admin_id, created_at=now
                )
            )
            customer.record(_assignment_event("customer.assigned", customer, admin_id, now))
        uow.commit()
        # the answer comes from this transaction: an idempotent request holds it open until
        # the answer is recorded in it (services/idempotency.py)
        return _customer_detail(ctx, uow, actor, customer_id)


def unassign_customer(
    ctx: Context, actor: Actor, customer_id: str, admin_id: str
) -> CustomerDetail:
    require_partner(actor, Action.MANAGE_ADMINS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        customer = uow.customers.get(customer_id)
        if customer is None:
            raise NotFound("No such customer.", rule="P3")
        for assignment in list(customer.assignments):
            if assignment.admin_id == admin_id:
                customer.assignments.remove(assignment)
                uow.session.delete(assignment)
                customer.record(_assignment_event("customer.unassigned", customer, admin_id, now))
        uow.commit()
        return _customer_detail(ctx, uow, actor, customer_id)


def _assignment_event(action: str, customer: Customer, admin_id: str, at: datetime) -> DomainEvent:
    return DomainEvent(
        action=action,
        subject_type="customer",
        subject_id=customer.id,
        at=at,
        after={"admin_id": admin_id},
        partner_id=customer.partner_id,
        org_id=customer.org_id,
    )
