"""Partners order one shipment per device type (rules D1-D3, D9)."""

from __future__ import annotations

import secrets

from trialhub.domain.devices import DeviceLine, DeviceOrder, DeviceShipment
from trialhub.domain.errors import Conflict
from trialhub.domain.roles import Action
from trialhub.services.devices.loading import _load
from trialhub.services.devices.schemas import (
    OrderShipment,
    ShipmentView,
)
from trialhub.services.devices.views import shipment_view
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial
from trialhub.store.uow import UnitOfWork


def order_shipment(ctx: Context, actor: Actor, trial_id: str, cmd: OrderShipment) -> ShipmentView:
    """The device step of a trial (rules D1-D3): one shipment of one device type; the demo
    order number is assigned at once (rule D9)."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        order = DeviceOrder(
            lines=tuple(DeviceLine(line.model, line.quantity) for line in cmd.devices),
            recipient=cmd.recipient,
            address=cmd.address.model_dump(),
            deal_id=cmd.deal_id,
            poe_supported=cmd.poe_supported,
        )
        shipment = DeviceShipment.new(
            trial,
            order,
            ctx.catalog,
            ctx.policy,
            shipments=uow.shipments.for_trial(trial.id),
            partner_device_trials=uow.shipments.device_trials_out_any_partner(trial.partner_id),
            demo_order=_demo_order(uow),
            by=actor.admin_id,
            at=now,
        )
        uow.shipments.add(shipment)
        uow.commit()
        return shipment_view(ctx, shipment, now)


def list_shipments(ctx: Context, actor: Actor, trial_id: str) -> list[ShipmentView]:
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.READ_CUSTOMERS)
        return [shipment_view(ctx, s, now) for s in uow.shipments.for_trial(trial.id)]


def get_shipment(ctx: Context, actor: Actor, shipment_id: str) -> ShipmentView:
    with ctx.uow(actor.scope) as uow:
        shipment = _load(uow, actor, shipment_id, Action.READ_CUSTOMERS)
        return shipment_view(ctx, shipment, ctx.now())


def _demo_order(uow: UnitOfWork) -> str:
    """Rule D9: "D" and eight digits, unique."""
    for _ in range(20):
        number = f"D{secrets.randbelow(90_000_000) + 10_000_000}"
        if not uow.shipments.demo_order_taken_any_partner(number):
            return number
    raise Conflict("Could not assign a demo order number; retry.", rule="D9")
