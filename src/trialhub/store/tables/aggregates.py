"""Tables of the business aggregates: partners, organizations, customers, trials, devices,
orders."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    text,
)

from trialhub.domain.conversion import OrderStatus
from trialhub.domain.devices import ExtensionDecision
from trialhub.store.tables.base import ID, metadata
from trialhub.store.types import UTCDateTime

distributors = Table(
    "distributors",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

partners = Table(
    "partners",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier", Integer, nullable=False),
    Column("certified", Boolean, nullable=False),
    Column("distributor_id", ID, ForeignKey("distributors.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

admins = Table(
    "admins",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=True, index=True),
    Column("distributor_id", ID, ForeignKey("distributors.id"), nullable=True),
    Column("password_hash", String(255), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("admin_id", ID, ForeignKey("admins.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("label", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("region", String(8), nullable=False),
    Column("business_vertical", String(40), nullable=True),
    Column("created_by_partner_id", ID, ForeignKey("partners.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

org_admins = Table(
    "org_admins",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False, index=True),
    # one person, one organization: an email is an administrator of at most one
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("full", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

org_users = Table(
    "org_users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False),
    Column("service", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    UniqueConstraint("org_id", "service"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=False),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("state", String(20), nullable=False),
    Column("access", String(20), nullable=True),
    Column("created_by_admin_id", ID, ForeignKey("admins.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime(), nullable=True),
    Column("sort_end", UTCDateTime(), nullable=False),
    Column("sort_name", String(200), nullable=False),
    UniqueConstraint("partner_id", "org_id"),
    # the customer list is a keyset walk of this index (sorted by end date, name, id)
    Index("ix_customers_list", "partner_id", "sort_end", "sort_name", "id"),
)

# The customer list filtered by a trial status: one row per customer and status that one of
# its trials is in, with a copy of the customer's list sort key, so that `status=` and
# `expiring_within_days=` are a keyset walk of one index, however many customers match
# (issue 11, decision 0019). Kept by the same unit-of-work hook as the sort key.
customer_statuses = Table(
    "customer_statuses",
    metadata,
    Column("customer_id", ID, ForeignKey("customers.id"), primary_key=True),
    Column("status", String(30), primary_key=True),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=False),
    Column("sort_end", UTCDateTime(), nullable=False),
    Column("sort_name", String(200), nullable=False),
    Index(
        "ix_customer_statuses_list", "partner_id", "status", "sort_end", "sort_name", "customer_id"
    ),
)

customer_assignments = Table(
    "customer_assignments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("customer_id", ID, ForeignKey("customers.id"), nullable=False),
    Column("admin_id", ID, ForeignKey("admins.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("customer_id", "admin_id"),
)

trials = Table(
    "trials",
    metadata,
    Column("id", ID, primary_key=True),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=False, index=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("customer_id", ID, ForeignKey("customers.id"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("status", String(30), nullable=False),
    Column("duration_days", Integer, nullable=False),
    Column("user_licenses", Integer, nullable=False),
    Column("setup", String(10), nullable=False),
    Column("created_by_admin_id", ID, ForeignKey("admins.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=True),
    Column("ends_at", UTCDateTime(), nullable=True),
    Column("consent_deadline", UTCDateTime(), nullable=True),
    Column("consent_email", String(320), nullable=True),
    Column("pending_consent_at", UTCDateTime(), nullable=True),
    Column("awaiting_provisioning_at", UTCDateTime(), nullable=True),
    Column("active_at", UTCDateTime(), nullable=True),
    Column("expired_at", UTCDateTime(), nullable=True),
    Column("lapsed_at", UTCDateTime(), nullable=True),
    Column("converted_at", UTCDateTime(), nullable=True),
    Column("cancelled_at", UTCDateTime(), nullable=True),
    Column("deleted_at", UTCDateTime(), nullable=True),
    Column("numbers_release_at", UTCDateTime(), nullable=True),
    Column("version", Integer, nullable=False),
    # the customer list's expiring filter probes a customer's trials (0012); its status
    # filter walks customer_statuses (0013 dropped ix_trials_partner_status, unread since)
    Index("ix_trials_customer_status", "customer_id", "status", "ends_at"),
)

trial_services = Table(
    "trial_services",
    metadata,
    Column("id", ID, primary_key=True),
    Column("trial_id", ID, ForeignKey("trials.id"), nullable=False, index=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False),
    Column("service", String(40), nullable=False),
    Column("edition", String(40), nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime(), nullable=True),
    # rule S3: one open trial of a service per organization, enforced by the database
    Index(
        "uq_trial_services_open",
        "org_id",
        "service",
        unique=True,
        sqlite_where=text("is_open"),
        postgresql_where=text("is_open"),
    ),
)

extensions = Table(
    "extensions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("trial_id", ID, ForeignKey("trials.id"), nullable=False, index=True),
    Column("admin_id", ID, ForeignKey("admins.id"), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("previous_end", UTCDateTime(), nullable=True),
    Column("new_end", UTCDateTime(), nullable=False),
    Column("reason", String(500), nullable=True),
)

meetings_sites = Table(
    "meetings_sites",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(63), nullable=False),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False),
    Column("trial_id", ID, ForeignKey("trials.id"), nullable=False, unique=True),
    Column("time_zone", String(64), nullable=False),
    Column("reserved_at", UTCDateTime(), nullable=False),
    Column("released_at", UTCDateTime(), nullable=True),
    # rule S2: a site name is held by one organization until released
    Index(
        "uq_meetings_sites_held",
        "name",
        unique=True,
        sqlite_where=text("released_at IS NULL"),
        postgresql_where=text("released_at IS NULL"),
    ),
)

device_shipments = Table(
    "device_shipments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("trial_id", ID, ForeignKey("trials.id"), nullable=False),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=False, index=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("device_type", String(20), nullable=False),
    Column("demo_order", String(16), nullable=False, unique=True),  # rule D9
    Column("recipient", String(20), nullable=False),
    Column("address", JSON, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("ordered_at", UTCDateTime(), nullable=True),
    Column("ordered_by_admin_id", ID, ForeignKey("admins.id"), nullable=True),
    Column("shipped_at", UTCDateTime(), nullable=True),
    Column("eula_due_at", UTCDateTime(), nullable=True),
    Column("return_due_at", UTCDateTime(), nullable=True),
    Column("carrier", String(60), nullable=True),
    Column("tracking", String(100), nullable=True),
    Column("return_carrier", String(40), nullable=True),
    Column("poe_supported", Boolean, nullable=True),
    Column("contact_trials_team", Boolean, nullable=False),
    Column("deal_id", String(60), nullable=True),
    Column("returned_at", UTCDateTime(), nullable=True),
    Column("overdue_at", UTCDateTime(), nullable=True),
    Column("labels_requested", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    # rule D2: one shipment per device type per trial, enforced by the database
    UniqueConstraint("trial_id", "device_type"),
)

shipped_devices = Table(
    "shipped_devices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("shipment_id", ID, ForeignKey("device_shipments.id"), nullable=False, index=True),
    Column("model", String(60), nullable=False),
    Column("device_type", String(20), nullable=False),
    Column("serial_number", String(60), nullable=False, index=True),  # rule D9 lookups
)

device_extension_requests = Table(
    "device_extension_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("trial_id", ID, ForeignKey("trials.id"), nullable=False, index=True),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=False, index=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False),
    Column("requested_by_admin_id", ID, ForeignKey("admins.id"), nullable=True),
    Column("requested_end", UTCDateTime(), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("reason", String(500), nullable=True),
    Column("decision", String(20), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decided_by_admin_id", ID, ForeignKey("admins.id"), nullable=True),
    Column("note", String(500), nullable=True),
    # rule D6: one request waits for the trials team per trial at a time
    Index(
        "uq_device_extension_requests_pending",
        "trial_id",
        unique=True,
        sqlite_where=text(f"decision = '{ExtensionDecision.PENDING.value}'"),
        postgresql_where=text(f"decision = '{ExtensionDecision.PENDING.value}'"),
    ),
)

orders = Table(
    "orders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("trial_id", ID, ForeignKey("trials.id"), nullable=False, index=True),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=False, index=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False),
    Column("services", JSON, nullable=False),
    Column("provisioning_email", String(320), nullable=False),
    Column("path", String(30), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by_admin_id", ID, ForeignKey("admins.id"), nullable=True),
    Column("distributor_id", ID, ForeignKey("distributors.id"), nullable=True, index=True),
    Column("new_organization_confirmed", Boolean, nullable=False),
    Column("lost_services", JSON, nullable=False),
    Column("processed_at", UTCDateTime(), nullable=True),
    Column("processed_by_admin_id", ID, ForeignKey("admins.id"), nullable=True),
    Column("note", String(500), nullable=True),
    # rule V1: one conversion request waits for the distributor per trial at a time
    Index(
        "uq_orders_requested",
        "trial_id",
        unique=True,
        sqlite_where=text(f"status = '{OrderStatus.REQUESTED.value}'"),
        postgresql_where=text(f"status = '{OrderStatus.REQUESTED.value}'"),
    ),
)
