"""Device trials: order a shipment, ship it, remind, flag and take the devices back
(rules D1-D5, D7-D9).

The partner orders (D1-D3); the trials team ships with carrier, tracking and serial numbers
(D4) and takes returns (D8). The EULA email of the shipment names the device due date; the
devices are due back 14 days later (D7), and the lifecycle worker sends the reminders and flags
an overdue return through the due-events table, like every other deadline (T10).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from trialhub.domain.devices import (
    DeviceExtensionRequest,
    DeviceLine,
    DeviceShipment,
    ExtensionDecision,
    Recipient,
    ShipmentStatus,
    ShippedDevice,
    check_return,
    decide_extension,
    device_trial_cap,
    normalize_serial,
    return_carrier,
    return_instructions,
    validate_order,
)
from trialhub.domain.errors import (
    Conflict,
    ErrorCollector,
    Forbidden,
    InvalidTransition,
    IrreversibleLapse,
    NotFound,
    ValidationFailed,
)
from trialhub.domain.model import Trial, new_id
from trialhub.domain.roles import Action
from trialhub.domain.rules import normalize_email
from trialhub.domain.states import TrialStatus, transition
from trialhub.services import paging
from trialhub.services.audience import managing_admin_emails
from trialhub.services.context import (
    Actor,
    Context,
    require_operator,
    require_partner,
)
from trialhub.services.outbox import queue_trial_email
from trialhub.services.schemas import (
    DecideDeviceExtension,
    DeviceExtensionPage,
    DeviceExtensionView,
    DeviceLineView,
    DispatchShipment,
    OrderShipment,
    RecordReturn,
    RequestDeviceExtension,
    ShipmentView,
    ShippedDeviceView,
)
from trialhub.services.trial_ops import has_device_services
from trialhub.services.trials import load_trial, trial_in_reach
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
        for serial in uow.shipments.serials_out(serials):
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


def find_demo_orders(
    ctx: Context,
    actor: Actor,
    *,
    org_id: str,
    admin_email: str | None = None,
    serial: str | None = None,
) -> list[ShipmentView]:
    """Rule D9: a demo order is found by organization id plus either the customer
    administrator's email or a trialed device's serial number."""
    if (admin_email is None) == (serial is None):
        raise ValidationFailed(
            "Give the organization id with either admin_email or serial.",
            field="admin_email",
            rule="D9",
        )
    if not actor.is_operator:
        require_partner(actor, Action.READ_CUSTOMERS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        org = uow.organizations.get(org_id)
        if org is None:
            return []
        if admin_email is not None:
            try:
                wanted = normalize_email(admin_email)
            except ValueError as error:
                raise ValidationFailed(str(error), field="admin_email", rule="D9") from error
            if wanted not in {a.email for a in org.admins}:
                return []
            found = uow.shipments.find_demo_orders(org.id)
        else:
            assert serial is not None
            found = uow.shipments.find_demo_orders(org.id, serial=normalize_serial(serial))
        return [shipment_view(ctx, s, now) for s in found if _in_reach(uow, actor, s)]


# ---- device extensions (rules D5, D6) ----------------------------------------------------------


def request_extension(
    ctx: Context, actor: Actor, trial_id: str, cmd: RequestDeviceExtension
) -> DeviceExtensionView:
    """Rule D6: a device trial is extended by the trials team on request, never past 120 days
    from its start (rule D5). One request waits at a time."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        if trial.status == TrialStatus.LAPSED:
            raise IrreversibleLapse(
                "The trial lapsed after its grace period; it cannot be extended.", rule="T7"
            )
        if trial.status not in (TrialStatus.ACTIVE, TrialStatus.EXPIRED):
            raise InvalidTransition(
                f"Only an active trial or one in its grace period can be extended; this one is "
                f"{TrialStatus(trial.status).label.lower()}.",
                rule="D6",
            )
        out = [s for s in uow.shipments.for_trial(trial.id) if s.awaiting_return()]
        if not has_device_services(ctx.catalog, trial) and not out:
            raise ValidationFailed(
                "This trial has no device services and no devices out: extend it by 30 days "
                "instead (rule T3).",
                field="trial",
                rule="D6",
            )
        errors = ErrorCollector()
        wanted = cmd.requested_end
        current = device_end(ctx, trial, out)
        cap = device_trial_cap(trial.starts_at or trial.created_at, ctx.policy)
        if wanted.tzinfo is None:
            errors.add("requested_end", "Give the time zone (for example 2026-06-01T00:00Z).")
        elif current is not None and wanted <= current:
            errors.add(
                "requested_end",
                f"The device trial already runs to {current:%Y-%m-%d}; ask for a later end.",
                "D6",
            )
        elif wanted > cap:
            errors.add(
                "requested_end",
                f"A device trial lasts at most {ctx.policy.device_trial_max_days} days from its "
                f"start, extensions included: {cap:%Y-%m-%d} at the latest.",
                "D5",
            )
        errors.raise_if_any()
        if uow.shipments.extension_requests(decision=ExtensionDecision.PENDING, trial_id=trial.id):
            raise Conflict(
                "A device extension request for this trial already waits for the trials team.",
                rule="D6",
            )
        request = DeviceExtensionRequest(
            id=new_id("dxr"),
            trial_id=trial.id,
            requested_end=wanted,
            requested_at=now,
            reason=cmd.reason,
            partner_id=trial.partner_id,
            org_id=trial.org_id,
            requested_by_admin_id=actor.admin_id,
        )
        uow.shipments.add_extension_request(request)
        request.record_event(
            "device_extension.requested", now, requested_end=wanted, reason=cmd.reason
        )
        payload = _extension_payload(uow, request, trial, actor.partner_name or "")
        for operator in uow.admins.operators():
            queue_trial_email(
                uow,
                request,
                "device_extension_requested",
                operator.email,
                f"dxr:{request.id}",
                now,
                payload,
            )
        uow.commit()
        return extension_view(ctx, request, trial)


