"""The portal's sessions in the database: added at sign-in, read on every page, touched
(idle expiry), revoked at sign-out. Plain rows, no mapping: a session is not an aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from trialhub.store.portal_tables import portal_sessions
from trialhub.store.uow import UnitOfWork


@dataclass(frozen=True)
class PortalSession:
    id: str
    admin_id: str
    token_hash: str
    csrf_secret: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class PortalSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: PortalSession) -> None:
        self.session.execute(insert(portal_sessions).values(**row.__dict__))

    def by_token_hash(self, token_hash: str) -> PortalSession | None:
        stmt = select(portal_sessions).where(portal_sessions.c.token_hash == token_hash)
        found = self.session.execute(stmt).mappings().first()
        return PortalSession(**found) if found is not None else None

    def touch(self, session_id: str, now: datetime) -> None:
        t = portal_sessions
        self.session.execute(update(t).where(t.c.id == session_id).values(last_seen_at=now))

    def revoke(self, session_id: str, now: datetime) -> None:
        t = portal_sessions
        stmt = update(t).where(t.c.id == session_id, t.c.revoked_at.is_(None))
        self.session.execute(stmt.values(revoked_at=now))


def portal_sessions_of(uow: UnitOfWork) -> PortalSessionRepository:
    """The sessions repository in this unit of work's transaction."""
    return PortalSessionRepository(uow.session)
