"""One customer of the list with its trials, and the audit events of a partner (rule E1)."""

from __future__ import annotations

from trialhub.domain.errors import ErrorCollector, NotFound
from trialhub.domain.roles import Action, Reach
from trialhub.domain.rules import eligibility
from trialhub.services.customers.schemas import (
    CustomerDetail,
    EventPage,
)
from trialhub.services.customers.views import organization_view
from trialhub.services.kernel import paging
from trialhub.services.kernel.actor import Actor, require_partner, require_reach
from trialhub.services.kernel.context import Context
from trialhub.services.trials.schemas import AuditEventView, EligibilityView
from trialhub.services.trials.views import trial_view
from trialhub.store.uow import UnitOfWork


def get_customer(ctx: Context, actor: Actor, customer_id: str) -> CustomerDetail:
    """One customer: its organization, purchased services and who manages each, its trials,
    and which services it may still trial and why not (rules A1, S3)."""
    with ctx.reader(actor.scope) as uow:
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
    holders = {s.service: p for s, p in uow.trials.open_services_of_org_any_partner(org.id)}
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
    """The audit log of the caller's scope, oldest first, resumable with `after` (rule E1);
    an own-reach role reads only the events of the customers it reaches (rule P2)."""
    reach_admin_id = None
    if not actor.is_operator and require_partner(actor, Action.READ_CUSTOMERS) is Reach.OWN:
        reach_admin_id = actor.admin_id
    errors = ErrorCollector()
    size = paging.page_size(ctx.policy, limit, errors)
    errors.raise_if_any()
    with ctx.reader(actor.scope) as uow:
        events = uow.audit.since(
            after=after, limit=size + 1, trial_id=trial_id, reach_admin_id=reach_admin_id
        )
        page = events[:size]
        items = [AuditEventView.model_validate(e) for e in page]
        next_cursor = str(page[-1].id) if len(events) > size and page else None
        return EventPage(items=items, next_cursor=next_cursor)
