"""customer list sort key kept on the customer row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NO_END = datetime(9999, 12, 31, tzinfo=UTC)
OPEN = ("pending_consent", "awaiting_provisioning", "active", "expired")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sort_end", trialhub.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("sort_name", sa.String(length=200), nullable=True))
    customers = sa.table(
        "customers",
        sa.column("id"),
        sa.column("org_id"),
        sa.column("sort_end", trialhub.store.types.UTCDateTime()),
        sa.column("sort_name"),
    )
    organizations = sa.table("organizations", sa.column("id"), sa.column("name"))
    trials = sa.table(
        "trials",
        sa.column("customer_id"),
        sa.column("status"),
        sa.column("ends_at", trialhub.store.types.UTCDateTime()),
    )
    soonest = (
        sa.select(sa.func.min(trials.c.ends_at))
        .where(trials.c.customer_id == customers.c.id, trials.c.status.in_(OPEN))
        .scalar_subquery()
    )
    name = (
        sa.select(organizations.c.name)
        .where(organizations.c.id == customers.c.org_id)
        .scalar_subquery()
    )
    op.execute(customers.update().values(sort_name=name, sort_end=soonest))
    op.execute(
        customers.update()
        .where(customers.c.sort_end.is_(None))
        .values(sort_end=sa.bindparam("no_end", NO_END, type_=trialhub.store.types.UTCDateTime()))
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column(
            "sort_end",
            existing_type=trialhub.store.types.UTCDateTime(timezone=True),
            nullable=False,
        )
        batch_op.alter_column("sort_name", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index(
            "ix_customers_list", ["partner_id", "sort_end", "sort_name", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_list")
        batch_op.drop_column("sort_name")
        batch_op.drop_column("sort_end")
