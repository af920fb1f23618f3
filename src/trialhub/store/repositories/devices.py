"""Device shipments and device extension requests (rules D1-D9)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from trialhub.domain.devices import (
    DeviceExtensionRequest,
    DeviceShipment,
    ShipmentStatus,
)
from trialhub.store import dialect, tables
from trialhub.store.repositories.base import (
    Repository,
)


class ShipmentRepository(Repository):
    """Device shipments of the caller's partner (rules D1-D9); the operator sees all."""

    def add(self, shipment: DeviceShipment) -> None:
        self._session.add(shipment)

    def get(self, shipment_id: str) -> DeviceShipment | None:
        stmt = select(DeviceShipment).where(tables.device_shipments.c.id == shipment_id)
        stmt = self._scoped(stmt, tables.device_shipments.c.partner_id)
        return self._session.scalars(stmt).one_or_none()

    def for_trial(self, trial_id: str) -> list[DeviceShipment]:
        stmt = (
            select(DeviceShipment)
            .where(tables.device_shipments.c.trial_id == trial_id)
            .order_by(tables.device_shipments.c.ordered_at, tables.device_shipments.c.id)
        )
        return list(self._session.scalars(self._scoped(stmt, tables.device_shipments.c.partner_id)))

    def for_trials(self, trial_ids: Sequence[str]) -> dict[str, list[DeviceShipment]]:
        """The shipments of several trials in one query (the schedule of a whole batch)."""
        name = dialect.name_of(self._session)
        stmt = (
            select(DeviceShipment)
            .where(dialect.among(tables.device_shipments.c.trial_id, trial_ids, name))
            .order_by(tables.device_shipments.c.ordered_at, tables.device_shipments.c.id)
        )
        out: dict[str, list[DeviceShipment]] = {t: [] for t in trial_ids}
        for s in self._session.scalars(self._scoped(stmt, tables.device_shipments.c.partner_id)):
            out[s.trial_id].append(s)
        return out

    def demo_order_taken_any_partner(self, number: str) -> bool:
        """Unscoped: demo order numbers are unique across partners (rule D9)."""
        stmt = select(func.count()).where(tables.device_shipments.c.demo_order == number)
        return bool(self._session.scalar(stmt))

    def device_trials_out_any_partner(self, partner_id: str) -> int:
        """Rule D1: the partner's trials with devices ordered or out (not yet returned)."""
        stmt = select(func.count(func.distinct(tables.device_shipments.c.trial_id))).where(
            tables.device_shipments.c.partner_id == partner_id,
            tables.device_shipments.c.status != ShipmentStatus.RETURNED.value,
        )
        return int(self._session.scalar(stmt) or 0)

    def serials_out_any_partner(self, serials: Sequence[str]) -> list[str]:
        """Unscoped: serial numbers already in a shipment that has not come back (rule D4)."""
        if not serials:
            return []
        stmt = (
            select(tables.shipped_devices.c.serial_number)
            .join(
                tables.device_shipments,
                tables.device_shipments.c.id == tables.shipped_devices.c.shipment_id,
            )
            .where(
                tables.shipped_devices.c.serial_number.in_(list(serials)),
                tables.device_shipments.c.status != ShipmentStatus.RETURNED.value,
            )
        )
        return sorted(set(self._session.scalars(stmt)))

    def find_demo_orders(self, org_id: str, *, serial: str | None = None) -> list[DeviceShipment]:
        """Rule D9: an organization's shipments, by serial number or (when the caller proved
        it knows an administrator's email) all of them."""
        stmt = select(DeviceShipment).where(tables.device_shipments.c.org_id == org_id)
        if serial is not None:
            stmt = stmt.where(
                tables.device_shipments.c.id.in_(
                    select(tables.shipped_devices.c.shipment_id).where(
                        tables.shipped_devices.c.serial_number == serial
                    )
                )
            )
        stmt = stmt.order_by(tables.device_shipments.c.ordered_at, tables.device_shipments.c.id)
        return list(self._session.scalars(self._scoped(stmt, tables.device_shipments.c.partner_id)))

    def add_extension_request(self, request: DeviceExtensionRequest) -> None:
        self._session.add(request)

    def extension_request(self, request_id: str) -> DeviceExtensionRequest | None:
        r = tables.device_extension_requests
        stmt = select(DeviceExtensionRequest).where(r.c.id == request_id)
        return self._session.scalars(self._scoped(stmt, r.c.partner_id)).one_or_none()

    def extension_requests(
        self,
        *,
        decision: str | None = None,
        trial_id: str | None = None,
        limit: int = 200,
        after: tuple[datetime, str] | None = None,
    ) -> list[DeviceExtensionRequest]:
        """Oldest first; `after` is the (requested_at, id) key of the last one seen."""
        r = tables.device_extension_requests
        return self._oldest_first(
            DeviceExtensionRequest,
            r,
            r.c.requested_at,
            after=after,
            limit=limit,
            decision=decision,
            trial_id=trial_id,
        )
