"""Password reset by an emailed, single-use, expiring link (through the outbox, rule E2).

Asking for a link answers the same whether or not the email is an administrator's, and is
throttled per address and per account (each request counts: each sends an email). A link
is stored as its SHA-256, works once, until the policy's validity ends or a newer link is
sent; using it sets the password and ends every session of that administrator. Wrong links
count as failures per address (rule X1).
"""

from __future__ import annotations

import secrets

from trialhub.domain.errors import Unauthenticated, ValidationFailed
from trialhub.domain.ids import new_id
from trialhub.services.accounts.schemas import PASSWORD_MAX, PASSWORD_MIN
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.security import hash_password, hash_token
from trialhub.services.kernel.throttle import Attempt, Secret, checking, counting
from trialhub.services.messaging.outbox import queue_email
from trialhub.store.repositories import PasswordReset, Scope

RESET_PREFIX = "pr_"
LINK_DEAD = "This reset link does not work any more (used, expired or replaced); ask for a new one."


def request_password_reset(ctx: Context, email: str, *, address: str) -> None:
    """Emails a reset link if `email` is an enabled administrator's; nothing says whether."""
    email = email.strip().lower()
    counting(ctx, Attempt(Secret.RESET_REQUEST, address, account=email))
    now = ctx.now()
    with ctx.uow(Scope.system("auth")) as uow:
        admin = uow.admins.get_by_email_unscoped(email)
        if admin is None or admin.disabled_at is not None:
            return
        links = uow.portal
        links.expire_resets_of(admin.id, now)  # only the newest link works
        raw = RESET_PREFIX + secrets.token_urlsafe(32)
        row = PasswordReset(
            id=new_id("pwr"),
            admin_id=admin.id,
            token_hash=hash_token(raw),
            created_at=now,
            expires_at=now + ctx.policy.password_reset_valid,
        )
        links.add_reset(row)
        queue_email(
            uow,
            template="password_reset",
            recipient=admin.email,
            cause=f"password_reset:{row.id}",
            # the raw token travels as the message's secret, erased once sent (decision 0010)
            secret=raw,
            payload={
                "reset_id": row.id,
                "reset_base": f"{ctx.public_url}/password/reset/",
                "name": admin.name,
                "expires_at": row.expires_at.isoformat(),
            },
            now=now,
            partner_id=admin.partner_id,
        )
        admin.record_event("admin.password_reset_requested", now)  # rule E1
        uow.commit()


def reset_password(ctx: Context, token: str, password: str, *, address: str) -> str:
    """Sets the password of the link's administrator and signs it out everywhere; returns
    its email. A dead link -> Unauthenticated (counted, rule X1); a password too short or
    too long -> ValidationFailed, and the link still works."""
    now = ctx.now()
    attempt = Attempt(Secret.RESET_LINK, address)
    with checking(ctx, attempt, failure=Unauthenticated), ctx.uow(Scope.system("auth")) as uow:
        links = uow.portal
        row = links.reset(token_hash=hash_token(token))
        admin = uow.admins.get(row.admin_id) if row is not None else None
        usable = row is not None and row.used_at is None and now < row.expires_at
        if row is None or admin is None or not usable or admin.disabled_at is not None:
            raise Unauthenticated(LINK_DEAD, field="token")
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            raise ValidationFailed(
                f"Choose a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters.",
                field="password",
            )
        if not links.use_reset(row.id, now):  # another tab used it meanwhile
            raise Unauthenticated(LINK_DEAD, field="token")
        admin.password_hash = hash_password(password)
        links.expire_resets_of(admin.id, now)
        links.revoke_all_of(admin.id, ctx.wall_clock.now())  # sessions run on the wall clock
        admin.record_event("admin.password_reset", now)  # rule E1
        uow.commit()
        return admin.email
