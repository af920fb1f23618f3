"""Keeps each customer's list sort key (soonest open end date, name) in step with its
trials, as a unit-of-work hook: no use case can forget it, and the list is an index walk."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from trialhub.domain.organization import NO_END, Customer
from trialhub.domain.trial import Trial
from trialhub.store.uow import UnitOfWork


def refresh_customer_keys(uow: UnitOfWork) -> None:
    """Computed from what the transaction holds: a customer it created can only have the
    trials it created (all touched), so only an existing customer's end date is queried,
    and a customer already loaded is never read again (issue 11)."""
    touched = uow.touched()
    trials: dict[str, list[Trial]] = defaultdict(list)
    for o in touched:
        if isinstance(o, Trial):
            trials[o.customer_id].append(o)
    held = {o.id: o for o in touched if isinstance(o, Customer)}
    ids = set(trials) | set(held)
    if not ids:
        return
    for customer_id in sorted(ids):
        customer = held.get(customer_id) or uow.customers.get_loaded(customer_id)
        if customer is None:
            uow.flush()
            customer = uow.customers.get(customer_id, include_removed=True)
        if customer is None:
            continue
        end = _soonest_open_end(uow, customer, trials[customer_id])
        if customer.sort_end != end:
            customer.sort_end = end
        if not customer.sort_name:
            org = customer.organization or uow.organizations.get(customer.org_id)
            customer.sort_name = org.name if org else ""


def _soonest_open_end(uow: UnitOfWork, customer: Customer, trials: list[Trial]) -> datetime:
    if uow.created(customer):
        ends = [t.ends_at for t in trials if t.is_open and t.ends_at and uow.created(t)]
        return min(ends, default=NO_END)
    uow.flush()
    return uow.customers.soonest_open_end(customer.id) or NO_END
