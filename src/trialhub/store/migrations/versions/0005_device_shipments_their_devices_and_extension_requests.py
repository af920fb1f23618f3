"""device shipments, their devices and extension requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 04:52:31.550728
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_extension_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("trial_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("requested_by_admin_id", sa.String(length=40), nullable=True),
        sa.Column("requested_end", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("decided_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_admin_id", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_device_extension_requests_decided_by_admin_id_admins"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_device_extension_requests_org_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_device_extension_requests_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_device_extension_requests_requested_by_admin_id_admins"),
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_device_extension_requests_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_extension_requests")),
    )
    with op.batch_alter_table("device_extension_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_extension_requests_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_extension_requests_trial_id"), ["trial_id"], unique=False
        )
        batch_op.create_index(
            "uq_device_extension_requests_pending",
            ["trial_id"],
            unique=True,
            sqlite_where=sa.text("decision = 'pending'"),
            postgresql_where=sa.text("decision = 'pending'"),
        )

    op.create_table(
        "device_shipments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("trial_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("device_type", sa.String(length=20), nullable=False),
        sa.Column("demo_order", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("ordered_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ordered_by_admin_id", sa.String(length=40), nullable=True),
        sa.Column("shipped_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("eula_due_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("return_due_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("carrier", sa.String(length=60), nullable=True),
        sa.Column("tracking", sa.String(length=100), nullable=True),
        sa.Column("return_carrier", sa.String(length=40), nullable=True),
        sa.Column("poe_supported", sa.Boolean(), nullable=True),
        sa.Column("contact_trials_team", sa.Boolean(), nullable=False),
        sa.Column("deal_id", sa.String(length=60), nullable=True),
        sa.Column("returned_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("labels_requested", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ordered_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_device_shipments_ordered_by_admin_id_admins"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_device_shipments_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_device_shipments_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_device_shipments_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_shipments")),
        sa.UniqueConstraint("demo_order", name=op.f("uq_device_shipments_demo_order")),
        sa.UniqueConstraint("trial_id", "device_type", name=op.f("uq_device_shipments_trial_id")),
    )
    with op.batch_alter_table("device_shipments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_shipments_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_device_shipments_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "shipped_devices",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("device_type", sa.String(length=20), nullable=False),
        sa.Column("serial_number", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["device_shipments.id"],
            name=op.f("fk_shipped_devices_shipment_id_device_shipments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipped_devices")),
    )
    with op.batch_alter_table("shipped_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shipped_devices_serial_number"), ["serial_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shipped_devices_shipment_id"), ["shipment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("shipped_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipped_devices_shipment_id"))
        batch_op.drop_index(batch_op.f("ix_shipped_devices_serial_number"))

    op.drop_table("shipped_devices")
    with op.batch_alter_table("device_shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_shipments_partner_id"))
        batch_op.drop_index(batch_op.f("ix_device_shipments_org_id"))

    op.drop_table("device_shipments")
    with op.batch_alter_table("device_extension_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_device_extension_requests_pending",
            sqlite_where=sa.text("decision = 'pending'"),
            postgresql_where=sa.text("decision = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_device_extension_requests_trial_id"))
        batch_op.drop_index(batch_op.f("ix_device_extension_requests_partner_id"))

    op.drop_table("device_extension_requests")
