"""the customer list's status keys: one row per customer and trial status, with a copy of
the customer's list sort key, so that the list filtered by a status is a walk of one index;
ix_trials_partner_status (0012), which the status filter read before, goes

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

Filled here from the trials and customers as they stand (decision 0019); from then on the
unit-of-work hook that keeps the sort key keeps these rows too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WHEN = trialhub.store.types.UTCDateTime(timezone=True)

FILL = """
INSERT INTO customer_statuses (customer_id, status, partner_id, sort_end, sort_name)
SELECT DISTINCT t.customer_id, t.status, c.partner_id, c.sort_end, c.sort_name
FROM trials AS t JOIN customers AS c ON c.id = t.customer_id
"""


def upgrade() -> None:
    op.create_table(
        "customer_statuses",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("sort_end", WHEN, nullable=False),
        sa.Column("sort_name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_statuses_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_customer_statuses_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("customer_id", "status", name=op.f("pk_customer_statuses")),
    )
    op.execute(FILL)
    with op.batch_alter_table("customer_statuses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_statuses_list",
            ["partner_id", "status", "sort_end", "sort_name", "customer_id"],
            unique=False,
        )
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_index("ix_trials_partner_status")


def downgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trials_partner_status", ["partner_id", "status", "customer_id"], unique=False
        )
    with op.batch_alter_table("customer_statuses", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_statuses_list")
    op.drop_table("customer_statuses")
