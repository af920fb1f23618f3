"""Device trials: shipments, extensions and returns (rules D1-D9), as pure domain.

The rules are decided here, once, so that every interface shares them; the use cases are in
`trialhub.services.devices`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from trialhub.catalog import Catalog
from trialhub.domain.errors import Conflict, ErrorCollector, ValidationFailed
from trialhub.domain.events import EventSource
from trialhub.domain.policy import Policy

DEMO_ORDER = re.compile(r"^D\d{6,12}$")  # rule D9: "D" and digits


class Recipient(StrEnum):
    CUSTOMER = "customer"
    PARTNER = "partner"


class ShipmentStatus(StrEnum):
    """A shipment is ordered by the partner, shipped by the trials team, then returned."""

    ORDERED = "ordered"
    SHIPPED = "shipped"
    RETURNED = "returned"


class ExtensionDecision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True)
class DeviceLine:
    model: str
    quantity: int


class _PartOfTrial(EventSource):
    """An entity that belongs to one trial and records its changes in the trial's history."""

    SUBJECT_TYPE: ClassVar[str]
    id: str
    trial_id: str
    partner_id: str
    org_id: str


@dataclass(eq=False)
class ShippedDevice:
    """One device of a shipment and its serial number (rule D4)."""

    model: str
    device_type: str
    serial_number: str
    id: str = ""
    shipment_id: str = ""


@dataclass(eq=False)
class DeviceShipment(_PartOfTrial):
    """One shipment of one device type for one trial (rules D2, D4, D9).

    `address` holds name, phone, email, street, city, postal_code and country (ISO alpha-2);
    `lines` the ordered models and quantities.
    """

    SUBJECT_TYPE: ClassVar[str] = "shipment"

    id: str
    trial_id: str
    device_type: str
    demo_order: str
    recipient: str
    address: dict[str, str]
    partner_id: str = ""
    org_id: str = ""
    lines: list[dict[str, object]] = field(default_factory=list)
    status: str = ShipmentStatus.ORDERED.value
    ordered_at: datetime | None = None
    ordered_by_admin_id: str | None = None
    shipped_at: datetime | None = None
    # the device due date of the EULA email, not the trial's end date (rule D7)
    eula_due_at: datetime | None = None
    return_due_at: datetime | None = None  # rule D7: 14 days after the EULA due date
    devices: list[ShippedDevice] = field(default_factory=list)
    carrier: str | None = None
    tracking: str | None = None
    return_carrier: str | None = None  # rule D8, set when shipped
    poe_supported: bool | None = None
    contact_trials_team: bool = False  # rule D3: phones without PoE support
    deal_id: str | None = None  # US shipments (rule D1)
    returned_at: datetime | None = None
    overdue_at: datetime | None = None  # rule D7: flagged when the return date passed
    labels_requested: int = 0  # rule D8: replacement return labels (US only)
    version: int = 1

    @property
    def country(self) -> str:
        return self.address.get("country", "")

    def awaiting_return(self) -> bool:
        return self.status == ShipmentStatus.SHIPPED and self.returned_at is None

    def overdue(self, now: datetime) -> bool:
        due = self.return_due_at
        return self.awaiting_return() and due is not None and now >= due

    def reminder_instants(self, policy: Policy) -> list[datetime]:
        """Rule D7: reminders go out before the return date (policy: days before it)."""
        due = self.return_due_at
        if due is None or not self.awaiting_return():
            return []
        return sorted({due - timedelta(days=d) for d in policy.device_reminder_days_before})

    def ship(
        self,
        *,
        at: datetime,
        eula_due_at: datetime,
        devices: list[ShippedDevice],
        carrier: str,
        tracking: str,
        return_carrier: str,
        policy: Policy,
    ) -> None:
        """The trials team ships the order (rule D4); the return date follows the EULA due
        date, not the trial's end date (rule D7)."""
        if self.status != ShipmentStatus.ORDERED:
            raise Conflict(f"This shipment is already {self.status}.", rule="D4")
        self.status = ShipmentStatus.SHIPPED.value
        self.shipped_at = at
        self.eula_due_at = eula_due_at
        self.return_due_at = eula_due_at + timedelta(days=policy.device_return_days)
        self.devices = devices
        self.carrier = carrier
        self.tracking = tracking
        self.return_carrier = return_carrier

    def extend(self, device_due_at: datetime, policy: Policy, now: datetime) -> None:
        """Rule D6: an approved device extension moves the device due date, and with it the
        return date (rule D7); an overdue flag that no longer holds is lifted."""
        previous = self.eula_due_at
        self.eula_due_at = device_due_at
        self.return_due_at = device_due_at + timedelta(days=policy.device_return_days)
        if self.overdue_at is not None and self.return_due_at > now:
            self.overdue_at = None
        self.record_event(
            "shipment.due_date_moved",
            now,
            previous_device_due_at=previous,
            device_due_at=device_due_at,
            return_due_at=self.return_due_at,
        )


@dataclass(eq=False)
class DeviceExtensionRequest(_PartOfTrial):
    """A partner asks the trials team for more device time (rule D6)."""

    SUBJECT_TYPE: ClassVar[str] = "device_extension_request"

    id: str
    trial_id: str
    requested_end: datetime
    requested_at: datetime
    reason: str | None = None
    decision: str = ExtensionDecision.PENDING.value
    decided_at: datetime | None = None
    partner_id: str = ""
    org_id: str = ""
    requested_by_admin_id: str | None = None
    decided_by_admin_id: str | None = None
    note: str | None = None  # the trials team's word on its decision


