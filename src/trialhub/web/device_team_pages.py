"""The trials team's device actions: dispatch a shipment (rule D4), take a return whose
serial numbers match (rule D8), and the queue of device extension requests to approve or
deny (rules D5, D6). The same use cases as the `/v1/shipments/...` and
`/v1/device-extension-requests` endpoints; a partner's POST is refused by them (403)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from trialhub.domain.errors import ValidationFailed
from trialhub.services import devices
from trialhub.services.devices.schemas import (
    DecideDeviceExtension,
    DispatchShipment,
    RecordReturn,
    ShippedDeviceInput,
)
from trialhub.services.kernel import Actor
from trialhub.web.device_pages import day_end, render_devices
from trialhub.web.form_errors import REFUSED_INPUT, command, field_errors
from trialhub.web.portal import CsrfChecked, Signed, ctx_of, render

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=300)]
_SEPARATORS = re.compile(r"[\s,;]+")


@router.post("/shipments/{shipment_id}/dispatch", dependencies=[CsrfChecked])
def dispatch(
    request: Request,
    signed: Signed,
    shipment_id: str,
    carrier: Text = "",
    tracking: Text = "",
    device_due: Annotated[str, Form(max_length=40)] = "",
    model: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    serial: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    """Rule D4: carrier, tracking and each device's serial number (trials team only)."""
    ctx = ctx_of(request)
    shipment = devices.get_shipment(ctx, signed.actor, shipment_id)
    pairs = zip(model, serial, strict=False)  # a serial box per device, after its model
    due = day_end(device_due) if device_due.strip() else None
    try:
        cmd = command(
            lambda: DispatchShipment(
                carrier=carrier,
                tracking=tracking,
                devices=[ShippedDeviceInput(model=m, serial_number=s) for m, s in pairs],
                device_due_at=due,
            )
        )
        devices.dispatch_shipment(ctx, signed.actor, shipment_id, cmd)
    except REFUSED_INPUT as e:
        typed = {"carrier": carrier, "tracking": tracking, "device_due": device_due}
        errors = {shipment_id: {"values": typed, "serials": serial, "errors": field_errors(e)}}
        return render_devices(
            request, signed.actor, shipment.trial_id, status_code=422, shipment_errors=errors
        )
    return RedirectResponse(f"/trials/{shipment.trial_id}/devices?done=dispatched", status_code=303)


@router.post("/shipments/{shipment_id}/return", dependencies=[CsrfChecked])
def take_return(
    request: Request,
    signed: Signed,
    shipment_id: str,
    serial_numbers: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Rule D8: accepted only when the returned serial numbers match the shipped ones;
    every missing and unexpected number is listed, and nothing changes."""
    ctx = ctx_of(request)
    shipment = devices.get_shipment(ctx, signed.actor, shipment_id)
    given = [s for s in _SEPARATORS.split(serial_numbers) if s]
    try:
        cmd = command(lambda: RecordReturn(serial_numbers=given))
        devices.record_return(ctx, signed.actor, shipment_id, cmd)
    except REFUSED_INPUT as e:
        typed = {"serial_numbers": serial_numbers}
        errors = {shipment_id: {"values": typed, "errors": field_errors(e)}}
        return render_devices(
            request, signed.actor, shipment.trial_id, status_code=422, shipment_errors=errors
        )
    return RedirectResponse(f"/trials/{shipment.trial_id}/devices?done=returned", status_code=303)


QUEUE_DONE = {"approved": "Device extension approved.", "denied": "Device extension denied."}


@router.get("/devices/extension-requests")
def extension_queue(
    request: Request,
    signed: Signed,
    decision: Annotated[str, Query(max_length=20)] = "pending",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The trials team's queue (every partner), or a partner's own requests (rule D6)."""
    return _queue(request, signed.actor, decision, cursor, flash=QUEUE_DONE.get(done))


def _queue(
    request: Request,
    actor: Actor,
    decision: str,
    cursor: str | None = None,
    *,
    flash: str | None = None,
    row_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    error = None
    page = None
    try:
        page = devices.list_extension_requests(
            ctx_of(request), actor, decision=decision or None, cursor=cursor
        )
    except ValidationFailed as e:
        error = e.message
    return render(
        request,
        "device_extensions.html",
        status_code=status_code,
        page=page,
        error=error,
        decision=decision,
        decisions=("pending", "approved", "denied"),
        flash=flash,
        row_errors=row_errors or {},
        is_operator=actor.is_operator,
    )


@router.post("/devices/extension-requests/{request_id}/decision", dependencies=[CsrfChecked])
def decide(
    request: Request,
    signed: Signed,
    request_id: str,
    approve: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    """Rule D6: approve or deny; an approval past the longest device trial is refused (D5)."""
    ctx = ctx_of(request)
    try:
        cmd = command(
            lambda: DecideDeviceExtension(approve=approve == "yes", note=note.strip() or None)
        )
        devices.decide_extension_request(ctx, signed.actor, request_id, cmd)
    except REFUSED_INPUT as e:
        said = " ".join(field_errors(e).values())
        errors = {request_id: said}
        return _queue(request, signed.actor, "pending", row_errors=errors, status_code=422)
    done = "approved" if cmd.approve else "denied"
    return RedirectResponse(f"/devices/extension-requests?done={done}", status_code=303)
