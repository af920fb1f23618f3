"""Delivery lanes, webhook endpoint health, and consent tokens out of outbox payloads

Revision ID: 0007
Revises: 0006

- outbox.secret holds a consent link's token until its email is sent (decision 0010); the
  raw tokens that payloads carried are moved there (unsent) or erased (sent).
- ix_outbox_pending leads with the channel: the email and webhook lanes read separately.
- webhook_endpoints get their health (failures, failing_since, retry_at) and why they were
  disabled (deleted by the partner, or failing).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PENDING = sa.text("sent_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret", sa.Text(), nullable=True))
        batch_op.drop_index("ix_outbox_pending", sqlite_where=_PENDING, postgresql_where=_PENDING)
        batch_op.create_index(
            "ix_outbox_pending",
            ["channel", "available_at"],
            unique=False,
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column(
                "failing_since", trialhub.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("retry_at", trialhub.store.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE webhook_endpoints SET disabled_reason = 'deleted' WHERE disabled_at IS NOT NULL"
    )
    _move_consent_tokens()


def _move_consent_tokens() -> None:
    """Consent emails kept `consent_url` (with the raw token) in their payload for good."""
    conn = op.get_bind()
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("payload", sa.JSON),
        sa.column("sent_at", sa.String),
        sa.column("secret", sa.Text),
    )
    tokens = sa.table("consent_tokens", sa.column("id", sa.String), sa.column("token_hash"))
    rows = conn.execute(
        sa.select(outbox.c.id, outbox.c.payload, outbox.c.sent_at).where(
            sa.text("template = 'consent_request'")
        )
    ).all()
    for row_id, payload, sent_at in rows:
        payload = dict(payload or {})
        url = str(payload.pop("consent_url", "") or "")
        if not url:
            continue
        base, _, raw = url.rpartition("/")
        secret = None
        if sent_at is None and raw:
            token_id = conn.execute(
                sa.select(tokens.c.id).where(
                    tokens.c.token_hash == hashlib.sha256(raw.encode()).hexdigest()
                )
            ).scalar()
            if token_id is not None:
                payload.update(consent_token_id=token_id, consent_base=base + "/")
                secret = raw
        conn.execute(
            outbox.update().where(outbox.c.id == row_id).values(payload=payload, secret=secret)
        )


def downgrade() -> None:
    # unsent consent emails get their link back; sent ones had it erased for good
    conn = op.get_bind()
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("payload", sa.JSON),
        sa.column("secret", sa.Text),
    )
    for row_id, payload, secret in conn.execute(
        sa.select(outbox.c.id, outbox.c.payload, outbox.c.secret).where(
            outbox.c.secret.is_not(None)
        )
    ).all():
        payload = dict(payload or {})
        payload["consent_url"] = f"{payload.get('consent_base', '/consent/')}{secret}"
        conn.execute(outbox.update().where(outbox.c.id == row_id).values(payload=payload))
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("retry_at")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("failures")
        batch_op.drop_column("disabled_reason")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending", sqlite_where=_PENDING, postgresql_where=_PENDING)
        batch_op.create_index(
            "ix_outbox_pending",
            ["available_at"],
            unique=False,
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        )
        batch_op.drop_column("secret")
