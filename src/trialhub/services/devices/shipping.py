"""The trials team ships with serial numbers and takes returns that match (rules D4, D7, D8)."""

from __future__ import annotations

from trialhub.domain.devices import normalize_serial
from trialhub.domain.roles import Action
from trialhub.services.devices.loading import _load, _trial
from trialhub.services.devices.reminders import _customer_recipients
from trialhub.services.devices.schemas import (
    DispatchShipment,
    RecordReturn,
    ShipmentView,
)
from trialhub.services.devices.views import shipment_payload, shipment_view
from trialhub.services.kernel.actor import Actor, require_operator
from trialhub.services.kernel.context import Context
from trialhub.services.messaging.outbox import queue_trial_email


def dispatch_shipment(
    ctx: Context, actor: Actor, shipment_id: str, cmd: DispatchShipment
) -> ShipmentView:
    """The trials team ships the order (rule D4): carrier, tracking, each device's serial
    number. The EULA email tells the customer the device due date, the return date after it
    (rule D7) and how to return the devices (rule D8)."""
    require_operator(actor)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        shipment = _load(uow, actor, shipment_id, Action.READ_CUSTOMERS)
        serials = [normalize_serial(d.serial_number) for d in cmd.devices]
        shipment.dispatch(
            _trial(uow, shipment),
            ctx.catalog,
            ctx.policy,
            devices=cmd.devices,
            carrier=cmd.carrier,
            tracking=cmd.tracking,
            device_due_at=cmd.device_due_at,
            serials_out=uow.shipments.serials_out_any_partner(serials),
            at=now,
        )
        payload = shipment_payload(ctx, uow, shipment)
        for email in _customer_recipients(uow, shipment):
            queue_trial_email(
                uow, shipment, "devices_shipped", email, f"shipped:{shipment.id}", now, payload
            )
        uow.commit()
        return shipment_view(ctx, shipment, now)


def record_return(ctx: Context, actor: Actor, shipment_id: str, cmd: RecordReturn) -> ShipmentView:
    """Rule D8: the return is accepted only when the serial numbers match the shipped ones;
    a mismatch is refused with every missing and unexpected number listed, and changes
    nothing."""
    require_operator(actor)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        shipment = _load(uow, actor, shipment_id, Action.READ_CUSTOMERS)
        shipment.take_return(cmd.serial_numbers, now)
        uow.commit()
        return shipment_view(ctx, shipment, now)


def request_return_label(ctx: Context, actor: Actor, shipment_id: str) -> ShipmentView:
    """Rule D8: a lost UPS return label can be re-requested, in the United States only."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        shipment = _load(uow, actor, shipment_id, Action.EDIT_TRIAL)
        shipment.request_label(now)
        payload = shipment_payload(ctx, uow, shipment)
        queue_trial_email(
            uow,
            shipment,
            "return_label",
            shipment.address["email"],
            f"label:{shipment.id}:{shipment.labels_requested}",
            now,
            payload,
        )
        uow.commit()
        return shipment_view(ctx, shipment, now)
