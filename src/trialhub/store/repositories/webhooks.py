"""Webhook endpoints and their delivery log."""

from __future__ import annotations

from sqlalchemy import select

from trialhub.domain.records import WebhookDelivery, WebhookEndpoint
from trialhub.store import dialect, tables
from trialhub.store.repositories.base import (
    Repository,
)


class WebhookRepository(Repository):
    """Webhook endpoints of the caller's partner and their delivery log."""

    def add(self, endpoint: WebhookEndpoint) -> None:
        self._session.add(endpoint)

    def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(tables.webhook_endpoints.c.id == endpoint_id)
        stmt = self._scoped(stmt, tables.webhook_endpoints.c.partner_id)
        return self._session.scalars(stmt).one_or_none()

    def of_partner(self, partner_id: str) -> list[WebhookEndpoint]:
        stmt = (
            select(WebhookEndpoint)
            .where(tables.webhook_endpoints.c.partner_id == partner_id)
            .order_by(tables.webhook_endpoints.c.created_at)
        )
        return list(
            self._session.scalars(self._scoped(stmt, tables.webhook_endpoints.c.partner_id))
        )

    def active_of_partners_unscoped(self, partner_ids: set[str]) -> list[WebhookEndpoint]:
        """Unscoped: the fan-out hook serves every partner an event belongs to."""
        stmt = select(WebhookEndpoint).where(
            tables.webhook_endpoints.c.partner_id.in_(partner_ids),
            tables.webhook_endpoints.c.disabled_at.is_(None),
        )
        return list(self._session.scalars(stmt))

    def for_delivery_for_worker(self, endpoint_id: str) -> WebhookEndpoint | None:
        """The endpoint, locked on PostgreSQL: two senders must not both count a failure."""
        stmt = select(WebhookEndpoint).where(tables.webhook_endpoints.c.id == endpoint_id)
        stmt = dialect.locked(stmt, dialect.name_of(self._session))
        return self._session.scalars(stmt).one_or_none()

    def deliveries(self, endpoint_id: str, limit: int) -> list[WebhookDelivery]:
        stmt = (
            select(WebhookDelivery)
            .where(tables.webhook_deliveries.c.endpoint_id == endpoint_id)
            .order_by(tables.webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        e = tables.webhook_endpoints.c
        mine = self._scoped(select(e.id), e.partner_id)
        stmt = stmt.where(tables.webhook_deliveries.c.endpoint_id.in_(mine))
        return list(self._session.scalars(stmt))

    def add_delivery(self, delivery: WebhookDelivery) -> None:
        self._session.add(delivery)
