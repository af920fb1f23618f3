"""The audit log, idempotency keys and the local mailbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update

from trialhub.domain.records import AuditEvent, IdempotencyRecord, MailboxEmail
from trialhub.store import tables
from trialhub.store.repositories.base import (
    Repository,
)


class AuditRepository(Repository):
    def add(self, event: AuditEvent) -> None:
        self._session.add(event)

    def since(
        self,
        *,
        after: int | None,
        limit: int,
        trial_id: str | None = None,
        reach_admin_id: str | None = None,
    ) -> list[AuditEvent]:
        """Oldest first, after `after`; of one trial; within one administrator's reach
        (see `in_reach`)."""
        stmt = select(AuditEvent).order_by(tables.audit_events.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(tables.audit_events.c.id > after)
        if trial_id is not None:
            stmt = stmt.where(tables.audit_events.c.trial_id == trial_id)
        if reach_admin_id is not None:
            stmt = stmt.where(in_reach(reach_admin_id))
        return list(self._session.scalars(self._scoped(stmt, tables.audit_events.c.partner_id)))

    def for_trials(self, trial_ids: Sequence[str]) -> list[AuditEvent]:
        """The events of these trials, oldest first, in one query."""
        if not trial_ids:
            return []
        c = tables.audit_events.c
        stmt = select(AuditEvent).where(c.trial_id.in_(list(trial_ids))).order_by(c.id)
        return list(self._session.scalars(self._scoped(stmt, c.partner_id)))

    def feed(
        self,
        *,
        before: int | None,
        limit: int,
        org_id: str | None = None,
        prefix: str | None = None,
        reach_admin_id: str | None = None,
    ) -> list[AuditEvent]:
        """Newest first, older than `before`; of one organization, of one kind of action;
        within one administrator's reach (see `in_reach`)."""
        c = tables.audit_events.c
        stmt = select(AuditEvent).order_by(c.id.desc()).limit(limit)
        if before is not None:
            stmt = stmt.where(c.id < before)
        if org_id is not None:
            stmt = stmt.where(c.org_id == org_id)
        if prefix is not None:
            stmt = stmt.where(c.action.startswith(prefix, autoescape=True))
        if reach_admin_id is not None:
            stmt = stmt.where(in_reach(reach_admin_id))
        return list(self._session.scalars(self._scoped(stmt, c.partner_id)))


def in_reach(admin_id: str) -> ColumnElement[Any]:
    """The events an own-reach administrator (partner administrator, sales administrator)
    may read (rule P2), as one condition with subqueries: no query per event.

    - An event filed under an organization is read only when that organization is a
      customer the administrator provisioned or was assigned (the customer list's reach);
      another customer's events answer as if absent (rule P3: no existence leak).
    - A partner-level event, filed under no organization (administrators, roles, API
      tokens, webhooks, the partner itself), concerns no customer, but P2 gives these roles
      no part in managing the partner ("manage admins, assign customers": no) and least
      privilege reads nothing it does not need: only the administrator's own actions and
      the changes made to its own account are shown. Full-reach roles see them all.
    """
    c, cu, a = tables.audit_events.c, tables.customers.c, tables.customer_assignments.c
    assigned = select(a.customer_id).where(a.admin_id == admin_id)
    reached = select(cu.org_id).where(or_(cu.created_by_admin_id == admin_id, cu.id.in_(assigned)))
    own = or_(c.actor_id == admin_id, and_(c.subject_type == "admin", c.subject_id == admin_id))
    return or_(c.org_id.in_(reached), and_(c.org_id.is_(None), own))


class IdempotencyRepository(Repository):
    """Idempotency keys, each the caller's own: keyed by its administrator's id (rule E3)."""

    partner_data = False

    def get(self, admin_id: str, key: str) -> IdempotencyRecord | None:
        return self._session.get(IdempotencyRecord, (admin_id, key))

    def add(self, record: IdempotencyRecord) -> None:
        self._session.add(record)

    def purge_older_than(self, instant: datetime) -> int:
        result = self._session.execute(
            delete(tables.idempotency_keys).where(tables.idempotency_keys.c.created_at < instant)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def take_over(
        self,
        admin_id: str,
        key: str,
        *,
        previous: str | None,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        """Takes an unfinished key whose lease ran out from `previous`; False if someone
        else finished or took it first (a conditional UPDATE: exactly one taker wins)."""
        t = tables.idempotency_keys.c
        stmt = (
            update(tables.idempotency_keys)
            .where(t.admin_id == admin_id, t.key == key, t.status_code.is_(None))
            .where(t.owner.is_not_distinct_from(previous))
            .where(or_(t.lease_until.is_(None), t.lease_until <= now))
            .values(owner=owner, lease_until=lease_until)
        )
        return int(getattr(self._session.execute(stmt), "rowcount", 0) or 0) == 1

    def complete(self, admin_id: str, key: str, *, owner: str, status_code: int, body: str) -> bool:
        """Records the answer if `owner` still holds the key; False if a retry took it."""
        t = tables.idempotency_keys.c
        stmt = (
            update(tables.idempotency_keys)
            .where(t.admin_id == admin_id, t.key == key, t.owner == owner)
            .where(t.status_code.is_(None))
            .values(status_code=status_code, response_body=body)
        )
        return int(getattr(self._session.execute(stmt), "rowcount", 0) or 0) == 1

    def release(self, admin_id: str, key: str, *, owner: str) -> None:
        """Forgets an unfinished claim of `owner`, so that a retry runs at once."""
        t = tables.idempotency_keys.c
        self._session.execute(
            delete(tables.idempotency_keys).where(
                t.admin_id == admin_id, t.key == key, t.owner == owner, t.status_code.is_(None)
            )
        )


class MailboxRepository(Repository):
    """The local mailbox (development): not partner data."""

    partner_data = False

    def add(self, mail: MailboxEmail) -> None:
        self._session.add(mail)

    def newest(self, *, recipient: str | None, limit: int) -> list[MailboxEmail]:
        stmt = select(MailboxEmail).order_by(tables.mailbox.c.id.desc()).limit(limit)
        if recipient:
            stmt = stmt.where(tables.mailbox.c.recipient == recipient)
        return list(self._session.scalars(stmt))

    def get(self, mail_id: int) -> MailboxEmail | None:
        return self._session.get(MailboxEmail, mail_id)
