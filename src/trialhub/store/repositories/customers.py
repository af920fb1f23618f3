"""A partner's customer list and its keyset search (rules P3, L1)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from trialhub.domain.organization import Customer, CustomerAssignment, CustomerState
from trialhub.domain.trial import Trial
from trialhub.store import dialect, tables
from trialhub.store.insert_flush import insert_at_flush
from trialhub.store.repositories import customer_list
from trialhub.store.repositories.base import Repository
from trialhub.store.repositories.customer_list import (
    NO_OPEN_TRIAL,
    OPEN_VALUES,
    CustomerFilter,
    CustomerRow,
    ListedStatuses,
    ListKeys,
)

__all__ = [
    "NO_OPEN_TRIAL",
    "CustomerFilter",
    "CustomerRepository",
    "CustomerRow",
    "ListKeys",
]


class CustomerRepository(Repository):
    def add(self, customer: Customer) -> None:
        self._session.add(customer)

    def delete_assignment(self, assignment: CustomerAssignment) -> None:
        self._session.delete(assignment)

    def get(self, customer_id: str, *, include_removed: bool = False) -> Customer | None:
        if self.scope.unrestricted:  # the identity map first: a loaded customer costs no query
            found = self._by_id(Customer, customer_id)
            removed = found is not None and found.state == CustomerState.REMOVED.value
            return None if removed and not include_removed else found
        stmt = select(Customer).where(tables.customers.c.id == customer_id)
        if not include_removed:
            stmt = stmt.where(tables.customers.c.state != CustomerState.REMOVED.value)
        return self._session.scalars(
            self._scoped(stmt, tables.customers.c.partner_id)
        ).one_or_none()

    def get_loaded(self, customer_id: str) -> Customer | None:
        """The customer if this transaction already holds it and the scope reaches it (any
        state), without a query; None means "not loaded", not "not there"."""
        found = self._session.identity_map.get(identity_key(Customer, customer_id))
        if not isinstance(found, Customer):
            return None
        if self.scope.unrestricted:
            return found
        if self.scope.distributor_id is not None or found.partner_id != self.scope.partner_id:
            return None  # rule P3: a distributor's reach is the query's
        return found

    def get_many(self, customer_ids: set[str]) -> dict[str, Customer]:
        """Customers by id in one query, removed ones included (a page's reach check)."""
        if not customer_ids:
            return {}
        stmt = select(Customer).where(tables.customers.c.id.in_(sorted(customer_ids)))
        found = self._session.scalars(self._scoped(stmt, tables.customers.c.partner_id))
        return {customer.id: customer for customer in found}

    def for_org(self, partner_id: str, org_id: str) -> Customer | None:
        stmt = select(Customer).where(
            tables.customers.c.partner_id == partner_id, tables.customers.c.org_id == org_id
        )
        return self._session.scalars(
            self._scoped(stmt, tables.customers.c.partner_id)
        ).one_or_none()

    def lock_for_org(self, partner_id: str, org_id: str) -> None:
        """Serializes starts for one organization (PostgreSQL row lock; SQLite locks the file)."""
        stmt = select(tables.organizations.c.id).where(tables.organizations.c.id == org_id)
        self._session.execute(dialect.locked(stmt, dialect.name_of(self._session)))

    def lock_for_keys(self, customers: Collection[Customer]) -> None:
        """Locks these customers' rows until the transaction ends (PostgreSQL; SQLite's
        writer lock serializes whole transactions), in id order, and takes their stored
        sort keys as the loaded ones. Two transactions touching one customer's trials at
        once (two workers' batches, a request beside the worker) then compute its list
        keys one after the other, each from the other's committed trials: without it the
        second wrote keys from a snapshot that missed the first's change, and its status
        rows collided with the first's (decision 0019)."""
        if not customers or dialect.name_of(self._session) != dialect.POSTGRESQL:
            return
        c = tables.customers.c
        held = {customer.id: customer for customer in customers}
        stmt = (
            select(c.id, c.sort_end, c.sort_name)
            .where(dialect.among(c.id, sorted(held), dialect.POSTGRESQL))
            .order_by(c.id)
            .with_for_update()
        )
        for customer_id, sort_end, sort_name in self._session.execute(stmt):
            set_committed_value(held[customer_id], "sort_end", sort_end)
            set_committed_value(held[customer_id], "sort_name", sort_name)

    def list_keys(self, customer_ids: Collection[str]) -> dict[str, ListKeys]:
        """Each customer's list keys as its trials stand: the soonest end of an open trial
        and the statuses its trials are in, in one query for all of them (a worker's batch
        of expiries, issue 11)."""
        t = tables.trials
        name = dialect.name_of(self._session)
        stmt = (
            select(t.c.customer_id, t.c.status, func.min(t.c.ends_at))
            .where(dialect.among(t.c.customer_id, customer_ids, name))
            .group_by(t.c.customer_id, t.c.status)
        )
        ends: dict[str, list[datetime]] = {i: [] for i in customer_ids}
        statuses: dict[str, set[str]] = {i: set() for i in customer_ids}
        for customer_id, status, end in self._session.execute(self._scoped(stmt, t.c.partner_id)):
            statuses[customer_id].add(status)
            if status in OPEN_VALUES and isinstance(end, datetime):
                ends[customer_id].append(end)
        return {
            i: ListKeys(min(ends[i], default=None), frozenset(statuses[i])) for i in customer_ids
        }

    def listed_statuses(self, customer_ids: Collection[str]) -> dict[str, ListedStatuses]:
        """The status rows the list holds for these customers: {status: (end, name)}."""
        s = tables.customer_statuses.c
        name = dialect.name_of(self._session)
        stmt = select(s.customer_id, s.status, s.sort_end, s.sort_name).where(
            dialect.among(s.customer_id, customer_ids, name)
        )
        found: dict[str, ListedStatuses] = {i: {} for i in customer_ids}
        for customer_id, status, end, sort_name in self._session.execute(
            self._scoped(stmt, s.partner_id)
        ):
            found[customer_id][status] = (end, sort_name)
        return found

    def replace_listed_statuses(
        self, customer_ids: Collection[str], rows: list[dict[str, Any]]
    ) -> None:
        """Writes the list's status rows of these customers anew (decision 0019): theirs
        are deleted now, `rows` inserted with the next flush (with a new customer's own row,
        in one statement on PostgreSQL: `insert_at_flush`); at most two statements for a
        whole batch."""
        table = tables.customer_statuses
        if customer_ids:
            name = dialect.name_of(self._session)
            self._session.execute(
                delete(table).where(dialect.among(table.c.customer_id, customer_ids, name))
            )
        insert_at_flush(self._session, table, rows)

    def search(
        self, flt: CustomerFilter, *, now: datetime, limit: int, cursor: str | None
    ) -> tuple[list[CustomerRow], str | None]:
        """The customer list: a keyset walk of ix_customers_list (soonest open end date,
        then name, then id), so a page costs the same however many customers there are;
        only what the page shows is read (store/repositories/customer_list.py)."""

        def scoped(stmt: Select[Any], partner_column: Any) -> Select[Any]:
            return self._scoped(stmt, partner_column)  # rule P3, on every statement

        return customer_list.search(self._session, scoped, flt, now=now, limit=limit, cursor=cursor)

    def _trials_for(self, customer_ids: list[str]) -> dict[str, list[Trial]]:
        if not customer_ids:
            return {}
        stmt = (
            select(Trial)
            .where(tables.trials.c.customer_id.in_(customer_ids))
            .order_by(tables.trials.c.created_at)
        )
        out: dict[str, list[Trial]] = {}
        for trial in self._session.scalars(self._scoped(stmt, tables.trials.c.partner_id)):
            out.setdefault(trial.customer_id, []).append(trial)
        return out

    def trials_of(self, customer_id: str) -> list[Trial]:
        return self._trials_for([customer_id]).get(customer_id, [])
