"""Partners, administrators, roles and API tokens."""

from __future__ import annotations

from trialhub.services.accounts.admins import create_admin, create_partner
from trialhub.services.accounts.sessions import actor_for_session, sign_in, sign_out
from trialhub.services.accounts.tokens import actor_for_email, issue_token

__all__ = [
    "actor_for_email",
    "actor_for_session",
    "create_admin",
    "create_partner",
    "issue_token",
    "sign_in",
    "sign_out",
]
