"""A trial's devices: its shipments and returns, ordering devices (rules D1-D3), asking for
a device extension (rules D5, D6). The same use cases as `/v1/trials/{id}/shipments` and
`/v1/trials/{id}/device-extension-requests`; the trials team's actions are in
`device_team_pages.py`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from trialhub.services import devices, trials
from trialhub.services.devices.schemas import (
    DeviceOrderLine,
    OrderShipment,
    RequestDeviceExtension,
    ShippingAddress,
)
from trialhub.services.kernel import Actor
from trialhub.web.form_errors import REFUSED_INPUT, command, field_errors
from trialhub.web.portal import CsrfChecked, Signed, ctx_of, render

router = APIRouter(include_in_schema=False)

# flash messages after Post/Redirect/Get, by the `done` query value
DONE = {
    "ordered": "Devices ordered; the trials team ships them.",
    "extension": "Device extension requested; the trials team decides.",
    "dispatched": "Shipment dispatched; the customer gets the EULA email.",
    "returned": "Return recorded: the serial numbers match.",
}
# an order with no quantity typed: the list the API calls `devices` is empty (rule D1)
NO_DEVICES = "Choose at least one device type: enter how many of its models to ship (rule D1)."
ADDRESS_FIELDS = ("name", "phone", "email", "street", "city", "postal_code", "country")
Text = Annotated[str, Form(max_length=300)]


@router.get("/trials/{trial_id}/devices")
def devices_page(request: Request, signed: Signed, trial_id: str, done: str = "") -> Response:
    return render_devices(request, signed.actor, trial_id, flash=DONE.get(done))


def render_devices(
    request: Request,
    actor: Actor,
    trial_id: str,
    *,
    status_code: int = 200,
    flash: str | None = None,
    **forms: Any,
) -> Response:
    ctx = ctx_of(request)
    trial = trials.get_trial(ctx, actor, trial_id)
    shipments = devices.list_shipments(ctx, actor, trial_id)
    asked = devices.list_extension_requests(ctx, actor, trial_id=trial_id).items
    catalog = ctx.catalog
    values: dict[str, Any] = {
        "order": {"recipient": "customer", "values": {}, "errors": {}},
        "extension": {"values": {}, "errors": {}},
        "shipment_errors": {},
        **forms,
    }
    return render(
        request,
        "devices.html",
        status_code=status_code,
        trial=trial,
        shipments=shipments,
        asked=asked,
        flash=flash,
        device_types=catalog.device_types,
        models=list(catalog.device_models.values()),
        countries=sorted(catalog.countries.values(), key=lambda c: c.name),
        ordered_types={s.device_type for s in shipments},
        device_service=catalog.has_device_service(
            s.code for s in trial.services if s.removed_at is None
        ),
        per_order=ctx.policy.devices_per_order,
        max_days=ctx.policy.device_trial_max_days,
        is_operator=actor.is_operator,
        **values,
    )


@router.post("/trials/{trial_id}/devices", dependencies=[CsrfChecked])
def order_devices(
    request: Request,
    signed: Signed,
    trial_id: str,
    recipient: Text = "customer",
    name: Text = "",
    phone: Text = "",
    email: Text = "",
    street: Text = "",
    city: Text = "",
    postal_code: Text = "",
    country: Text = "",
    deal_id: Text = "",
    poe_supported: Text = "",
    model: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    quantity: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    """Rules D1-D3: one shipment of one device type; the same use case as the API."""
    typed_address = (name, phone, email, street, city, postal_code, country)
    address = dict(zip(ADDRESS_FIELDS, typed_address, strict=True))
    wanted = _quantities(model, quantity)
    typed = {**address, "deal_id": deal_id, "poe_supported": poe_supported, **wanted}
    try:
        cmd = command(
            lambda: OrderShipment(
                recipient=recipient,
                address=ShippingAddress(**address),
                devices=[DeviceOrderLine(model=m, quantity=q) for m, q in wanted.items()],
                poe_supported={"yes": True, "no": False}.get(poe_supported),
                deal_id=deal_id.strip() or None,
            )
        )
        devices.order_shipment(ctx_of(request), signed.actor, trial_id, cmd)
    except REFUSED_INPUT as e:
        errors = field_errors(e)
        if not wanted and "devices" in errors:  # the user's words, not "Give a list of ..."
            errors["devices"] = NO_DEVICES
        order = {"recipient": recipient, "values": typed, "errors": errors}
        return render_devices(request, signed.actor, trial_id, status_code=422, order=order)
    return RedirectResponse(f"/trials/{trial_id}/devices?done=ordered", status_code=303)


def _quantities(models: list[str], quantities: list[str]) -> dict[str, int]:
    """The models given a quantity (an empty or zero box is not ordered)."""
    found: dict[str, int] = {}
    for code, raw in zip(models, quantities, strict=False):
        raw = raw.strip()
        if raw and raw != "0":
            found[code] = int(raw) if raw.lstrip("-").isdigit() else -1
    return found


@router.post("/trials/{trial_id}/devices/extension", dependencies=[CsrfChecked])
def request_device_extension(
    request: Request,
    signed: Signed,
    trial_id: str,
    requested_end: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    """Rules D5, D6: a request to the trials team, within the longest device trial."""
    typed = {"requested_end": requested_end, "reason": reason}
    try:
        cmd = command(
            lambda: RequestDeviceExtension(
                requested_end=day_end(requested_end),
                reason=reason.strip() or None,
            )
        )
        devices.request_extension(ctx_of(request), signed.actor, trial_id, cmd)
    except REFUSED_INPUT as e:
        extension = {"values": typed, "errors": field_errors(e)}
        return render_devices(request, signed.actor, trial_id, status_code=422, extension=extension)
    return RedirectResponse(f"/trials/{trial_id}/devices?done=extension", status_code=303)


def day_end(value: str) -> datetime | str:
    """A date input's `YYYY-MM-DD` as midnight UTC; anything else is left for the command
    to refuse in its own words."""
    try:
        return datetime.combine(date.fromisoformat(value.strip()), time(0), tzinfo=UTC)
    except ValueError:
        return value
