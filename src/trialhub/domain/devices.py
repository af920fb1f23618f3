"""Device trials: shipments, extensions and returns (rules D1-D9), as pure domain.

The use cases and tables arrive with the devices issue; the rules are decided here so that
every interface will share them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from trialhub.catalog import Catalog
from trialhub.domain.errors import Conflict, ErrorCollector, ValidationFailed
from trialhub.domain.policy import Policy

DEMO_ORDER = re.compile(r"^D\d{6,12}$")  # rule D9: "D" and digits


class Recipient(StrEnum):
    CUSTOMER = "customer"
    PARTNER = "partner"


class ExtensionDecision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    street: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class DeviceLine:
    model: str
    quantity: int


@dataclass(eq=False)
class ShippedDevice:
    model: str
    device_type: str
    serial_number: str


@dataclass(eq=False)
class DeviceShipment:
    """One shipment of one device type for one trial (rules D2, D4, D9)."""

    id: str
    trial_id: str
    device_type: str
    demo_order: str
    recipient: str
    address: Address
    shipped_at: datetime
    eula_due_at: datetime  # the device due date of the EULA, not the trial's end date (D7)
    devices: list[ShippedDevice] = field(default_factory=list)
    carrier: str | None = None
    tracking: str | None = None
    poe_supported: bool | None = None
    contact_trials_team: bool = False  # rule D3: phones without PoE support
    deal_id: str | None = None  # US shipments
    returned_at: datetime | None = None

    @property
    def return_due_at(self) -> datetime:
        """Rule D7: devices are due back 14 days after the EULA due date."""
        return self.eula_due_at + timedelta(days=14)

    def overdue(self, now: datetime) -> bool:
        return self.returned_at is None and now > self.return_due_at


@dataclass(eq=False)
class DeviceExtensionRequest:
    """A partner asks the trials team for more device time (rule D6)."""

    id: str
    trial_id: str
    requested_end: datetime
    requested_at: datetime
    reason: str | None = None
    decision: str = ExtensionDecision.PENDING.value
    decided_at: datetime | None = None


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


@dataclass(frozen=True)
class ReturnCheck:
    accepted: bool
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]


def check_return(shipment: DeviceShipment, returned_serials: list[str]) -> ReturnCheck:
    """Rule D8: a return is accepted only when the serial numbers match; mismatches listed."""
    shipped = {d.serial_number.strip().upper() for d in shipment.devices}
    got = {s.strip().upper() for s in returned_serials}
    missing = tuple(sorted(shipped - got))
    unexpected = tuple(sorted(got - shipped))
    return ReturnCheck(
        accepted=not missing and not unexpected, missing=missing, unexpected=unexpected
    )


def is_demo_order(number: str) -> bool:
    """Rule D9."""
    return bool(DEMO_ORDER.match(number))
