"""The portal's sessions in the database: added at sign-in, read on every page, touched
(idle expiry), revoked at sign-out; and the password-reset links. Plain rows, no mapping:
neither is an aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from trialhub.store.repositories.base import Repository
from trialhub.store.tables import password_resets, portal_sessions


@dataclass(frozen=True)
class IssuedSecret:
    """A secret issued to an administrator (the rows of both portal tables)."""

    id: str
    admin_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class PortalSession(IssuedSecret):
    csrf_secret: str
    last_seen_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class PasswordReset(IssuedSecret):
    used_at: datetime | None = None


class PortalRepository(Repository):
    """Sign-in sessions and reset links belong to an administrator, not to a partner's data:
    they are looked up by their secret's hash before anyone is signed in."""

    partner_data = False

    def add(self, row: PortalSession) -> None:
        self._session.execute(insert(portal_sessions).values(**row.__dict__))

    def by_token_hash(self, token_hash: str) -> PortalSession | None:
        stmt = select(portal_sessions).where(portal_sessions.c.token_hash == token_hash)
        found = self._session.execute(stmt).mappings().first()
        return PortalSession(**found) if found is not None else None

    def touch(self, session_id: str, now: datetime) -> None:
        t = portal_sessions
        self._session.execute(update(t).where(t.c.id == session_id).values(last_seen_at=now))

    def revoke(self, session_id: str, now: datetime) -> None:
        t = portal_sessions
        stmt = update(t).where(t.c.id == session_id, t.c.revoked_at.is_(None))
        self._session.execute(stmt.values(revoked_at=now))

    def revoke_all_of(self, admin_id: str, now: datetime) -> None:
        t = portal_sessions
        stmt = update(t).where(t.c.admin_id == admin_id, t.c.revoked_at.is_(None))
        self._session.execute(stmt.values(revoked_at=now))

    # ---- password-reset links

    def add_reset(self, row: PasswordReset) -> None:
        self._session.execute(insert(password_resets).values(**row.__dict__))

    def reset(
        self, *, reset_id: str | None = None, token_hash: str | None = None
    ) -> PasswordReset | None:
        t = password_resets
        where = t.c.id == reset_id if reset_id is not None else t.c.token_hash == token_hash
        found = self._session.execute(select(t).where(where)).mappings().first()
        return PasswordReset(**found) if found is not None else None

    def use_reset(self, reset_id: str, now: datetime) -> bool:
        """Marks the link used; False if it already was (two tabs, one wins)."""
        t = password_resets
        stmt = update(t).where(t.c.id == reset_id, t.c.used_at.is_(None)).values(used_at=now)
        return bool(getattr(self._session.execute(stmt), "rowcount", 0))

    def expire_resets_of(self, admin_id: str, now: datetime) -> None:
        """Earlier links stop working when a new one is sent or the password is set."""
        t = password_resets
        stmt = update(t).where(t.c.admin_id == admin_id, t.c.used_at.is_(None))
        self._session.execute(stmt.values(used_at=now))