def list_extension_requests(
    ctx: Context,
    actor: Actor,
    *,
    decision: str | None = None,
    trial_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> DeviceExtensionPage:
    """The trials team's queue (every partner) or a partner's own requests, oldest first,
    a page at a time."""
    errors = ErrorCollector()
    if decision is not None and decision not in {d.value for d in ExtensionDecision}:
        errors.add("decision", "decision is one of pending, approved, denied.", "D6")
    size = paging.page_size(ctx.policy, limit, errors)
    after = paging.read_cursor(cursor, errors)
    errors.raise_if_any()
    if not actor.is_operator:
        require_partner(actor, Action.READ_CUSTOMERS)
    with ctx.uow(actor.scope) as uow:

        def fetch(key: paging.Key | None, n: int) -> list[DeviceExtensionRequest]:
            return uow.shipments.extension_requests(
                decision=decision, trial_id=trial_id, limit=n, after=key
            )

        def reached(request: DeviceExtensionRequest) -> bool:
            trial = uow.trials.get(request.trial_id)
            return trial is not None and trial_in_reach(uow, actor, trial)

        found, next_cursor = paging.walk(
            fetch, reached, lambda r: (r.requested_at, r.id), size=size, after=after
        )
        items = []
        for request in found:
            trial = uow.trials.get(request.trial_id)
            assert trial is not None
            items.append(extension_view(ctx, request, trial))
        return DeviceExtensionPage(items=items, next_cursor=next_cursor)


def decide_extension_request(
    ctx: Context, actor: Actor, request_id: str, cmd: DecideDeviceExtension
) -> DeviceExtensionView:
    """Rule D6: the trials team approves or denies; an approval past the 120-day limit is
    refused (rule D5). An approval moves the end of the trial's device services and the device
    due date of the devices still out, so their reminders move too (rule D7)."""
    require_operator(actor)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        request = uow.shipments.extension_request(request_id)
        if request is None:
            raise NotFound("No such device extension request.", rule="P3")
        trial = uow.trials.get(request.trial_id)
        assert trial is not None
        if cmd.approve and trial.status not in (TrialStatus.ACTIVE, TrialStatus.EXPIRED):
            raise InvalidTransition(
                f"The trial is {TrialStatus(trial.status).label.lower()}; it cannot be extended.",
                rule="T7" if trial.status == TrialStatus.LAPSED else "D6",
            )
        decide_extension(
            request,
            approve=cmd.approve,
            started_at=trial.starts_at or trial.created_at,
            now=now,
            policy=ctx.policy,
        )
        request.decided_by_admin_id = actor.admin_id
        request.note = cmd.note
        request.record_event(
            f"device_extension.{request.decision}",
            now,
            requested_end=request.requested_end,
            note=cmd.note,
        )
        if cmd.approve:
            _apply_extension(ctx, uow, trial, request, actor, now)
        requester = (
            uow.admins.get(request.requested_by_admin_id) if request.requested_by_admin_id else None
        )
        if requester is not None:
            partner = uow.partners.get(trial.partner_id)
            payload = {
                **_extension_payload(uow, request, trial, partner.name if partner else ""),
                "decision": request.decision,
                "note": cmd.note,
            }
            cause = f"dxr-decided:{request.id}"
            queue_trial_email(
                uow, request, "device_extension_decided", requester.email, cause, now, payload
            )
        uow.commit()
        return extension_view(ctx, request, trial)


def _apply_extension(
    ctx: Context,
    uow: UnitOfWork,
    trial: Trial,
    request: DeviceExtensionRequest,
    actor: Actor,
    now: datetime,
) -> None:
    new_end = request.requested_end
    end = trial.ends_at
    if has_device_services(ctx.catalog, trial) and end is not None and new_end > end:
        reason = f"device extension approved by the trials team (request {request.id})"
        trial.extend_to(
            new_end,
            now,
            admin_id=actor.admin_id,
            reason=reason + (f": {request.reason}" if request.reason else ""),
            rule="D6",
        )
        if trial.status == TrialStatus.EXPIRED:
            transition(trial, TrialStatus.ACTIVE, now, reason="device extension approved")
    for shipment in uow.shipments.for_trial(trial.id):
        if not shipment.awaiting_return() or shipment.eula_due_at is None:
            continue
        if new_end > shipment.eula_due_at:
            shipment.extend(new_end, ctx.policy, now)


def device_end(ctx: Context, trial: Trial, out: list[DeviceShipment]) -> datetime | None:
    """Where the device trial ends now: the device services' end, or the latest device due
    date of the devices still out."""
    ends = [s.eula_due_at for s in out if s.eula_due_at is not None]
    if has_device_services(ctx.catalog, trial) and trial.ends_at is not None:
        ends.append(trial.ends_at)
    return max(ends) if ends else None


def extension_view(
    ctx: Context, request: DeviceExtensionRequest, trial: Trial
) -> DeviceExtensionView:
    view = DeviceExtensionView.model_validate(request)
    view.cap = device_trial_cap(trial.starts_at or trial.created_at, ctx.policy)
    return view


def _extension_payload(
    uow: UnitOfWork, request: DeviceExtensionRequest, trial: Trial, partner: str
) -> dict[str, object]:
    org = uow.organizations.get(trial.org_id)
    return {
        "organization": org.name if org else "",
        "partner": partner,
        "trial_id": trial.id,
        "request_id": request.id,
        "requested_end": request.requested_end.isoformat(),
        "reason": request.reason,
    }


# ---- the worker's handlers (rule D7), called by trialhub.services.lifecycle -------------------


def send_reminders(ctx: Context, uow: UnitOfWork, trial: Trial, at: datetime) -> str:
    """Devices due back soon: the shipment contact, the customer administrators and the
    partner administrators who manage the customer are reminded."""
    due = [s for s in uow.shipments.for_trial(trial.id) if at in s.reminder_instants(ctx.policy)]
    if not due:
        return "obsolete"
    for shipment in due:
        cause = f"device_reminder:{shipment.id}:{at.isoformat()}"
        _tell_everyone(ctx, uow, shipment, "device_return_reminder", cause, at)
        shipment.record_event("shipment.return_reminder", at, return_due_at=shipment.return_due_at)
    return "notified"


def flag_overdue(ctx: Context, uow: UnitOfWork, trial: Trial, at: datetime) -> str:
    """The return date passed with the devices still out: the shipment is flagged overdue and
    the partner and the customer are told."""
    late = [
        s
        for s in uow.shipments.for_trial(trial.id)
        if s.awaiting_return() and s.return_due_at == at and s.overdue_at is None
    ]
    if not late:
        return "obsolete"
    for shipment in late:
        shipment.overdue_at = at
        shipment.record_event("shipment.overdue", at, return_due_at=at)
        _tell_everyone(ctx, uow, shipment, "devices_overdue", f"device_overdue:{shipment.id}", at)
    return "flagged"


# ---- views and helpers -------------------------------------------------------------------------


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


def _tell_everyone(
    ctx: Context, uow: UnitOfWork, s: DeviceShipment, template: str, cause: str, at: datetime
) -> None:
    """The shipment's contact and customer administrators, then the partner administrators
    who manage the customer, each with their own wording (rule D7)."""
    payload = shipment_payload(ctx, uow, s)
    for email in _customer_recipients(uow, s):
        queue_trial_email(uow, s, template, email, cause, at, payload)
    for email in _partner_recipients(uow, s):
        queue_trial_email(uow, s, template, email, cause, at, {**payload, "audience": "partner"})


def _customer_recipients(uow: UnitOfWork, s: DeviceShipment) -> list[str]:
    """The shipment's contact and, when the devices went to the customer, its administrators."""
    out = {s.address["email"]}
    if s.recipient == Recipient.CUSTOMER:
        org = uow.organizations.get(s.org_id)
        if org is not None:
            out |= {a.email for a in org.admins}
    return sorted(out)


def _partner_recipients(uow: UnitOfWork, s: DeviceShipment) -> list[str]:
    customer = uow.customers.get(_trial(uow, s).customer_id, include_removed=True)
    return managing_admin_emails(uow, customer) if customer is not None else []


def _offers_devices(ctx: Context, trial: Trial) -> bool:
    return any(
        (d := ctx.catalog.services.get(s.service)) is not None and d.offers_devices
        for s in trial.open_services()
    )


def _device_trials_out(uow: UnitOfWork, trial: Trial) -> int:
    """Rule D1's count, not counting this trial (a second type for one trial is no new one)."""
    mine = [s for s in uow.shipments.for_trial(trial.id) if s.status != ShipmentStatus.RETURNED]
    return uow.shipments.device_trials_out(trial.partner_id) - (1 if mine else 0)


def _demo_order(uow: UnitOfWork) -> str:
    """Rule D9: "D" and eight digits, unique."""
    for _ in range(20):
        number = f"D{secrets.randbelow(90_000_000) + 10_000_000}"
        if not uow.shipments.demo_order_taken(number):
            return number
    raise Conflict("Could not assign a demo order number; retry.", rule="D9")


def _trial(uow: UnitOfWork, s: DeviceShipment) -> Trial:
    trial = uow.trials.get(s.trial_id)
    if trial is None:  # pragma: no cover - shipments are scoped like their trials
        raise NotFound("No such shipment.", rule="P3")
    return trial


def _load(uow: UnitOfWork, actor: Actor, shipment_id: str, action: Action) -> DeviceShipment:
    """A shipment of the caller's partner within the caller's reach, or 404 (rules P2, P3)."""
    shipment = uow.shipments.get(shipment_id)
    if shipment is None or not _in_reach(uow, actor, shipment, action):
        raise NotFound("No such shipment.", rule="P3")
    if action is not Action.READ_CUSTOMERS and actor.is_operator:
        raise Forbidden("The trials team ships and takes returns; the partner orders.", rule="P2")
    return shipment


def _in_reach(
    uow: UnitOfWork, actor: Actor, s: DeviceShipment, action: Action = Action.READ_CUSTOMERS
) -> bool:
    return trial_in_reach(uow, actor, _trial(uow, s), action)
