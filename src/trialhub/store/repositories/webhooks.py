"""Webhook endpoints and their delivery log."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, select

from trialhub.domain.records import WebhookDelivery, WebhookEndpoint
from trialhub.store import dialect, tables
from trialhub.store.repositories.base import (
    Repository,
)


class EndpointSubscription(NamedTuple):
    """An active endpoint as the fan-out matches events with it."""

    endpoint_id: str
    partner_id: str
    event_types: list[str]


_e = tables.webhook_endpoints.c
_ACTIVE = select(_e.id, _e.partner_id, _e.event_types).where(
    _e.partner_id.in_(bindparam("partner_ids", expanding=True)), _e.disabled_at.is_(None)
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

    def subscriptions_of_partners_unscoped(
        self, partner_ids: set[str]
    ) -> list[EndpointSubscription]:
        """Unscoped: the fan-out hook serves every partner an event belongs to. Only what it
        matches events with, by a statement built once: it runs at every commit that
        records an event, and usually finds nothing (issue 11)."""
        return [
            EndpointSubscription(*row)
            for row in self._session.execute(_ACTIVE, {"partner_ids": sorted(partner_ids)})
        ]

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
