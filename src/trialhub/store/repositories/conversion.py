"""Conversion orders and tier-2 conversion requests (rules V1-V5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from trialhub.domain.conversion import ConversionOrder
from trialhub.domain.model import (
    Subscription,
)
from trialhub.store import tables
from trialhub.store.repositories.base import (
    Repository,
    _after,
)


class OrderRepository(Repository):
    """Conversion orders and tier-2 conversion requests (rules V1-V5)."""

    def add(self, order: ConversionOrder) -> None:
        self._session.add(order)

    def get(self, order_id: str) -> ConversionOrder | None:
        stmt = select(ConversionOrder).where(tables.orders.c.id == order_id)
        return self._session.scalars(self._scoped(stmt, tables.orders.c.partner_id)).one_or_none()

    def listed(
        self,
        *,
        status: str | None = None,
        trial_id: str | None = None,
        limit: int = 200,
        after: tuple[datetime, str] | None = None,
    ) -> list[ConversionOrder]:
        """Oldest first; `after` is the (created_at, id) key of the last one seen."""
        o = tables.orders
        stmt = select(ConversionOrder)
        if status is not None:
            stmt = stmt.where(o.c.status == status)
        if trial_id is not None:
            stmt = stmt.where(o.c.trial_id == trial_id)
        if after is not None:
            stmt = stmt.where(_after(o.c.created_at, o.c.id, after))
        stmt = stmt.order_by(o.c.created_at, o.c.id).limit(limit)
        return list(self._session.scalars(self._scoped(stmt, tables.orders.c.partner_id)))

    def add_subscription(self, subscription: Subscription) -> None:
        self._session.add(subscription)
