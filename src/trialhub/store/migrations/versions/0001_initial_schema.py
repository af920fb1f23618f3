"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 04:12:22.821461
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=80), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("actor_label", sa.String(length=320), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("trial_id", sa.String(length=40), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_trial_id"), ["trial_id"], unique=False)

    op.create_table(
        "distributors",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distributors")),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("certified", sa.Boolean(), nullable=False),
        sa.Column("distributor_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["distributor_id"],
            ["distributors.id"],
            name=op.f("fk_partners_distributor_id_distributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
    )
    op.create_table(
        "admins",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("distributor_id", sa.String(length=40), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["distributor_id"],
            ["distributors.id"],
            name=op.f("fk_admins_distributor_id_distributors"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_admins_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admins")),
        sa.UniqueConstraint("email", name=op.f("uq_admins_email")),
    )
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admins_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("business_vertical", sa.String(length=40), nullable=True),
        sa.Column("created_by_partner_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_partner_id"],
            ["partners.id"],
            name=op.f("fk_organizations_created_by_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("admin_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_api_tokens_admin_id_admins")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_admin_id"), ["admin_id"], unique=False)

    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("access", sa.String(length=20), nullable=True),
        sa.Column("created_by_admin_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_customers_created_by_admin_id_admins"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_customers_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_customers_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("partner_id", "org_id", name=op.f("uq_customers_partner_id")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_org_id"), ["org_id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("admin_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_idempotency_keys_admin_id_admins")
        ),
        sa.PrimaryKeyConstraint("admin_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "org_admins",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_org_admins_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_admins")),
        sa.UniqueConstraint("email", name=op.f("uq_org_admins_email")),
    )
    with op.batch_alter_table("org_admins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_admins_org_id"), ["org_id"], unique=False)

    op.create_table(
        "org_users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_org_users_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_users")),
        sa.UniqueConstraint("email", name=op.f("uq_org_users_email")),
    )
    with op.batch_alter_table("org_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_users_org_id"), ["org_id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("started_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_subscriptions_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_subscriptions_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("org_id", "service", name=op.f("uq_subscriptions_org_id")),
    )
    op.create_table(
        "customer_assignments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("admin_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_customer_assignments_admin_id_admins")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_assignments_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_assignments")),
        sa.UniqueConstraint(
            "customer_id", "admin_id", name=op.f("uq_customer_assignments_customer_id")
        ),
    )
    with op.batch_alter_table("customer_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_assignments_admin_id"), ["admin_id"], unique=False
        )

    op.create_table(
        "trials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("user_licenses", sa.Integer(), nullable=False),
        sa.Column("setup", sa.String(length=10), nullable=False),
        sa.Column("created_by_admin_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("starts_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "consent_deadline", trialhub.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "pending_consent_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "awaiting_provisioning_at",
            trialhub.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("active_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expired_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lapsed_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("converted_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_trials_created_by_admin_id_admins"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_trials_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_trials_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_trials_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
    )
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trials_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_trials_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_trials_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "extensions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("trial_id", sa.String(length=40), nullable=False),
        sa.Column("admin_id", sa.String(length=40), nullable=True),
        sa.Column("at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("previous_end", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("new_end", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_extensions_admin_id_admins")
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_extensions_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extensions")),
    )
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_extensions_trial_id"), ["trial_id"], unique=False)

    op.create_table(
        "meetings_sites",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("trial_id", sa.String(length=40), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("reserved_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_meetings_sites_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_meetings_sites_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings_sites")),
        sa.UniqueConstraint("trial_id", name=op.f("uq_meetings_sites_trial_id")),
    )
    with op.batch_alter_table("meetings_sites", schema=None) as batch_op:
        batch_op.create_index(
            "uq_meetings_sites_held",
            ["name"],
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )

    op.create_table(
        "trial_services",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("trial_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("edition", sa.String(length=40), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("added_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_trial_services_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_trial_services_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_services")),
    )
    with op.batch_alter_table("trial_services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trial_services_trial_id"), ["trial_id"], unique=False)
        batch_op.create_index(
            "uq_trial_services_open",
            ["org_id", "service"],
            unique=True,
            sqlite_where=sa.text("is_open"),
            postgresql_where=sa.text("is_open"),
        )


def downgrade() -> None:
    with op.batch_alter_table("trial_services", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_trial_services_open",
            sqlite_where=sa.text("is_open"),
            postgresql_where=sa.text("is_open"),
        )
        batch_op.drop_index(batch_op.f("ix_trial_services_trial_id"))

    op.drop_table("trial_services")
    with op.batch_alter_table("meetings_sites", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_meetings_sites_held",
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )

    op.drop_table("meetings_sites")
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extensions_trial_id"))

    op.drop_table("extensions")
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trials_partner_id"))
        batch_op.drop_index(batch_op.f("ix_trials_org_id"))
        batch_op.drop_index(batch_op.f("ix_trials_customer_id"))

    op.drop_table("trials")
    with op.batch_alter_table("customer_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_assignments_admin_id"))

    op.drop_table("customer_assignments")
    op.drop_table("subscriptions")
    with op.batch_alter_table("org_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_users_org_id"))

    op.drop_table("org_users")
    with op.batch_alter_table("org_admins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_admins_org_id"))

    op.drop_table("org_admins")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_org_id"))

    op.drop_table("customers")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_admin_id"))

    op.drop_table("api_tokens")
    op.drop_table("organizations")
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admins_partner_id"))

    op.drop_table("admins")
    op.drop_table("partners")
    op.drop_table("distributors")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_trial_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_partner_id"))

    op.drop_table("audit_events")
