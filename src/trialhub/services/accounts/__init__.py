"""Partners, administrators, roles and API tokens."""

from __future__ import annotations

from trialhub.services.accounts.admins import create_admin, create_partner
from trialhub.services.accounts.tokens import actor_for_email, authenticate_token, issue_token, me

__all__ = [
    "actor_for_email",
    "authenticate_token",
    "create_admin",
    "create_partner",
    "issue_token",
    "me",
]
