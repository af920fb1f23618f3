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
from trialhub.services.kernel.views import view_of
from trialhub.store.uow import UnitOfWork

_NO_POE = (
    "The customer cannot power phones over Ethernet (PoE) and phones ship without power "
    "supplies: contact the trials team."
)


def shipment_view(ctx: Context, s: DeviceShipment, now: datetime) -> ShipmentView:
    """The shipment as it is, with its lines named from the catalog, how to return the
    devices (rule D8) and whether they are overdue (rule D7)."""
    models = ctx.catalog.device_models
    lines = []
    for line in s.lines:
        code = str(line["model"])
        name = model.name if (model := models.get(code)) else code
        lines.append(DeviceLineView(model=code, name=name, quantity=int(str(line["quantity"]))))
    return view_of(
        ShipmentView,
        s,
        lines=lines,
        contact_trials_team_reason=_NO_POE if s.contact_trials_team else None,
        devices=[ShippedDeviceView.model_validate(d) for d in s.devices],
        device_due_at=s.eula_due_at,
        return_instructions=return_instructions(s.return_carrier),
        overdue=s.overdue(now),
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
