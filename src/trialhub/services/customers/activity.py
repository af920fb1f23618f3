"""The partner's activity feed: its audit log newest first, of one customer, of one kind
of action (rule E1)."""

from __future__ import annotations

from trialhub.domain.errors import ErrorCollector
from trialhub.domain.roles import Action, Reach
from trialhub.services.customers.schemas import ActivityPage
from trialhub.services.kernel import paging
from trialhub.services.kernel.actor import Actor, require_partner, require_reach
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_customer
from trialhub.services.trials.schemas import AuditEventView

# the kinds of action a feed filters by: the prefix of the event's action, and its name
ACTIVITY_KINDS = {
    "trial": "Trials",
    "customer": "Customers",
    "organization": "Organizations",
    "order": "Orders",
    "shipment": "Devices",
    "device_extension": "Device extensions",
    "admin": "Administrators",
    "token": "API tokens",
    "webhook": "Webhooks",
}


def activity(
    ctx: Context,
    actor: Actor,
    *,
    before: int | None = None,
    limit: int | None = None,
    customer_id: str | None = None,
    kind: str | None = None,
) -> ActivityPage:
    """The audit log of the caller's partner, newest first, resumable with `before` (rule
    E1); of one customer (its organization's events) and of one kind of action. An
    own-reach role reads only the events of the customers it reaches (rule P2)."""
    got = require_partner(actor, Action.READ_CUSTOMERS)
    errors = ErrorCollector()
    size = paging.page_size(ctx.policy, limit, errors)
    paging.one_of(errors, "kind", kind, ACTIVITY_KINDS, "E1")
    errors.raise_if_any()
    with ctx.reader(actor.scope) as uow:
        org_id, name = None, None
        if customer_id is not None:
            customer = load_customer(uow, customer_id, field="customer_id")
            require_reach(actor, Action.READ_CUSTOMERS, customer)  # rule P2: 404 out of reach
            org_id = customer.org_id
            name = customer.organization.name if customer.organization else None
        events = uow.audit.feed(
            before=before,
            limit=size + 1,
            org_id=org_id,
            prefix=f"{kind}." if kind else None,
            reach_admin_id=actor.admin_id if got is Reach.OWN else None,  # rule P2
        )
        page = events[:size]
        next_cursor = str(page[-1].id) if len(events) > size and page else None
        return ActivityPage(
            items=[AuditEventView.model_validate(e) for e in page],
            next_cursor=next_cursor,
            customer_name=name,
        )
