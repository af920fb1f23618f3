"""Trials, their services and Meetings sites; consent links (rules S3, K2, K7)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from trialhub.domain.consent import ConsentToken
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial
from trialhub.domain.trial_parts import TrialService
from trialhub.store import tables
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
