"""The portal's sign-in: a server-side session per browser, found by the cookie's token.

Only the token's SHA-256 is stored (like API tokens); a session ends when signed out, after
the policy's idle time without a request, or at its absolute expiry, whichever is first.
Sessions run on the wall clock: moving the sandbox clock a week signs no one out.
Failed sign-ins are throttled per client address and per account (rule X1), and unknown
emails fail exactly like wrong passwords, so the form tells no one who has an account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from trialhub.domain.accounts import Admin, Partner
from trialhub.domain.errors import Unauthenticated
from trialhub.domain.ids import new_id
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.security import hash_password, hash_token, verify_password
from trialhub.services.kernel.throttle import Attempt, Secret, checking
from trialhub.store.repositories import PortalSession, Scope
from trialhub.store.uow import UnitOfWork

WRONG_CREDENTIALS = "Wrong email or password."
SESSION_PREFIX = "ps_"
# the idle clock restarts on a request, written at most this often
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionActor:
    """The signed-in administrator, the session's CSRF token and when the session ends."""

    actor: Actor
    session_id: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn(SessionActor):
    token: str  # the cookie's value: given once, stored only as a hash


def sign_in(ctx: Context, email: str, password: str, *, address: str) -> SignedIn:
    """A new session for the administrator whose email and password these are.

    Rule X1: failures count per client address and per account (the email as typed, known
    or not); past a limit the check is refused before the password is even looked at.
    """
    email = email.strip().lower()
    attempt = Attempt(Secret.PASSWORD, address, account=email)
    with checking(ctx, attempt, failure=Unauthenticated), ctx.uow(Scope.system("auth")) as uow:
        admin = uow.admins.get_by_email_unscoped(email)
        # an unknown email costs a hash check too, so timing does not tell accounts apart
        hashed = admin.password_hash if admin is not None else None
        matches = verify_password(password, hashed or _dummy_hash())
        if admin is None or not hashed or not matches or admin.disabled_at is not None:
            raise Unauthenticated(WRONG_CREDENTIALS, field="password")
        now = ctx.wall_clock.now()
        raw = SESSION_PREFIX + secrets.token_urlsafe(32)
        row = PortalSession(
            id=new_id("ses"),
            admin_id=admin.id,
            token_hash=hash_token(raw),
            csrf_secret=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + ctx.policy.session_absolute,
        )
        uow.portal.add(row)
        admin.record_event("admin.signed_in", ctx.now(), session_id=row.id)  # rule E1
        uow.commit()
        return SignedIn(
            actor=Actor.of(admin, _partner(uow, admin)),
            session_id=row.id,
            csrf_token=row.csrf_secret,
            expires_at=_ends(ctx, row),
            token=raw,
        )


def actor_for_session(ctx: Context, token: str) -> SessionActor:
    """The session this cookie token belongs to, if it is still open; it counts as a request
    (the idle time starts again). Anything else -> Unauthenticated."""
    now = ctx.wall_clock.now()
    with ctx.uow(Scope.system("auth")) as uow:
        sessions = uow.portal
        row = sessions.by_token_hash(hash_token(token))
        if row is None or row.revoked_at is not None or _ends(ctx, row) <= now:
            raise Unauthenticated("Sign in to continue.")
        admin = uow.admins.get(row.admin_id)
        if admin is None or admin.disabled_at is not None:
            raise Unauthenticated("Sign in to continue.")
        actor = Actor.of(admin, _partner(uow, admin))
        if now - row.last_seen_at >= TOUCH_EVERY:  # one write a minute, not one a page
            sessions.touch(row.id, now)
            uow.commit()
            row = PortalSession(**{**row.__dict__, "last_seen_at": now})
        return SessionActor(actor, row.id, row.csrf_secret, _ends(ctx, row))


def sign_out(ctx: Context, token: str) -> None:
    """Ends the session of this cookie token; an unknown or ended one is left as it is."""
    now = ctx.wall_clock.now()
    with ctx.uow(Scope.system("auth")) as uow:
        sessions = uow.portal
        row = sessions.by_token_hash(hash_token(token))
        if row is None or row.revoked_at is not None:
            return
        sessions.revoke(row.id, now)
        admin = uow.admins.get(row.admin_id)
        if admin is not None:
            admin.record_event("admin.signed_out", ctx.now(), session_id=row.id)  # rule E1
        uow.commit()


def _ends(ctx: Context, row: PortalSession) -> datetime:
    """The earlier of the idle and the absolute expiry."""
    return min(row.expires_at, row.last_seen_at + ctx.policy.session_idle)


def _partner(uow: UnitOfWork, admin: Admin) -> Partner | None:
    return uow.partners.get_any_partner(admin.partner_id) if admin.partner_id else None


@cache
def _dummy_hash() -> str:
    """A real hash of a random password, checked when the email is unknown."""
    return hash_password(secrets.token_urlsafe(16))
