"""Tables, and their imperative mapping onto the domain's plain classes (cosmicpython style)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import registry, relationship

from trialhub.domain import conversion, devices, model
from trialhub.store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
mapper_registry = registry(metadata=metadata)

ID = String(40)
# an autoincrementing 64-bit key that SQLite also numbers by itself
BigId = BigInteger().with_variant(Integer(), "sqlite")

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
        sqlite_where=text("decision = 'pending'"),
        postgresql_where=text("decision = 'pending'"),
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
        sqlite_where=text("status = 'requested'"),
        postgresql_where=text("status = 'requested'"),
    ),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("action", String(80), nullable=False),
    Column("subject_type", String(40), nullable=False),
    Column("subject_id", String(80), nullable=False),
    Column("actor_id", ID, nullable=True),
    Column("actor_label", String(320), nullable=False),
    Column("partner_id", ID, nullable=True, index=True),
    Column("org_id", ID, nullable=True),
    Column("trial_id", ID, nullable=True, index=True),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
)

consent_tokens = Table(
    "consent_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("trial_id", ID, ForeignKey("trials.id"), nullable=False, index=True),
    Column("org_id", ID, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("recipient_email", String(320), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("cause", String(200), nullable=False),
    Column("template", String(80), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("partner_id", ID, nullable=True, index=True),
    Column("org_id", ID, nullable=True),
    Column("trial_id", ID, nullable=True, index=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    # a delivery attempt leases the row until then; a crashed sender's lease runs out
    Column("locked_until", UTCDateTime(), nullable=True),
    # a consent link's token until the email is sent, then NULL (decision 0010)
    Column("secret", Text, nullable=True),
    # rule E2: one message per recipient and cause, however often the cause is replayed
    UniqueConstraint("channel", "recipient", "cause"),
    # each delivery lane (emails, webhooks) reads its pending messages in order of availability
    Index(
        "ix_outbox_pending",
        "channel",
        "available_at",
        sqlite_where=text("sent_at IS NULL"),
        postgresql_where=text("sent_at IS NULL"),
    ),
)

due_events = Table(
    "due_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("trial_id", ID, ForeignKey("trials.id"), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("outcome", String(40), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    # a failed row waits until then (the outbox's backoff) instead of going again every pass
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    # rule T10: one row per trial, kind and instant
    UniqueConstraint("trial_id", "kind", "due_at"),
    # the worker's only query: what is due, oldest first (cost grows with due rows only)
    Index(
        "ix_due_events_pending",
        "due_at",
        sqlite_where=text("done_at IS NULL"),
        postgresql_where=text("done_at IS NULL"),
    ),
)

mailbox = Table(
    "mailbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("recipient", String(320), nullable=False, index=True),
    Column("subject", String(300), nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("message_id", String(300), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", ID, primary_key=True),
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    # signing needs the secret itself; see docs/decisions on webhook secrets
    Column("secret", String(200), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("description", String(200), nullable=True),
    Column("created_by_admin_id", ID, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
    Column("disabled_reason", String(20), nullable=True),
    # health: backoff, circuit breaker, disabling (domain/webhook_health.py)
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("failing_since", UTCDateTime(), nullable=True),
    Column("retry_at", UTCDateTime(), nullable=True),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("outbox_id", BigInteger, nullable=False, index=True),
    Column("endpoint_id", ID, ForeignKey("webhook_endpoints.id"), nullable=False, index=True),
    Column("attempted_at", UTCDateTime(), nullable=False),
    Column("success", Boolean, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
)

sandbox_clock = Table(
    "sandbox_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    # how far the sandbox clock runs ahead of the real one, in microseconds
    Column("offset_us", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("admin_id", ID, ForeignKey("admins.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("owner", String(32), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
)

# failed attempts per limit key and window, for processes that share the database (rule X1)
rate_limit_counters = Table(
    "rate_limit_counters",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("hits", Integer, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

_mapped = False


def start_mappers() -> None:
    """Map the domain classes onto the tables; idempotent, called when a database opens."""
    global _mapped
    if _mapped:
        return
    m = mapper_registry.map_imperatively
    m(model.Distributor, distributors)
    m(model.Partner, partners)
    m(model.Admin, admins)
    m(model.ApiToken, api_tokens)
    m(model.OrgAdmin, org_admins)
    m(model.OrgUser, org_users)
    m(model.Subscription, subscriptions)
    m(
        model.Organization,
        organizations,
        properties={
            "admins": relationship(
                model.OrgAdmin, order_by=org_admins.c.created_at, lazy="selectin"
            ),
            "users": relationship(model.OrgUser, order_by=org_users.c.created_at, lazy="selectin"),
            "subscriptions": relationship(
                model.Subscription, order_by=subscriptions.c.started_at, lazy="selectin"
            ),
        },
    )
    m(model.CustomerAssignment, customer_assignments)
    m(
        model.Customer,
        customers,
        properties={
            "assignments": relationship(model.CustomerAssignment, lazy="selectin"),
            "organization": relationship(model.Organization, lazy="joined"),
        },
    )
    m(model.TrialService, trial_services)
    m(model.Extension, extensions)
    m(model.MeetingsSite, meetings_sites)
    m(
        model.Trial,
        trials,
        version_id_col=trials.c.version,
        properties={
            "services": relationship(
                model.TrialService, order_by=trial_services.c.added_at, lazy="selectin"
            ),
            "extensions": relationship(model.Extension, order_by=extensions.c.at, lazy="selectin"),
            "site": relationship(model.MeetingsSite, uselist=False, lazy="selectin"),
        },
    )
    m(devices.ShippedDevice, shipped_devices)
    m(
        devices.DeviceShipment,
        device_shipments,
        version_id_col=device_shipments.c.version,
        properties={
            "devices": relationship(
                devices.ShippedDevice, order_by=shipped_devices.c.serial_number, lazy="selectin"
            ),
        },
    )
    m(devices.DeviceExtensionRequest, device_extension_requests)
    m(conversion.ConversionOrder, orders)
    m(model.ConsentToken, consent_tokens)
    m(model.OutboxMessage, outbox)
    m(model.DueEvent, due_events)
    m(model.MailboxEmail, mailbox)
    m(model.WebhookEndpoint, webhook_endpoints)
    m(model.WebhookDelivery, webhook_deliveries)
    m(model.AuditEvent, audit_events)
    m(model.IdempotencyRecord, idempotency_keys)
    _mapped = True


from trialhub.store import portal_tables  # noqa: E402, F401  (the portal's, on this metadata)
