"""Device trials from the command line: order, ship, return, labels, extensions, demo orders
(rules D1-D9)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from trialhub.cli.common import (
    AsOpt,
    DatabaseOpt,
    acting,
    checked_input,
    console,
    err,
    every_page,
    open_context,
)
from trialhub.services import devices
from trialhub.services.devices.schemas import (
    DecideDeviceExtension,
    DeviceExtensionView,
    DeviceOrderLine,
    DispatchShipment,
    OrderShipment,
    RecordReturn,
    RequestDeviceExtension,
    ShipmentView,
    ShippedDeviceInput,
    ShippingAddress,
)

device_app = typer.Typer(
    help="Device trials: shipments, returns, extensions (rules D1-D9).", no_args_is_help=True
)
ShipmentArg = Annotated[str, typer.Argument(help="The shipment id (shp_…)")]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def print_shipment(s: ShipmentView) -> None:
    flag = " [bold red]OVERDUE[/]" if s.overdue else ""
    console.print(
        f"Shipment [bold]{s.id}[/] · demo order [bold]{s.demo_order}[/] · {s.device_type} · "
        f"{s.status}{flag}",
        highlight=False,
    )
    lines = ", ".join(f"{line.quantity} x {line.name}" for line in s.lines)
    console.print(
        f"  trial {s.trial_id} · organization {s.org_id} · ordered: {lines} to the "
        f"{s.recipient} in {s.address.get('country')}",
        highlight=False,
    )
    if s.contact_trials_team_reason:
        console.print(f"  [yellow]{s.contact_trials_team_reason}[/]")
    if s.shipped_at:
        console.print(f"  shipped {_when(s.shipped_at)} by {s.carrier}, tracking {s.tracking}")
        serials = ", ".join(d.serial_number for d in s.devices)
        console.print(f"  serial numbers: {serials}")
        console.print(
            f"  device due date {_when(s.device_due_at)}; due back by {_when(s.return_due_at)} "
            f"with {s.return_carrier}"
        )
    if s.returned_at:
        console.print(f"  returned {_when(s.returned_at)}")


def print_request(r: DeviceExtensionView) -> None:
    console.print(
        f"Device extension request [bold]{r.id}[/] for trial {r.trial_id}: to "
        f"{_when(r.requested_end)} · {r.decision}",
        highlight=False,
    )


@device_app.command("order")
def order(
    trial_id: Annotated[str, typer.Argument(help="The trial id (trl_…)")],
    as_: AsOpt,
    device: Annotated[
        list[str], typer.Option(help="MODEL or MODEL:QUANTITY (repeatable), e.g. room-bar:2")
    ],
    name: Annotated[str, typer.Option(help="Recipient's name")],
    phone: Annotated[str, typer.Option(help="Recipient's phone")],
    email: Annotated[str, typer.Option(help="Recipient's email (gets return reminders)")],
    street: Annotated[str, typer.Option()],
    city: Annotated[str, typer.Option()],
    postal_code: Annotated[str, typer.Option("--postal-code")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code")],
    to_partner: Annotated[
        bool, typer.Option("--to-partner", help="Ship to the partner, not the customer")
    ] = False,
    poe: Annotated[
        bool | None,
        typer.Option("--poe/--no-poe", help="Phones: does the customer support PoE? (D3)"),
    ] = None,
    deal_id: Annotated[str | None, typer.Option("--deal-id", help="US shipments")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Order the devices of a trial: one shipment per device type (rules D1-D3)."""
    with checked_input():
        lines = []
        for value in device:
            model, _, quantity = value.partition(":")
            count = int(quantity) if quantity.isdigit() else 0 if quantity else 1
            lines.append(DeviceOrderLine(model=model, quantity=count))
        cmd = OrderShipment(
            recipient="partner" if to_partner else "customer",
            address=ShippingAddress(
                name=name,
                phone=phone,
                email=email,
                street=street,
                city=city,
                postal_code=postal_code,
                country=country,
            ),
            devices=lines,
            poe_supported=poe,
            deal_id=deal_id,
        )
    with open_context(database_url) as ctx:
        print_shipment(devices.order_shipment(ctx, acting(ctx, as_), trial_id, cmd))


