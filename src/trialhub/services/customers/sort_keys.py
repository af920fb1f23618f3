"""Keeps each customer's list keys in step with its trials, as a unit-of-work hook: no use
case can forget them, and the list is an index walk.

- the sort key: the soonest end date of an open trial, then the organization's name;
- the status rows (decision 0019): one per status its trials are in, with a copy of the sort
  key, which the list filtered by a status walks.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from trialhub.domain.organization import NO_END, Customer
from trialhub.domain.trial import Trial
from trialhub.store.repositories import ListKeys
from trialhub.store.uow import UnitOfWork


def refresh_customer_keys(uow: UnitOfWork) -> None:
    """Computed from what the transaction holds: a customer it created can only have the
    trials it created (all touched), so only existing customers' trials are queried, in
    one query for all of them, and a customer already loaded is never read again (issue
    11: a worker's batch of expiries touches hundreds of customers). The status rows are
    written only for customers whose keys or statuses changed: two statements a batch."""
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
    older = [c for c in customers if not uow.created(c)]
    existing = [c.id for c in older]
    if existing:
        uow.flush()  # the trials' new states first
        # one transaction at a time per customer, each reading the other's committed trials
        uow.customers.lock_for_keys(older)
    keys = uow.customers.list_keys(existing) if existing else {}
    listed = uow.customers.listed_statuses(existing) if existing else {}
    stale: list[str] = []
    rows: list[dict[str, Any]] = []
    for customer in customers:
        if uow.created(customer):
            mine = [t for t in trials[customer.id] if uow.created(t)]
            ends = [t.ends_at for t in mine if t.is_open and t.ends_at]
            current = ListKeys(min(ends, default=None), frozenset(t.status for t in mine))
        else:
            current = keys[customer.id]
        end = current.soonest_end or NO_END
        if customer.sort_end != end:
            customer.sort_end = end
        if not customer.sort_name:
            org = customer.organization or uow.organizations.get(customer.org_id)
            customer.sort_name = org.name if org else ""
        wanted = {status: (end, customer.sort_name) for status in current.statuses}
        if listed.get(customer.id, {}) != wanted:
            if not uow.created(customer):
                stale.append(customer.id)
            rows.extend(_rows(customer, wanted))
    if stale or rows:
        # the rows go in with the flush that writes a new customer, after it (one statement
        # on PostgreSQL, issue 11)
        uow.customers.replace_listed_statuses(stale, rows)


def _rows(customer: Customer, wanted: dict[str, tuple[datetime, str]]) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": customer.id,
            "status": status,
            "partner_id": customer.partner_id,
            "sort_end": end,
            "sort_name": name,
        }
        for status, (end, name) in sorted(wanted.items())
    ]


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
