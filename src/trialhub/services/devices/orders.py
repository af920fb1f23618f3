"""Partners order one shipment per device type (rules D1-D3, D9)."""

from __future__ import annotations

import secrets

from trialhub.domain.devices import (
    DeviceLine,
    DeviceShipment,
    Recipient,
    ShipmentStatus,
    validate_order,
)
from trialhub.domain.errors import (
    Conflict,
    ErrorCollector,
    InvalidTransition,
    ValidationFailed,
)
from trialhub.domain.model import Trial, new_id
from trialhub.domain.roles import Action
from trialhub.domain.rules import normalize_email
from trialhub.domain.states import TrialStatus
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

# a device shipment can be ordered and shipped while the trial runs (rule D1)
_SHIPPABLE = (TrialStatus.AWAITING_PROVISIONING, TrialStatus.ACTIVE)


def order_shipment(ctx: Context, actor: Actor, trial_id: str, cmd: OrderShipment) -> ShipmentView:
    """The device step of a trial (rules D1-D3): one shipment of one device type; the demo
    order number is assigned at once (rule D9)."""
    now = ctx.now()
    errors = ErrorCollector()
    country = cmd.address.country.strip().upper()
    if country not in ctx.catalog.countries:
        errors.add("address.country", f"{cmd.address.country!r} is not an ISO country code.", "D1")
    try:
        email = normalize_email(cmd.address.email)
    except ValueError as error:
        errors.add("address.email", str(error), "D1")
        email = ""
    if country == "US" and not cmd.deal_id:
        errors.add("deal_id", "Shipments to the United States need the deal id.", "D1")
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        if trial.status not in _SHIPPABLE:
            raise InvalidTransition(
                f"Devices ship for a running trial only; this one is "
                f"{TrialStatus(trial.status).label.lower()}.",
                rule="D1",
            )
        if not _offers_devices(ctx, trial):
            raise ValidationFailed(
                "The device step is offered only when Webex Calling or a device service is in "
                "the trial.",
                field="devices",
                rule="D1",
            )
        shipped_types = {s.device_type for s in uow.shipments.for_trial(trial.id)}
        try:
            device_type = validate_order(
                ctx.catalog,
                ctx.policy,
                lines=[DeviceLine(line.model, line.quantity) for line in cmd.devices],
                country=country,
                already_shipped_types=shipped_types,
                active_device_trials_of_partner=_device_trials_out(uow, trial),
                poe_supported=cmd.poe_supported,
            )
        except ValidationFailed as failed:  # every problem at once, the address's included
            for e in failed.errors:
                errors.add(e.field or "devices", e.message, e.rule)
        errors.raise_if_any()
        shipment = DeviceShipment(
            id=new_id("shp"),
            trial_id=trial.id,
            partner_id=trial.partner_id,
            org_id=trial.org_id,
            device_type=device_type,
            demo_order=_demo_order(uow),
            recipient=Recipient(cmd.recipient).value,
            address={**cmd.address.model_dump(), "country": country, "email": email},
            lines=[{"model": line.model, "quantity": line.quantity} for line in cmd.devices],
            status=ShipmentStatus.ORDERED.value,
            ordered_at=now,
            ordered_by_admin_id=actor.admin_id,
            poe_supported=cmd.poe_supported,
            # rule D3: phones without PoE support need the trials team
            contact_trials_team=device_type == "phone" and cmd.poe_supported is False,
            deal_id=cmd.deal_id,
            labels_requested=0,
        )
        uow.shipments.add(shipment)
        shipment.record_event(
            "shipment.ordered",
            now,
            demo_order=shipment.demo_order,
            device_type=device_type,
            lines=shipment.lines,
            recipient=shipment.recipient,
            country=country,
            contact_trials_team=shipment.contact_trials_team,
        )
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


def _offers_devices(ctx: Context, trial: Trial) -> bool:
    return any(
        (d := ctx.catalog.services.get(s.service)) is not None and d.offers_devices
        for s in trial.open_services()
    )


def _device_trials_out(uow: UnitOfWork, trial: Trial) -> int:
    """Rule D1's count, not counting this trial (a second type for one trial is no new one)."""
    mine = [s for s in uow.shipments.for_trial(trial.id) if s.status != ShipmentStatus.RETURNED]
    return uow.shipments.device_trials_out_any_partner(trial.partner_id) - (1 if mine else 0)


def _demo_order(uow: UnitOfWork) -> str:
    """Rule D9: "D" and eight digits, unique."""
    for _ in range(20):
        number = f"D{secrets.randbelow(90_000_000) + 10_000_000}"
        if not uow.shipments.demo_order_taken_any_partner(number):
            return number
    raise Conflict("Could not assign a demo order number; retry.", rule="D9")
