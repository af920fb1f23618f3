"""Partners, their administrators and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from trialhub.domain.accounts import Admin, ApiToken, Distributor, Partner
from trialhub.domain.roles import Role
from trialhub.store import tables
from trialhub.store.repositories.base import (
    Repository,
    Scope,
)


class PartnerRepository(Repository):
    def add(self, partner: Partner) -> None:
        self._session.add(partner)

    def get(self, partner_id: str) -> Partner | None:
        if not self.scope.unrestricted and partner_id != self.scope.partner_id:
            return None
        return self._by_id(Partner, partner_id)

    def add_distributor(self, distributor: Distributor) -> None:
        self._session.add(distributor)

    def get_any_partner(self, partner_id: str) -> Partner | None:
        """Unscoped: another partner's name where it manages a service (rule A1)."""
        return self._by_id(Partner, partner_id)

    def get_distributor_unscoped(self, distributor_id: str) -> Distributor | None:
        return self._session.get(Distributor, distributor_id)


class AdminRepository(Repository):
    def __init__(self, session: Session, scope: Scope) -> None:
        super().__init__(session, scope)
        self._primed: dict[str, list[Admin]] = {}

    def add(self, admin: Admin) -> None:
        self._session.add(admin)

    def get(self, admin_id: str) -> Admin | None:
        stmt = self._scoped(
            select(Admin).where(tables.admins.c.id == admin_id), tables.admins.c.partner_id
        )
        return self._session.scalars(stmt).one_or_none()

    def get_self(self) -> Admin | None:
        """The caller's own administrator record."""
        if self.scope.actor_id is None:
            return None
        return self._session.get(Admin, self.scope.actor_id)

    def get_by_email_unscoped(self, email: str) -> Admin | None:
        """Unscoped: used to keep sign-in emails unique and to authenticate."""
        return self._session.scalars(
            select(Admin).where(tables.admins.c.email == email)
        ).one_or_none()

    def prime_partners_for_worker(self, partner_ids: set[str]) -> None:
        """Loads the administrators of several partners in one query, so that the worker's
        batch asks `list_for_partner` once per partner, not once per deadline (issue 11).
        Only for the worker's own transaction, which never changes administrators."""
        stmt = (
            select(Admin)
            .where(tables.admins.c.partner_id.in_(partner_ids))
            .order_by(tables.admins.c.email)
        )
        primed: dict[str, list[Admin]] = {p: [] for p in partner_ids}
        for admin in self._session.scalars(self._scoped(stmt, tables.admins.c.partner_id)):
            if admin.partner_id is not None:
                primed[admin.partner_id].append(admin)
        self._primed = primed

    def list_for_partner(self, partner_id: str) -> list[Admin]:
        if partner_id in self._primed:
            return list(self._primed[partner_id])
        stmt = (
            select(Admin)
            .where(tables.admins.c.partner_id == partner_id)
            .order_by(tables.admins.c.email)
        )
        return list(self._session.scalars(self._scoped(stmt, tables.admins.c.partner_id)))

    def of_distributor_unscoped(self, distributor_id: str) -> list[Admin]:
        """A distributor's administrators (unscoped: a tier-2 partner's request reaches them)."""
        stmt = (
            select(Admin)
            .where(
                tables.admins.c.distributor_id == distributor_id,
                tables.admins.c.disabled_at.is_(None),
            )
            .order_by(tables.admins.c.email)
        )
        return list(self._session.scalars(stmt))

    def operators_unscoped(self) -> list[Admin]:
        """The trials team (unscoped: partners' requests are addressed to it)."""
        stmt = (
            select(Admin)
            .where(tables.admins.c.partner_id.is_(None), tables.admins.c.disabled_at.is_(None))
            .order_by(tables.admins.c.email)
        )
        return [a for a in self._session.scalars(stmt) if Role.OPERATOR.value in a.roles]

    def add_token(self, token: ApiToken) -> None:
        self._session.add(token)

    def tokens_of(self, admin_id: str) -> list[ApiToken]:
        """An administrator's tokens, newest first; within the caller's partner (rule P3)."""
        stmt = self._tokens(admin_id).order_by(
            tables.api_tokens.c.created_at.desc(), tables.api_tokens.c.id
        )
        return list(self._session.scalars(stmt))

    def token_of(self, admin_id: str, token_id: str) -> ApiToken | None:
        stmt = self._tokens(admin_id).where(tables.api_tokens.c.id == token_id)
        return self._session.scalars(stmt).one_or_none()

    def _tokens(self, admin_id: str) -> Select[Any]:
        """The tokens of an administrator the caller's scope reaches."""
        stmt = (
            select(ApiToken)
            .join(tables.admins, tables.admins.c.id == tables.api_tokens.c.admin_id)
            .where(tables.api_tokens.c.admin_id == admin_id)
        )
        return self._scoped(stmt, tables.admins.c.partner_id)

    def touch_token(self, token_id: str, now: datetime, *, unless_since: datetime) -> None:
        """Marks a token used without loading it into the unit of work (no audit noise),
        unless it was marked at or after `unless_since` (by a concurrent request, say)."""
        t = tables.api_tokens.c
        self._session.execute(
            update(tables.api_tokens)
            .where(
                t.id == token_id,
                or_(t.last_used_at.is_(None), t.last_used_at <= unless_since),
            )
            .values(last_used_at=now)
        )
