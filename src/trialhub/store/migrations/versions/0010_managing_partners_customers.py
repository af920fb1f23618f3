"""an organization is the customer of each partner that manages one of its services

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Rule A1: a paid customer whose subscription a partner manages is in that partner's customer
list. Until now only a trial put an organization there; this backfills the entries that
subscriptions recorded before imply (state active, full administrator access, as the
services now write them) and records each in the audit log. No schema change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import trialhub.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NO_END = datetime(9999, 12, 31, tzinfo=UTC)
WHEN = trialhub.store.types.UTCDateTime()

subscriptions = sa.table(
    "subscriptions",
    sa.column("org_id"),
    sa.column("partner_id"),
    sa.column("started_at", WHEN),
)
organizations = sa.table("organizations", sa.column("id"), sa.column("name"), sa.column("kind"))
customers = sa.table(
    "customers",
    sa.column("id"),
    sa.column("partner_id"),
    sa.column("org_id"),
    sa.column("state"),
    sa.column("access"),
    sa.column("created_by_admin_id"),
    sa.column("created_at", WHEN),
    sa.column("removed_at", WHEN),
    sa.column("sort_end", WHEN),
    sa.column("sort_name"),
)
audit_events = sa.table(
    "audit_events",
    sa.column("at", WHEN),
    sa.column("action"),
    sa.column("subject_type"),
    sa.column("subject_id"),
    sa.column("actor_id"),
    sa.column("actor_label"),
    sa.column("partner_id"),
    sa.column("org_id"),
    sa.column("after", sa.JSON()),
)


def upgrade() -> None:
    conn = op.get_bind()
    managed = conn.execute(
        sa.select(
            subscriptions.c.org_id,
            subscriptions.c.partner_id,
            sa.func.min(subscriptions.c.started_at).label("since"),
            organizations.c.name,
        )
        .join(organizations, organizations.c.id == subscriptions.c.org_id)
        .where(subscriptions.c.partner_id.is_not(None), organizations.c.kind == "customer")
        .group_by(subscriptions.c.org_id, subscriptions.c.partner_id, organizations.c.name)
        .order_by(subscriptions.c.org_id, subscriptions.c.partner_id)
    ).all()
    for org_id, partner_id, since, name in managed:
        found = conn.execute(
            sa.select(customers.c.id, customers.c.state).where(
                customers.c.partner_id == partner_id, customers.c.org_id == org_id
            )
        ).first()
        if found is None:
            customer_id = f"cus_{uuid.uuid4().hex}"
            conn.execute(
                customers.insert().values(
                    id=customer_id,
                    partner_id=partner_id,
                    org_id=org_id,
                    state="active",
                    access="full",
                    created_by_admin_id=None,
                    created_at=since,
                    removed_at=None,
                    sort_end=NO_END,
                    sort_name=name,
                )
            )
        elif found.state != "active":  # pending consent or removed: the same entry, for good
            customer_id = found.id
            conn.execute(
                customers.update()
                .where(customers.c.id == customer_id)
                .values(state="active", access="full", removed_at=None)
            )
        else:
            continue
        conn.execute(
            audit_events.insert().values(
                at=since,
                action="customer.added",
                subject_type="customer",
                subject_id=customer_id,
                actor_id=None,
                actor_label="migration 0010",
                partner_id=partner_id,
                org_id=org_id,
                after={"state": "active", "access": "full", "reason": "manages_subscription"},
            )
        )


def downgrade() -> None:
    # the entries stay: the code before this revision reads them as ordinary customers, and
    # which ones this revision added cannot be told from those a trial added since
    pass
