"""Views of shipments and the payload of their emails."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.devices import (
    DeviceShipment,
    return_instructions,
)
from trialhub.services.devices.schemas import (
    DeviceLineView,
    ShipmentView,
    ShippedDeviceView,
)
from trialhub.services.kernel.context import Context
from trialhub.store.uow import UnitOfWork


def shipment_view(ctx: Context, s: DeviceShipment, now: datetime) -> ShipmentView:
    models = ctx.catalog.device_models
    return ShipmentView(
        id=s.id,
        trial_id=s.trial_id,
        org_id=s.org_id,
        demo_order=s.demo_order,
        device_type=s.device_type,
        status=s.status,
        recipient=s.recipient,
        address=dict(s.address),
        lines=[
            DeviceLineView(
                model=str(line["model"]),
                name=models[str(line["model"])].name
                if str(line["model"]) in models
                else str(line["model"]),
                quantity=int(str(line["quantity"])),
            )
            for line in s.lines
        ],
        poe_supported=s.poe_supported,
        contact_trials_team=s.contact_trials_team,
        contact_trials_team_reason=(
            "The customer cannot power phones over Ethernet (PoE) and phones ship without power "
            "supplies: contact the trials team."
            if s.contact_trials_team
            else None
        ),
        deal_id=s.deal_id,
        ordered_at=s.ordered_at,
        shipped_at=s.shipped_at,
        carrier=s.carrier,
        tracking=s.tracking,
        devices=[ShippedDeviceView.model_validate(d) for d in s.devices],
        device_due_at=s.eula_due_at,
        return_due_at=s.return_due_at,
        return_carrier=s.return_carrier,
        return_instructions=return_instructions(s.return_carrier),
        overdue=s.overdue(now),
        overdue_at=s.overdue_at,
        returned_at=s.returned_at,
        labels_requested=s.labels_requested,
    )


def shipment_payload(ctx: Context, uow: UnitOfWork, s: DeviceShipment) -> dict[str, object]:
    org = uow.organizations.get(s.org_id)
    partner = uow.partners.get(s.partner_id)
    models = ctx.catalog.device_models
    return {
        "organization": org.name if org else "",
        "org_id": s.org_id,
        "partner": partner.name if partner else "",
        "demo_order": s.demo_order,
        "devices": [
            {
                "model": models[d.model].name if d.model in models else d.model,
                "serial_number": d.serial_number,
            }
            for d in s.devices
        ],
        "carrier": s.carrier,
        "tracking": s.tracking,
        "device_due_at": s.eula_due_at.isoformat() if s.eula_due_at else None,
        "due_at": s.return_due_at.isoformat() if s.return_due_at else None,
        "return_carrier": s.return_carrier,
        "return_instructions": return_instructions(s.return_carrier),
        "audience": "customer",
    }
