"""The trials team ships with serial numbers and takes returns that match (rules D4, D7, D8)."""

from __future__ import annotations

from datetime import timedelta

from trialhub.domain.devices import (
    ShipmentStatus,
    ShippedDevice,
    check_return,
    device_trial_cap,
    normalize_serial,
    return_carrier,
)
from trialhub.domain.errors import (
    Conflict,
    ErrorCollector,
    InvalidTransition,
    ValidationFailed,
)
from trialhub.domain.model import new_id
from trialhub.domain.roles import Action
from trialhub.domain.states import TrialStatus
from trialhub.services.devices.loading import _load, _trial
from trialhub.services.devices.orders import _SHIPPABLE
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
    number. The EULA email tells the customer the device due date, the return date 14 days
    later (rule D7) and how to return the devices (rule D8)."""
    require_operator(actor)
    now = ctx.now()
    policy = ctx.policy
    errors = ErrorCollector()
    with ctx.uow(actor.scope) as uow:
        shipment = _load(uow, actor, shipment_id, Action.READ_CUSTOMERS)
        if shipment.status != ShipmentStatus.ORDERED:
            raise Conflict(f"This shipment is already {shipment.status}.", rule="D4")
        trial = _trial(uow, shipment)
        if trial.status not in _SHIPPABLE:
            raise InvalidTransition(
                f"The trial is {TrialStatus(trial.status).label.lower()}: its devices are not "
                "shipped.",
                rule="D1",
            )
        ordered = {str(line["model"]): int(str(line["quantity"])) for line in shipment.lines}
        got: dict[str, int] = {}
        serials: list[str] = []
        for i, device in enumerate(cmd.devices):
            serial = normalize_serial(device.serial_number)
            if device.model not in ordered:
                errors.add(f"devices[{i}].model", f"{device.model!r} was not ordered.", "D4")
            if serial in serials:
                errors.add(f"devices[{i}].serial_number", f"{serial} is listed twice.", "D4")
            serials.append(serial)
            got[device.model] = got.get(device.model, 0) + 1
        for model, quantity in ordered.items():
            if got.get(model, 0) != quantity:
                errors.add(
                    "devices",
                    f"The order holds {quantity} x {model}; give one serial number for each.",
                    "D4",
                )
        for serial in uow.shipments.serials_out_any_partner(serials):
            errors.add("devices", f"Serial number {serial} is in a shipment still out.", "D4")
        start = trial.starts_at or now
        cap = device_trial_cap(start, policy)  # rule D5
        due = cmd.device_due_at
        if due is None:
            end = trial.ends_at or start + timedelta(days=trial.duration_days)
            due = min(end, cap)
        elif due.tzinfo is None:
            errors.add("device_due_at", "Give the time zone (for example 2026-06-01T00:00Z).")
        elif due <= now:
            errors.add("device_due_at", "The device due date must be in the future.", "D7")
        elif due > cap:
            errors.add(
                "device_due_at",
                f"A device trial lasts at most {policy.device_trial_max_days} days from its "
                f"start ({cap:%Y-%m-%d}).",
                "D5",
            )
        errors.raise_if_any()
        models = ctx.catalog.device_models
        region = ctx.catalog.region_of(shipment.country).code
        shipment.ship(
            at=now,
            eula_due_at=due,
            devices=[
                ShippedDevice(
                    model=d.model,
                    device_type=models[d.model].type,
                    serial_number=normalize_serial(d.serial_number),
                    id=new_id("dev"),
                    shipment_id=shipment.id,
                )
                for d in cmd.devices
            ],
            carrier=cmd.carrier,
            tracking=cmd.tracking,
            return_carrier=return_carrier(shipment.country, region),
            policy=policy,
        )
        shipment.record_event(
            "shipment.shipped",
            now,
            demo_order=shipment.demo_order,
            carrier=cmd.carrier,
            tracking=cmd.tracking,
            serial_numbers=sorted(serials),
            device_due_at=due,
            return_due_at=shipment.return_due_at,
            return_carrier=shipment.return_carrier,
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
        if shipment.status == ShipmentStatus.RETURNED:
            raise Conflict("These devices were already returned.", rule="D8")
        if shipment.status != ShipmentStatus.SHIPPED:
            raise Conflict("This shipment has not been shipped yet.", rule="D8")
        check = check_return(shipment, cmd.serial_numbers)
        if not check.accepted:
            errors = ErrorCollector()
            for serial in check.missing:
                errors.add("serial_numbers", f"{serial} was shipped but is not returned.", "D8")
            for serial in check.unexpected:
                errors.add("serial_numbers", f"{serial} was not in this shipment.", "D8")
            errors.raise_if_any()
        shipment.status = ShipmentStatus.RETURNED.value
        shipment.returned_at = now
        shipment.record_event(
            "shipment.returned",
            now,
            demo_order=shipment.demo_order,
            serial_numbers=sorted(d.serial_number for d in shipment.devices),
            late=shipment.overdue_at is not None,
        )
        uow.commit()
        return shipment_view(ctx, shipment, now)


def request_return_label(ctx: Context, actor: Actor, shipment_id: str) -> ShipmentView:
    """Rule D8: a lost UPS return label can be re-requested, in the United States only."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        shipment = _load(uow, actor, shipment_id, Action.EDIT_TRIAL)
        if not shipment.awaiting_return():
            raise Conflict("Only devices that are out can get a return label.", rule="D8")
        if shipment.country != "US":
            raise ValidationFailed(
                "Replacement return labels exist in the United States only; elsewhere the "
                f"customer contacts {shipment.return_carrier}.",
                field="shipment",
                rule="D8",
            )
        shipment.labels_requested += 1
        shipment.record_event("shipment.label_requested", now, count=shipment.labels_requested)
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
