"""The device rules a shipment checks: the order (D1-D3), the serial numbers it ships with
(D4), the device due date (D5, D7), the return carrier (D8) and the demo order number (D9).

Pure functions over values; `DeviceShipment` (domain/shipments.py) calls them and decides.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from trialhub.catalog import Catalog
from trialhub.domain.errors import Conflict, ErrorCollector, InvalidTransition, ValidationFailed
from trialhub.domain.policy import Policy
from trialhub.domain.rules import collect_email
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial

DEMO_ORDER = re.compile(r"^D\d{6,12}$")  # rule D9: "D" and digits

# rule D1: a device shipment can be ordered and shipped while the trial runs
SHIPPABLE_STATUSES = frozenset({TrialStatus.AWAITING_PROVISIONING, TrialStatus.ACTIVE})


class Recipient(StrEnum):
    CUSTOMER = "customer"
    PARTNER = "partner"


class DeviceSerial(Protocol):
    """One shipped device as the trials team gives it: a model and its serial number."""

    @property
    def model(self) -> str: ...

    @property
    def serial_number(self) -> str: ...


@dataclass(frozen=True)
class DeviceLine:
    """One line of an order: a device model and how many (rule D1)."""

    model: str
    quantity: int


@dataclass(frozen=True)
class DeviceOrder:
    """What a partner orders (rules D1-D3): the lines, who gets them and where, the deal id
    of a US shipment and whether the customer powers phones over Ethernet."""

    lines: tuple[DeviceLine, ...]
    recipient: str
    address: dict[str, str]
    deal_id: str | None = None
    poe_supported: bool | None = None


def normalize_serial(serial: str) -> str:
    return serial.strip().upper()


def is_demo_order(number: str) -> bool:
    """Rule D9."""
    return bool(DEMO_ORDER.match(number))


def require_device_step(trial: Trial, catalog: Catalog) -> None:
    """Rule D1: devices ship for a running trial with Calling or a device service."""
    if trial.status_enum not in SHIPPABLE_STATUSES:
        raise InvalidTransition(
            f"Devices ship for a running trial only; this one is "
            f"{trial.status_enum.label.lower()}.",
            rule="D1",
        )
    if not catalog.offers_devices(trial.open_service_codes()):
        raise ValidationFailed(
            "The device step is offered only when Webex Calling or a device service is in "
            "the trial.",
            field="devices",
            rule="D1",
        )


def check_address(
    catalog: Catalog, address: dict[str, str], deal_id: str | None, errors: ErrorCollector
) -> tuple[str, str]:
    """Rule D1: a country of the catalog, a valid email, a deal id in the United States.
    Returns the country code and the normalized email; the problems go to `errors`."""
    given = address.get("country", "")
    country = given.strip().upper()
    if country not in catalog.countries:
        errors.add("address.country", f"{given!r} is not an ISO country code.", "D1")
    email = collect_email(address.get("email", ""), errors, "address.email", "D1")
    if country == "US" and not deal_id:
        errors.add("deal_id", "Shipments to the United States need the deal id.", "D1")
    return country, email


def check_order(
    order: DeviceOrder,
    trial: Trial,
    catalog: Catalog,
    policy: Policy,
    *,
    shipped_types: set[str],
    device_trials_out: int,
) -> tuple[str, str, str]:
    """Rules D1-D3 for the order of a running trial: its device type, country code and
    normalized email. Raises with every problem, the address's included; `shipped_types`
    are the trial's shipments', `device_trials_out` the partner's other device trials."""
    errors = ErrorCollector()
    country, email = check_address(catalog, order.address, order.deal_id, errors)
    require_device_step(trial, catalog)
    device_type = ""
    try:
        device_type = validate_order(
            catalog,
            policy,
            lines=list(order.lines),
            country=country,
            already_shipped_types=shipped_types,
            active_device_trials_of_partner=device_trials_out,
            poe_supported=order.poe_supported,
        )
    except ValidationFailed as failed:  # every problem at once, the address's included
        for e in failed.errors:
            errors.add(e.field or "devices", e.message, e.rule)
    errors.raise_if_any()
    return device_type, country, email


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
    types, counts = _count_types(catalog, lines, country, errors)
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


def _count_types(
    catalog: Catalog, lines: list[DeviceLine], country: str, errors: ErrorCollector
) -> tuple[set[str], Counter[str]]:
    """Rule D1: known models that ship to the country; their types and devices per type."""
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
    return types, counts


def check_devices(
    lines: Sequence[dict[str, object]],
    devices: Sequence[DeviceSerial],
    serials_out: Collection[str],
    errors: ErrorCollector,
) -> None:
    """Rule D4: one serial number for each ordered device, each once, none of them in a
    shipment still out (`serials_out`, read by the caller)."""
    ordered = {str(line["model"]): int(str(line["quantity"])) for line in lines}
    got: Counter[str] = Counter()
    serials: list[str] = []
    for i, device in enumerate(devices):
        serial = normalize_serial(device.serial_number)
        if device.model not in ordered:
            errors.add(f"devices[{i}].model", f"{device.model!r} was not ordered.", "D4")
        if serial in serials:
            errors.add(f"devices[{i}].serial_number", f"{serial} is listed twice.", "D4")
        serials.append(serial)
        got[device.model] += 1
    for model, quantity in ordered.items():
        if got[model] != quantity:
            errors.add(
                "devices",
                f"The order holds {quantity} x {model}; give one serial number for each.",
                "D4",
            )
    for serial in serials_out:
        errors.add("devices", f"Serial number {serial} is in a shipment still out.", "D4")


def device_trial_cap(started_at: datetime, policy: Policy) -> datetime:
    """Rule D5: a device trial ends at most the policy's maximum after its start, extensions
    included."""
    return started_at + timedelta(days=policy.device_trial_max_days)


def device_due_date(
    trial: Trial, wanted: datetime | None, policy: Policy, now: datetime, errors: ErrorCollector
) -> datetime | None:
    """Rules D5, D7: the device due date of the EULA email; by default the trial's end,
    capped at the device maximum from its start. None, with the problem added, if refused."""
    start = trial.starts_at or now
    cap = device_trial_cap(start, policy)
    if wanted is None:
        end = trial.ends_at or start + timedelta(days=trial.duration_days)
        return min(end, cap)
    if wanted.tzinfo is None:
        errors.add("device_due_at", "Give the time zone (for example 2026-06-01T00:00Z).")
    elif wanted <= now:
        errors.add("device_due_at", "The device due date must be in the future.", "D7")
    elif wanted > cap:
        errors.add(
            "device_due_at",
            f"A device trial lasts at most {policy.device_trial_max_days} days from its "
            f"start ({cap:%Y-%m-%d}).",
            "D5",
        )
    else:
        return wanted
    return None


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