@device_app.command("ship")
def ship(
    shipment_id: ShipmentArg,
    as_: AsOpt,
    carrier: Annotated[str, typer.Option()],
    tracking: Annotated[str, typer.Option()],
    serial: Annotated[list[str], typer.Option(help="MODEL=SERIAL for each device (repeatable)")],
    device_due: Annotated[
        datetime | None,
        typer.Option("--device-due", help="Device due date of the EULA (default: trial end)"),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Trials team: ship an order with each device's serial number (rules D4, D7)."""
    pairs = []
    with checked_input():
        for value in serial:
            model, sep, number = value.partition("=")
            if not sep:
                err.print(f"[bold red]error[/]: --serial {value!r}: write MODEL=SERIAL")
                raise typer.Exit(code=2)
            pairs.append(ShippedDeviceInput(model=model, serial_number=number))
        due = device_due.replace(tzinfo=UTC) if device_due and not device_due.tzinfo else device_due
        cmd = DispatchShipment(carrier=carrier, tracking=tracking, devices=pairs, device_due_at=due)
    with open_context(database_url) as ctx:
        print_shipment(devices.dispatch_shipment(ctx, acting(ctx, as_), shipment_id, cmd))


@device_app.command("return")
def record_return(
    shipment_id: ShipmentArg,
    as_: AsOpt,
    serial: Annotated[list[str], typer.Option(help="A returned serial number (repeatable)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Trials team: take the devices back; the serial numbers must match (rule D8)."""
    with checked_input():
        cmd = RecordReturn(serial_numbers=serial)
    with open_context(database_url) as ctx:
        print_shipment(devices.record_return(ctx, acting(ctx, as_), shipment_id, cmd))


@device_app.command("label")
def label(shipment_id: ShipmentArg, as_: AsOpt, database_url: DatabaseOpt = None) -> None:
    """Re-request a lost UPS return label (United States only, rule D8)."""
    with open_context(database_url) as ctx:
        print_shipment(devices.request_return_label(ctx, acting(ctx, as_), shipment_id))


@device_app.command("show")
def show(shipment_id: ShipmentArg, as_: AsOpt, database_url: DatabaseOpt = None) -> None:
    """One shipment: devices, serial numbers, due dates, return carrier."""
    with open_context(database_url) as ctx:
        print_shipment(devices.get_shipment(ctx, acting(ctx, as_), shipment_id))


@device_app.command("list")
def list_shipments(
    trial_id: Annotated[str, typer.Argument(help="The trial id (trl_…)")],
    as_: AsOpt,
    database_url: DatabaseOpt = None,
) -> None:
    """A trial's shipments."""
    with open_context(database_url) as ctx:
        found = devices.list_shipments(ctx, acting(ctx, as_), trial_id)
    _table(found, f"Shipments of {trial_id}")


@device_app.command("find")
def find(
    as_: AsOpt,
    org: Annotated[str, typer.Option("--org", help="The organization id (org_…)")],
    admin_email: Annotated[str | None, typer.Option("--admin-email")] = None,
    serial: Annotated[str | None, typer.Option("--serial")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Look up demo orders by organization plus admin email or serial number (rule D9)."""
    with open_context(database_url) as ctx:
        found = devices.find_demo_orders(
            ctx, acting(ctx, as_), org_id=org, admin_email=admin_email, serial=serial
        )
    _table(found, "Demo orders")


def _table(found: list[ShipmentView], title: str) -> None:
    table = Table(title=title)
    for column in ("Demo order", "Shipment", "Type", "Status", "Due back", "Serial numbers"):
        table.add_column(column)
    for s in found:
        status = f"{s.status} (overdue)" if s.overdue else s.status
        serials = ", ".join(d.serial_number for d in s.devices)
        table.add_row(s.demo_order, s.id, s.device_type, status, _when(s.return_due_at), serials)
    console.print(table)


@device_app.command("extend")
def extend(
    trial_id: Annotated[str, typer.Argument(help="The trial id (trl_…)")],
    as_: AsOpt,
    until: Annotated[datetime, typer.Option("--until", help="The new end (UTC)")],
    reason: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Ask the trials team for more device time, within the policy's longest device trial
    (counted from its start; rules D5, D6)."""
    end = until if until.tzinfo else until.replace(tzinfo=UTC)
    with checked_input():
        cmd = RequestDeviceExtension(requested_end=end, reason=reason)
    with open_context(database_url) as ctx:
        print_request(devices.request_extension(ctx, acting(ctx, as_), trial_id, cmd))


@device_app.command("requests")
def requests(
    as_: AsOpt,
    decision: Annotated[str | None, typer.Option(help="pending, approved or denied")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Device extension requests: the trials team's queue, or your own."""
    with open_context(database_url) as ctx:
        actor = acting(ctx, as_)
        found = every_page(
            lambda cursor: devices.list_extension_requests(
                ctx, actor, decision=decision, cursor=cursor
            )
        )
    table = Table(title="Device extension requests")
    for column in ("Request", "Trial", "Asked until", "Reason", "Decision"):
        table.add_column(column)
    for r in found:
        table.add_row(r.id, r.trial_id, _when(r.requested_end), r.reason or "", r.decision)
    console.print(table)


@device_app.command("decide")
def decide_request(
    request_id: Annotated[str, typer.Argument(help="The request id (dxr_…)")],
    as_: AsOpt,
    approve: Annotated[bool, typer.Option("--approve/--deny")],
    note: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Trials team: approve or deny a device extension request (rules D5, D6)."""
    with checked_input():
        cmd = DecideDeviceExtension(approve=approve, note=note)
    with open_context(database_url) as ctx:
        print_request(devices.decide_extension_request(ctx, acting(ctx, as_), request_id, cmd))
