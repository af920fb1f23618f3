"""Organizations: world data; finding one by email is how rule C3 works."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.orm import lazyload

from trialhub.domain.organization import OrgAdmin, Organization, OrgKind, OrgUser
from trialhub.store import tables
from trialhub.store.repositories.base import (
    Repository,
)


@dataclass(frozen=True)
class EmailOwner:
    """Who an email belongs to, if anyone (rule C3)."""

    organization: Organization
    is_admin: bool
    is_full_admin: bool


_a, _u = tables.org_admins.c, tables.org_users.c
_OWNERS = union_all(
    select(_a.org_id, literal(True).label("is_admin"), _a.full).where(
        _a.email == bindparam("email")
    ),
    select(_u.org_id, literal(False), literal(False)).where(_u.email == bindparam("email")),
)


class OrganizationRepository(Repository):
    """Organizations are world data: finding one by email is how rule C3 works."""

    partner_data = False  # an organization belongs to no partner; customers link them

    def add(self, org: Organization) -> None:
        self._session.add(org)

    def get(self, org_id: str) -> Organization | None:
        return self._by_id(Organization, org_id)

    def add_member(self, member: OrgAdmin | OrgUser | Any) -> None:
        self._session.add(member)

    def delete_member(self, member: OrgAdmin | OrgUser) -> None:
        self._session.delete(member)

    def admin_by_email(self, email: str) -> OrgAdmin | None:
        stmt = select(OrgAdmin).where(tables.org_admins.c.email == email)
        return self._session.scalars(stmt).one_or_none()

    def user_by_email(self, email: str) -> OrgUser | None:
        stmt = select(OrgUser).where(tables.org_users.c.email == email)
        return self._session.scalars(stmt).one_or_none()

    def owner_of_email(self, email: str) -> EmailOwner | None:
        """One query over administrators and users (an administrator wins, rule C3); built
        once, as every start asks it (issue 11)."""
        rows = sorted(
            self._session.execute(_OWNERS, {"email": email}).all(), key=lambda r: not r.is_admin
        )
        if not rows:
            return None
        org = self._session.get(Organization, rows[0].org_id)
        assert org is not None
        admin = bool(rows[0].is_admin)
        return EmailOwner(org, is_admin=admin, is_full_admin=admin and bool(rows[0].full))

    def free_organization(self) -> Organization | None:
        stmt = (
            select(Organization).where(tables.organizations.c.kind == OrgKind.FREE.value).limit(1)
        )
        # its people load only when read: everyone released from a lapsed trial ends up here
        return self._session.scalars(stmt.options(lazyload("*"))).first()
