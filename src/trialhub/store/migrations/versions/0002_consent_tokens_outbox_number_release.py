"""consent tokens, outbox, number release

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:23:31.996296
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("template", sa.String(length=80), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("available_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("trial_id", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("channel", "recipient", "cause", name=op.f("uq_outbox_channel")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(
            "ix_outbox_pending",
            ["available_at"],
            unique=False,
            sqlite_where=sa.text("sent_at IS NULL"),
            postgresql_where=sa.text("sent_at IS NULL"),
        )
        batch_op.create_index(batch_op.f("ix_outbox_trial_id"), ["trial_id"], unique=False)

    op.create_table(
        "consent_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("trial_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("recipient_email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_consent_tokens_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_consent_tokens_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_consent_tokens_token_hash")),
    )
    with op.batch_alter_table("consent_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_tokens_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_tokens_trial_id"), ["trial_id"], unique=False)

    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_email", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column(
                "numbers_release_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_column("numbers_release_at")
        batch_op.drop_column("consent_email")

    with op.batch_alter_table("consent_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_tokens_trial_id"))
        batch_op.drop_index(batch_op.f("ix_consent_tokens_org_id"))

    op.drop_table("consent_tokens")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_trial_id"))
        batch_op.drop_index(
            "ix_outbox_pending",
            sqlite_where=sa.text("sent_at IS NULL"),
            postgresql_where=sa.text("sent_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_outbox_partner_id"))

    op.drop_table("outbox")
