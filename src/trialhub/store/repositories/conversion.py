"""Conversion orders and tier-2 conversion requests (rules V1-V5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from trialhub.domain.conversion import ConversionOrder
from trialhub.store import tables
from trialhub.store.repositories.base import (
    Repository,
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
        return self._oldest_first(
            ConversionOrder,
            o,
            o.c.created_at,
            after=after,
            limit=limit,
            status=status,
            trial_id=trial_id,
        )