def validate_order(
    catalog: Catalog,
    policy: Policy,
    *,
    lines: list[DeviceLine],
    country: str,
    already_shipped_types: set[str],
    active_device_trials_of_partner: int,
    poe_supported: bool | None,
) -> str:
    """Rules D1-D3 for one shipment; returns its device type. Raises with every problem."""
    errors = ErrorCollector()
    if not lines:
        errors.add("devices", "Choose at least one device, or skip the device step.", "D1")
        errors.raise_if_any()
    types: set[str] = set()
    counts: Counter[str] = Counter()
    for i, line in enumerate(lines):
        model = catalog.device_models.get(line.model)
        if model is None:
            errors.add(f"devices[{i}].model", f"Unknown device model {line.model!r}.", "D1")
            continue
        if not model.ships_to_country(country):
            errors.add(f"devices[{i}].model", f"{model.name} does not ship to {country}.", "D1")
        types.add(model.type)
        counts[model.type] += line.quantity
    total = sum(line.quantity for line in lines)
    low, high = policy.devices_per_order
    if not low <= total <= high:
        errors.add("devices", f"An order holds {low} to {high} devices.", "D1")
    if counts["room"] > policy.max_room_devices:
        errors.add("devices", f"At most {policy.max_room_devices} room devices.", "D1")
    if counts["phone"] > policy.max_phones:
        errors.add("devices", f"At most {policy.max_phones} phones.", "D1")
    if len(types) > 1:
        errors.add("devices", "One shipment holds one device type.", "D2")
    if "phone" in types and poe_supported is None:
        errors.add(
            "poe_supported",
            "Phones ship without power supplies: say whether the customer supports PoE.",
            "D3",
        )
    errors.raise_if_any()
    (device_type,) = types
    if device_type in already_shipped_types:
        raise Conflict(
            "This trial already had its shipment of that device type; only one is allowed.",
            field="devices",
            rule="D2",
        )
    if active_device_trials_of_partner >= policy.max_active_device_trials_per_partner:
        raise Conflict(
            f"A partner has at most {policy.max_active_device_trials_per_partner} device "
            "trials at once.",
            field="devices",
            rule="D1",
        )
    return device_type


def device_trial_cap(started_at: datetime, policy: Policy) -> datetime:
    """Rule D5: a device trial ends at most 120 days after its start, extensions included."""
    return started_at + timedelta(days=policy.device_trial_max_days)


def decide_extension(
    request: DeviceExtensionRequest,
    *,
    approve: bool,
    started_at: datetime,
    now: datetime,
    policy: Policy,
) -> None:
    """Rule D6: the trials team approves or denies; an approval past 120 days is refused."""
    if request.decision != ExtensionDecision.PENDING:
        raise Conflict("This request was already decided.", rule="D6")
    if approve and request.requested_end > device_trial_cap(started_at, policy):
        raise ValidationFailed(
            f"A device trial lasts at most {policy.device_trial_max_days} days, extensions "
            "included.",
            field="requested_end",
            rule="D5",
        )
    request.decision = (ExtensionDecision.APPROVED if approve else ExtensionDecision.DENIED).value
    request.decided_at = now


def return_carrier(country: str, region: str) -> str:
    """Rule D8: UPS in the United States (label in the box), DHL for Canada and EMEAR,
    Expeditors for Australia, else the trials team arranges it."""
    if country == "US":
        return "UPS"
    if country == "CA" or region in ("EU", "UK", "SA", "AE"):
        return "DHL"
    if country == "AU":
        return "Expeditors"
    return "trials team"


RETURN_INSTRUCTIONS = {
    "UPS": "Keep the original packaging, affix the return label that came in the box and call "
    "UPS for a pickup. A lost label can be re-requested (United States only).",
    "DHL": "Contact DHL to arrange the pickup of the devices, in their original packaging.",
    "Expeditors": "Contact Expeditors to arrange the pickup of the devices, in their original "
    "packaging.",
    "trials team": "The trials team will contact you to arrange the return of the devices.",
}


def return_instructions(carrier: str | None) -> str | None:
    """Rule D8: how the customer sends the devices back with its region's carrier."""
    return RETURN_INSTRUCTIONS.get(carrier or "")


@dataclass(frozen=True)
class ReturnCheck:
    accepted: bool
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]


def normalize_serial(serial: str) -> str:
    return serial.strip().upper()


def check_return(shipment: DeviceShipment, returned_serials: list[str]) -> ReturnCheck:
    """Rule D8: a return is accepted only when the serial numbers match; mismatches listed."""
    shipped = {normalize_serial(d.serial_number) for d in shipment.devices}
    got = {normalize_serial(s) for s in returned_serials}
    missing = tuple(sorted(shipped - got))
    unexpected = tuple(sorted(got - shipped))
    return ReturnCheck(
        accepted=not missing and not unexpected, missing=missing, unexpected=unexpected
    )


def is_demo_order(number: str) -> bool:
    """Rule D9."""
    return bool(DEMO_ORDER.match(number))
