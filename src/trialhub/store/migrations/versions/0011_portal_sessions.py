"""the partner portal's sign-in sessions and password-reset links

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WHEN = trialhub.store.types.UTCDateTime(timezone=True)


def _secret_table(name: str, *columns: sa.Column[Any]) -> None:
    """A secret issued to an administrator, stored as its SHA-256 (both tables)."""
    op.create_table(
        name,
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("admin_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f(f"fk_{name}_admin_id_admins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{name}_token_hash")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_admin_id"), ["admin_id"], unique=False)


def upgrade() -> None:
    _secret_table(
        "portal_sessions",
        sa.Column("csrf_secret", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
    )
    _secret_table("password_resets", sa.Column("used_at", WHEN, nullable=True))


def downgrade() -> None:
    for name in ("password_resets", "portal_sessions"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_admin_id"))
        op.drop_table(name)
