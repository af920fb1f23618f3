"""Commands and views of device shipments, returns and device extensions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from trialhub.domain.policy import DEFAULT_POLICY
from trialhub.services.kernel.fields import Name, Rule, Text
from trialhub.services.kernel.schemas import Command, Decision, View


class ShippingAddress(Command):
    """Where the devices go, and who signs for them (rule D1)."""

    rule = "D1"
    name: Name = Field(min_length=1, max_length=100, description="The recipient's name")
    phone: Name = Field(min_length=5, max_length=30, description="The recipient's phone")
    email: str = Field(description="The recipient's email: return reminders go there too (D7)")
    street: Name = Field(min_length=1, max_length=200)
    city: Name = Field(min_length=1, max_length=100)
    postal_code: Name = Field(min_length=1, max_length=20)
    country: str = Field(description="ISO 3166-1 alpha-2; the models must ship there (D1)")


class DeviceOrderLine(Command):
    rule = "D1"
    model: str = Field(description="A device model code from the catalog (rule D1)")
    quantity: Annotated[int, Rule("D1", "devices of a model")] = Field(
        ge=DEFAULT_POLICY.devices_per_order[0],
        le=DEFAULT_POLICY.devices_per_order[1],
        description=(
            f"{DEFAULT_POLICY.devices_per_order[0]}-{DEFAULT_POLICY.devices_per_order[1]} "
            "devices per order (rule D1)"
        ),
    )


class OrderShipment(Command):
    """The device step of a trial: one shipment of one device type (rules D1-D3)."""

    rule = "D1"
    recipient: Literal["customer", "partner"] = Field(
        description="Ship to the customer or to the partner (rule D1)"
    )
    address: ShippingAddress
    devices: list[DeviceOrderLine] = Field(min_length=1, max_length=10)
    poe_supported: Annotated[bool | None, Rule("D3")] = Field(
        default=None,
        description="Phones ship without power supplies: does the customer support PoE? (D3)",
    )
    deal_id: Name | None = Field(
        default=None, max_length=60, description="Required for shipments to the US (rule D1)"
    )


class ShippedDeviceInput(Command):
    rule = "D4"
    model: str
    serial_number: Name = Field(min_length=3, max_length=60)


class DispatchShipment(Command):
    """The trials team ships an order: carrier, tracking and each serial number (rule D4)."""

    rule = "D4"
    carrier: Name = Field(min_length=2, max_length=60)
    tracking: Name = Field(min_length=3, max_length=100)
    devices: list[ShippedDeviceInput] = Field(min_length=1, max_length=10)
    device_due_at: Annotated[datetime | None, Rule("D7")] = Field(
        default=None,
        description="The device due date of the EULA email; default: the trial's end date, at "
        f"most {DEFAULT_POLICY.device_trial_max_days} days after its start (rules D5, D7)",
    )


class RecordReturn(Command):
    """The devices came back; accepted only when the serial numbers match (rule D8)."""

    rule = "D8"
    serial_numbers: list[Name] = Field(min_length=1, max_length=10)


class DeviceLineView(View):
    model: str
    name: str
    quantity: int


class ShippedDeviceView(View):
    model: str
    device_type: str
    serial_number: str


class ShipmentView(View):
    id: str
    trial_id: str
    org_id: str
    demo_order: str
    device_type: str
    status: str
    recipient: str
    address: dict[str, str]
    lines: list[DeviceLineView]
    poe_supported: bool | None
    contact_trials_team: bool
    contact_trials_team_reason: str | None
    deal_id: str | None
    ordered_at: datetime | None
    shipped_at: datetime | None
    carrier: str | None
    tracking: str | None
    devices: list[ShippedDeviceView]
    device_due_at: datetime | None
    return_due_at: datetime | None
    return_carrier: str | None
    return_instructions: str | None
    overdue: bool
    overdue_at: datetime | None
    returned_at: datetime | None
    labels_requested: int


class RequestDeviceExtension(Command):
    """Ask the trials team for more device time (rule D6)."""

    rule = "D6"
    requested_end: Annotated[datetime, Rule("D5")] = Field(
        description="The new end of the device trial, at most "
        f"{DEFAULT_POLICY.device_trial_max_days} days after its start (D5)"
    )
    reason: Text | None = Field(default=None, max_length=500)


class DecideDeviceExtension(Decision):
    """The trials team's decision on a device extension request (rule D6)."""

    rule = "D6"


class DeviceExtensionView(View):
    id: str
    trial_id: str
    org_id: str
    requested_end: datetime
    requested_at: datetime
    requested_by_admin_id: str | None
    reason: str | None
    decision: str
    decided_at: datetime | None
    decided_by_admin_id: str | None
    note: str | None
    cap: datetime | None = Field(
        default=None, description="The latest end the trials team can approve (rule D5)"
    )


class DeviceExtensionPage(View):
    items: list[DeviceExtensionView]
    next_cursor: str | None = None
