"""A partner's customer list and its keyset search (rules P3, L1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm.util import identity_key

from trialhub.domain.organization import (
    NO_END,
    Customer,
    CustomerAssignment,
    CustomerState,
    Organization,
)
from trialhub.domain.states import OPEN_STATUSES, TrialStatus
from trialhub.domain.trial import Trial
from trialhub.store import dialect, tables
from trialhub.store.repositories.base import (
    Repository,
    decode_key,
    encode_cursor,
    escape_like,
)

# rule S3: the statuses that hold a trial's services open, as stored
OPEN_VALUES = tuple(sorted(status.value for status in OPEN_STATUSES))
NO_OPEN_TRIAL = "none"  # the list's filter value for customers without an open trial


@dataclass(frozen=True)
class CustomerFilter:
    status: str | None = None  # a trial status, or NO_OPEN_TRIAL for customers without open trials
    text: str | None = None
    expiring_within_days: int | None = None
    reach_admin_id: str | None = None  # only customers this admin provisioned or was assigned


@dataclass(frozen=True)
class CustomerRow:
    customer: Customer
    organization: Organization
    trials: list[Trial]
    sort_end: datetime | None


class CustomerRepository(Repository):
    def add(self, customer: Customer) -> None:
        self._session.add(customer)

    def delete_assignment(self, assignment: CustomerAssignment) -> None:
        self._session.delete(assignment)

    def get(self, customer_id: str, *, include_removed: bool = False) -> Customer | None:
        if self.scope.unrestricted:  # the identity map first: a loaded customer costs no query
            found = self._session.get(Customer, customer_id)
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

    def soonest_open_end(self, customer_id: str) -> datetime | None:
        t = tables.trials
        stmt = select(func.min(t.c.ends_at)).where(
            t.c.customer_id == customer_id, t.c.status.in_(OPEN_VALUES)
        )
        value = self._session.scalar(self._scoped(stmt, t.c.partner_id))
        return value if isinstance(value, datetime) else None

    def search(
        self, flt: CustomerFilter, *, now: datetime, limit: int, cursor: str | None
    ) -> tuple[list[CustomerRow], str | None]:
        """The customer list: a keyset walk of ix_customers_list (soonest open end date,
        then name, then id), so a page costs the same however many customers there are."""
        c = tables.customers.c
        stmt = select(Customer).where(c.state != CustomerState.REMOVED.value)
        stmt = _filtered(self._scoped(stmt, c.partner_id), flt, now)
        if cursor:
            end, k_name, k_id = decode_key(cursor, str, str)
            stmt = stmt.where(
                or_(
                    c.sort_end > end,
                    and_(c.sort_end == end, c.sort_name > k_name),
                    and_(c.sort_end == end, c.sort_name == k_name, c.id > k_id),
                )
            )
        stmt = stmt.order_by(c.sort_end, c.sort_name, c.id).limit(limit + 1)
        found = list(self._session.scalars(stmt))
        page = found[:limit]
        next_cursor = None
        if len(found) > limit:
            last = page[-1]
            next_cursor = encode_cursor([last.sort_end, last.sort_name, last.id])
        return self._rows(page), next_cursor

    def _rows(self, page: list[Customer]) -> list[CustomerRow]:
        trials_by_customer = self._trials_for([cu.id for cu in page])
        out = []
        for cu in page:
            org = cu.organization or self._session.get(Organization, cu.org_id)
            assert org is not None
            out.append(
                CustomerRow(
                    customer=cu,
                    organization=org,
                    trials=trials_by_customer.get(cu.id, []),
                    sort_end=None if cu.sort_end == NO_END else cu.sort_end,
                )
            )
        return out

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


def _filtered(stmt: Select[Any], flt: CustomerFilter, now: datetime) -> Select[Any]:
    """The list's filters: the admin's reach, a text match, a trial status, expiring soon."""
    c, o, t = tables.customers.c, tables.organizations.c, tables.trials.c
    if flt.reach_admin_id is not None:
        a = tables.customer_assignments.c
        assigned = select(a.customer_id).where(a.admin_id == flt.reach_admin_id)
        stmt = stmt.where(or_(c.created_by_admin_id == flt.reach_admin_id, c.id.in_(assigned)))
    if flt.text:
        pattern = f"%{escape_like(flt.text.lower())}%"
        admins = tables.org_admins.c
        admin_match = select(admins.org_id).where(
            func.lower(admins.email).like(pattern, escape="\\")
        )
        name_match = select(o.id).where(func.lower(o.name).like(pattern, escape="\\"))
        stmt = stmt.where(or_(c.org_id.in_(name_match), c.org_id.in_(admin_match)))
    if flt.status == NO_OPEN_TRIAL:
        stmt = stmt.where(~c.id.in_(select(t.customer_id).where(t.status.in_(OPEN_VALUES))))
    elif flt.status:
        stmt = stmt.where(c.id.in_(select(t.customer_id).where(t.status == flt.status)))
    if flt.expiring_within_days is not None:
        horizon = now + timedelta(days=flt.expiring_within_days)
        expiring = select(t.customer_id).where(
            t.status == TrialStatus.ACTIVE.value, t.ends_at <= horizon, t.ends_at >= now
        )
        stmt = stmt.where(c.id.in_(expiring))
    return stmt
