"""Tables of the machinery around them: audit log, consent links, outbox, deadlines, mailbox,
webhooks, sandbox clock, idempotency keys, rate-limit counters."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from trialhub.store.tables.base import ID, BigId, metadata
from trialhub.store.types import UTCDateTime

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
