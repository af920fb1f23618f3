"""Device shipments, returns and extensions (rules D1-D9)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from trialhub.api.deps import ContextDep, CurrentActor, IdempotentDep
from trialhub.api.params import Cursor, PageSize
from trialhub.services import devices
from trialhub.services.devices.schemas import (
    DecideDeviceExtension,
    DeviceExtensionPage,
    DeviceExtensionView,
    DispatchShipment,
    OrderShipment,
    RecordReturn,
    RequestDeviceExtension,
    ShipmentView,
)

router = APIRouter(prefix="/v1", tags=["devices"])


@router.post("/trials/{trial_id}/shipments", status_code=201, response_model=ShipmentView)
def order_shipment(trial_id: str, cmd: OrderShipment, run: IdempotentDep) -> JSONResponse:
    """Order the devices of a trial: one shipment per device type (rules D1-D3, D9)."""
    return run.run(
        lambda: devices.order_shipment(run.ctx, run.actor, trial_id, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )


@router.get("/trials/{trial_id}/shipments", response_model=list[ShipmentView])
def list_shipments(trial_id: str, ctx: ContextDep, actor: CurrentActor) -> list[ShipmentView]:
    """The trial's shipments, oldest first."""
    return devices.list_shipments(ctx, actor, trial_id)


@router.get("/shipments/{shipment_id}", response_model=ShipmentView)
def get_shipment(shipment_id: str, ctx: ContextDep, actor: CurrentActor) -> ShipmentView:
    """One shipment: devices and serial numbers, due dates, return carrier, overdue flag."""
    return devices.get_shipment(ctx, actor, shipment_id)


@router.post("/shipments/{shipment_id}/dispatch", response_model=ShipmentView)
def dispatch(shipment_id: str, cmd: DispatchShipment, run: IdempotentDep) -> JSONResponse:
    """Trials team: ship the order with carrier, tracking and serial numbers (rule D4); the
    customer gets the EULA email with the device due date (rule D7)."""
    return run.run(
        lambda: devices.dispatch_shipment(run.ctx, run.actor, shipment_id, cmd),
        body=lambda: cmd.model_dump(mode="json"),
    )


@router.post("/shipments/{shipment_id}/returns", response_model=ShipmentView)
def record_return(shipment_id: str, cmd: RecordReturn, run: IdempotentDep) -> JSONResponse:
    """Trials team: take the devices back; the serial numbers must match (rule D8)."""
    return run.run(
        lambda: devices.record_return(run.ctx, run.actor, shipment_id, cmd),
        body=lambda: cmd.model_dump(),
    )


@router.post("/shipments/{shipment_id}/return-label", response_model=ShipmentView)
def request_return_label(shipment_id: str, run: IdempotentDep) -> JSONResponse:
    """Re-request a lost UPS return label, United States only (rule D8)."""
    return run.run(lambda: devices.request_return_label(run.ctx, run.actor, shipment_id))


@router.get("/demo-orders", response_model=list[ShipmentView])
def find_demo_orders(
    ctx: ContextDep,
    actor: CurrentActor,
    org_id: Annotated[str, Query(description="The customer organization's id")],
    admin_email: Annotated[
        str | None, Query(description="A customer administrator's email")
    ] = None,
    serial: Annotated[str | None, Query(description="A trialed device's serial number")] = None,
) -> list[ShipmentView]:
    """Rule D9: look a demo order up by organization id plus admin email or serial number."""
    return devices.find_demo_orders(
        ctx, actor, org_id=org_id, admin_email=admin_email, serial=serial
    )


@router.post(
    "/trials/{trial_id}/device-extension-requests",
    status_code=201,
    response_model=DeviceExtensionView,
)
def request_device_extension(
    trial_id: str, cmd: RequestDeviceExtension, run: IdempotentDep
) -> JSONResponse:
    """Ask the trials team for more device time, within the policy's longest device trial
    (counted from its start; rules D5, D6)."""
    return run.run(
        lambda: devices.request_extension(run.ctx, run.actor, trial_id, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(mode="json"),
    )


@router.get("/device-extension-requests", response_model=DeviceExtensionPage)
def list_device_extension_requests(
    ctx: ContextDep,
    actor: CurrentActor,
    decision: Annotated[
        str | None, Query(description="pending, approved or denied (all when absent)")
    ] = None,
    trial_id: Annotated[
        str | None, Query(max_length=40, description="One trial's requests")
    ] = None,
    limit: PageSize = None,
    cursor: Cursor = None,
) -> DeviceExtensionPage:
    """The trials team's queue of requests, or a partner's own (rule D6). Oldest first, a
    page at a time."""
    return devices.list_extension_requests(
        ctx, actor, decision=decision, trial_id=trial_id, limit=limit, cursor=cursor
    )


@router.post("/device-extension-requests/{request_id}/decision", response_model=DeviceExtensionView)
def decide_device_extension(
    request_id: str, cmd: DecideDeviceExtension, run: IdempotentDep
) -> JSONResponse:
    """Trials team: approve or deny; an approval past the policy's longest device trial is
    refused (rules D5, D6)."""
    return run.run(
        lambda: devices.decide_extension_request(run.ctx, run.actor, request_id, cmd),
        body=lambda: cmd.model_dump(),
    )
