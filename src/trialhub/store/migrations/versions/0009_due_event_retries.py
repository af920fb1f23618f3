"""due events: next attempt after a failure (the outbox's backoff)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a failed deadline waits until then instead of going again on every pass (rule T10);
    # rows that failed before this revision have none and are retried on the next pass
    with op.batch_alter_table("due_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "next_attempt_at",
                trialhub.store.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("due_events", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
