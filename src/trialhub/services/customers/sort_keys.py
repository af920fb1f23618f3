"""Keeps each customer's list sort key (soonest open end date, name) in step with its
trials, as a unit-of-work hook: no use case can forget it, and the list is an index walk."""

from __future__ import annotations

from collections import defaultdict

from trialhub.domain.organization import NO_END, Customer
from trialhub.domain.trial import Trial
from trialhub.store.uow import UnitOfWork


def refresh_customer_keys(uow: UnitOfWork) -> None:
    """Computed from what the transaction holds: a customer it created can only have the
    trials it created (all touched), so only existing customers' end dates are queried, in
    one query for all of them, and a customer already loaded is never read again (issue
    11: a worker's batch of expiries touches hundreds of customers)."""
    touched = uow.touched()
    trials: dict[str, list[Trial]] = defaultdict(list)
    for o in touched:
        if isinstance(o, Trial):
            trials[o.customer_id].append(o)
    held = {o.id: o for o in touched if isinstance(o, Customer)}
    ids = set(trials) | set(held)
    if not ids:
        return
    customers = _customers(uow, sorted(ids), held)
    existing = [c.id for c in customers if not uow.created(c)]
    if existing:
        uow.flush()  # the trials' new states first
    ends = uow.customers.soonest_open_ends(existing) if existing else {}
    for customer in customers:
        if uow.created(customer):
            created = [
                t.ends_at for t in trials[customer.id] if t.is_open and t.ends_at and uow.created(t)
            ]
            end = min(created, default=NO_END)
        else:
            end = ends.get(customer.id) or NO_END
        if customer.sort_end != end:
            customer.sort_end = end
        if not customer.sort_name:
            org = customer.organization or uow.organizations.get(customer.org_id)
            customer.sort_name = org.name if org else ""


def _customers(uow: UnitOfWork, ids: list[str], held: dict[str, Customer]) -> list[Customer]:
    """The customers, from the transaction where it holds them."""
    found = []
    for customer_id in ids:
        customer = held.get(customer_id) or uow.customers.get_loaded(customer_id)
        if customer is None:
            uow.flush()
            customer = uow.customers.get(customer_id, include_removed=True)
        if customer is not None:
            found.append(customer)
    return found
