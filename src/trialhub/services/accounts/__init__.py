"""Partners, administrators, roles and API tokens."""

from __future__ import annotations

from trialhub.services.accounts.admins import create_admin, create_partner
from trialhub.services.accounts.directory import (
    grantable_roles,
    list_admins,
    list_tokens,
    revoke_token,
)
from trialhub.services.accounts.password_reset import request_password_reset, reset_password
from trialhub.services.accounts.sessions import (
    SessionActor,
    actor_for_session,
    sign_in,
    sign_out,
)
from trialhub.services.accounts.tokens import actor_for_email, authenticate_token, issue_token, me

__all__ = [
    "SessionActor",
    "actor_for_email",
    "actor_for_session",
    "authenticate_token",
    "create_admin",
    "create_partner",
    "grantable_roles",
    "issue_token",
    "list_admins",
    "list_tokens",
    "me",
    "request_password_reset",
    "reset_password",
    "revoke_token",
    "sign_in",
    "sign_out",
]
