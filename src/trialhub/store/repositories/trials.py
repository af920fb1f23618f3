"""Trials, their services and Meetings sites; consent links (rules S3, K2, K7)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from trialhub.domain.consent import ConsentToken
from trialhub.domain.records import TrialFacts
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial
from trialhub.domain.trial_parts import TrialService
from trialhub.store import dialect, tables
from trialhub.store.repositories.base import (
    Repository,
)


class TrialRepository(Repository):
    def add(self, trial: Trial) -> None:
        self._session.add(trial)

    def get(self, trial_id: str) -> Trial | None:
        if self.scope.unrestricted:  # the identity map first: a loaded trial costs no query
            return self._by_id(Trial, trial_id)
        stmt = select(Trial).where(tables.trials.c.id == trial_id)
        return self._session.scalars(self._scoped(stmt, tables.trials.c.partner_id)).one_or_none()

    def get_many(self, trial_ids: set[str]) -> dict[str, Trial]:
        """The trials of a page by id, in one query (their parts in one more each)."""
        if not trial_ids:
            return {}
        stmt = select(Trial).where(tables.trials.c.id.in_(sorted(trial_ids)))
        found = self._session.scalars(self._scoped(stmt, tables.trials.c.partner_id))
        return {trial.id: trial for trial in found}

    def of_org_for_worker(self, org_id: str) -> list[Trial]:
        """Every partner's trials of one organization (unscoped: the worker's view)."""
        stmt = (
            select(Trial)
            .where(tables.trials.c.org_id == org_id)
            .order_by(tables.trials.c.created_at)
        )
        # the trials' parts load when read: the worker often holds them already
        return list(self._session.scalars(stmt.options(lazyload("*"))))

    def facts_for_worker(self, trial_ids: Collection[str]) -> dict[str, TrialFacts]:
        """What the expiry notices of a batch read (rule T4), as values, in four queries of
        rows whatever the batch holds: the trials with their organization's name and their
        customer's provisioner, then the open services, the organizations' administrators
        and the customers' assignments (rule P2), each in the order its entity keeps them.
        A trial that does not exist is left out. No entity is loaded (issue 11)."""
        if not trial_ids:
            return {}
        t, o, c = tables.trials.c, tables.organizations.c, tables.customers.c
        s, a, ca = tables.trial_services.c, tables.org_admins.c, tables.customer_assignments.c
        name = dialect.name_of(self._session)
        stmt = (
            select(t.id, t.partner_id, t.org_id, t.customer_id, t.status, t.ends_at)
            .add_columns(o.name, c.created_by_admin_id)
            .join_from(tables.trials, tables.organizations, o.id == t.org_id)
            .join(tables.customers, c.id == t.customer_id)
            .where(dialect.among(t.id, trial_ids, name))
        )
        found = self._session.execute(self._scoped(stmt, t.partner_id)).all()
        if not found:
            return {}
        services: dict[str, list[str]] = defaultdict(list)
        stmt = (  # the batch's query of the trials' services, in the mapping's order
            select(s.trial_id, s.service, s.removed_at)
            .where(dialect.among(s.trial_id, [r.id for r in found], name))
            .order_by(s.added_at)
        )
        for trial_id, service, removed_at in self._session.execute(stmt):
            if removed_at is None:  # `Trial.open_services`
                services[trial_id].append(service)
        admins: dict[str, list[str]] = defaultdict(list)
        stmt = (
            select(a.org_id, a.email)
            .where(dialect.among(a.org_id, {r.org_id for r in found}, name))
            .order_by(a.created_at)  # the organization's own order (its mapping's)
        )
        for org_id, email in self._session.execute(stmt):
            admins[org_id].append(email)
        assigned: dict[str, set[str]] = defaultdict(set)
        stmt = select(ca.customer_id, ca.admin_id).where(
            dialect.among(ca.customer_id, {r.customer_id for r in found}, name)
        )
        for customer_id, admin_id in self._session.execute(stmt):
            assigned[customer_id].add(admin_id)
        return {
            r.id: TrialFacts(
                id=r.id,
                partner_id=r.partner_id,
                org_id=r.org_id,
                customer_id=r.customer_id,
                status=r.status,
                ends_at=r.ends_at,
                services=tuple(services[r.id]),
                organization=r.name,
                admin_emails=tuple(admins[r.org_id]),
                created_by_admin_id=r.created_by_admin_id,
                assigned_admin_ids=frozenset(assigned[r.customer_id]),
            )
            for r in found
        }

    def open_services_of_org_any_partner(self, org_id: str) -> list[tuple[TrialService, str]]:
        """Unscoped on purpose: rule S3 looks at every partner's open trials, returning only
        the service and whose trial holds it, never the other partner's trial data."""
        stmt = (
            select(TrialService, tables.trials.c.partner_id)
            .join(tables.trials, tables.trials.c.id == tables.trial_services.c.trial_id)
            .where(
                tables.trial_services.c.org_id == org_id, tables.trial_services.c.is_open.is_(True)
            )
        )
        return [(row[0], row[1]) for row in self._session.execute(stmt).all()]

    def site_held_any_partner(self, name: str) -> bool:
        """Unscoped: a site name is unique across all organizations (rule S2)."""
        stmt = (
            select(func.count())
            .select_from(tables.meetings_sites)
            .where(
                tables.meetings_sites.c.name == name, tables.meetings_sites.c.released_at.is_(None)
            )
        )
        return bool(self._session.scalar(stmt))


class ConsentRepository(Repository):
    """Consent links. Unscoped reads by the link: the token itself is the credential (rule K2)."""

    def add(self, token: ConsentToken) -> None:
        self._session.add(token)

    def by_hash_unscoped(self, token_hash: str) -> ConsentToken | None:
        stmt = select(ConsentToken).where(tables.consent_tokens.c.token_hash == token_hash)
        return self._session.scalars(stmt).one_or_none()

    def get_unscoped(self, token_id: str) -> ConsentToken | None:
        return self._session.get(ConsentToken, token_id)

    def for_trial(self, trial_id: str) -> list[ConsentToken]:
        stmt = (
            select(ConsentToken)
            .where(tables.consent_tokens.c.trial_id == trial_id)
            .order_by(tables.consent_tokens.c.created_at, tables.consent_tokens.c.id)
        )
        stmt = self._scoped_by_trial(stmt, tables.consent_tokens.c.trial_id)
        return list(self._session.scalars(stmt))

    def pending_trials_of_org_any_partner(self, org_id: str) -> list[Trial]:
        """Every request waiting for this organization's consent, whoever sent it (rule K7)."""
        stmt = (
            select(Trial)
            .where(
                tables.trials.c.org_id == org_id,
                tables.trials.c.status == TrialStatus.PENDING_CONSENT.value,
            )
            .order_by(tables.trials.c.created_at)
        )
        return list(self._session.scalars(stmt))

    def trial_unscoped(self, trial_id: str) -> Trial | None:
        """The trial a consent link belongs to: the link is the credential (rule K2)."""
        return self._by_id(Trial, trial_id)
