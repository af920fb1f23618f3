"""The partner portal's tables, on the same `metadata` as the others.

`portal_sessions`: one row per browser sign-in. The cookie carries a random token; only its
SHA-256 is stored, like API tokens. The CSRF secret is the form token of the session's
pages (a synchronizer token): useless without the cookie, so it is kept as it is.

`password_resets`: one row per emailed reset link; the link's token stored as its SHA-256,
single-use (`used_at`) and expiring.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, String, Table

from trialhub.store.tables.base import ID, metadata
from trialhub.store.types import UTCDateTime


def _secret_columns() -> list[Column[Any]]:
    """What both tables hold: a secret issued to an administrator, stored as its SHA-256,
    with when it was issued and when it stops working."""
    return [
        Column("id", ID, primary_key=True),
        Column("admin_id", ID, ForeignKey("admins.id"), nullable=False, index=True),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False),
    ]


portal_sessions = Table(
    "portal_sessions",
    metadata,
    *_secret_columns(),
    Column("csrf_secret", String(64), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

password_resets = Table(
    "password_resets",
    metadata,
    *_secret_columns(),
    Column("used_at", UTCDateTime(), nullable=True),
)
