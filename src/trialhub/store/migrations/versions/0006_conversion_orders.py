"""conversion orders

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:11:07.024652
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("trial_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("provisioning_email", sa.String(length=320), nullable=False),
        sa.Column("path", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_admin_id", sa.String(length=40), nullable=True),
        sa.Column("distributor_id", sa.String(length=40), nullable=True),
        sa.Column("new_organization_confirmed", sa.Boolean(), nullable=False),
        sa.Column("lost_services", sa.JSON(), nullable=False),
        sa.Column("processed_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("processed_by_admin_id", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_orders_created_by_admin_id_admins"),
        ),
        sa.ForeignKeyConstraint(
            ["distributor_id"],
            ["distributors.id"],
            name=op.f("fk_orders_distributor_id_distributors"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_orders_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_orders_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["processed_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_orders_processed_by_admin_id_admins"),
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_orders_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_distributor_id"), ["distributor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_trial_id"), ["trial_id"], unique=False)
        batch_op.create_index(
            "uq_orders_requested",
            ["trial_id"],
            unique=True,
            sqlite_where=sa.text("status = 'requested'"),
            postgresql_where=sa.text("status = 'requested'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_orders_requested",
            sqlite_where=sa.text("status = 'requested'"),
            postgresql_where=sa.text("status = 'requested'"),
        )
        batch_op.drop_index(batch_op.f("ix_orders_trial_id"))
        batch_op.drop_index(batch_op.f("ix_orders_partner_id"))
        batch_op.drop_index(batch_op.f("ix_orders_distributor_id"))

    op.drop_table("orders")
