"""Keeps each customer's list sort key (soonest open end date, name) in step with its
trials, as a unit-of-work hook: no use case can forget it, and the list is an index walk."""

from __future__ import annotations

from trialhub.domain.organization import NO_END, Customer
from trialhub.domain.trial import Trial
from trialhub.store.uow import UnitOfWork


def refresh_customer_keys(uow: UnitOfWork) -> None:
    touched = uow.touched()
    ids = {o.customer_id for o in touched if isinstance(o, Trial)}
    ids |= {o.id for o in touched if isinstance(o, Customer)}
    if not ids:
        return
    uow.flush()
    for customer_id in sorted(ids):
        customer = uow.customers.get(customer_id, include_removed=True)
        if customer is None:
            continue
        end = uow.customers.soonest_open_end(customer_id) or NO_END
        if customer.sort_end != end:
            customer.sort_end = end
        if not customer.sort_name:
            org = uow.organizations.get(customer.org_id)
            customer.sort_name = org.name if org else ""
