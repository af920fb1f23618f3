"""Device shipments: ordered by the partner, shipped by the trials team with serial numbers,
returned when the serial numbers match (rules D1-D4, D7-D9), each move through the
shipment's state table.

A use case loads the shipment (or the trial), reads what needs the store (the serial numbers
still out, the shipments of the trial, a free demo order number), calls one method here and
queues the messages.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from trialhub.catalog import Catalog
from trialhub.domain.device_rules import (
    SHIPPABLE_STATUSES,
    DeviceOrder,
    DeviceSerial,
    Recipient,
    check_devices,
    check_order,
    device_due_date,
    normalize_serial,
    return_carrier,
)
from trialhub.domain.errors import (
    Conflict,
    ErrorCollector,
    InvalidTransition,
    TrialhubError,
    ValidationFailed,
)
from trialhub.domain.events import EventSource
from trialhub.domain.ids import new_id
from trialhub.domain.policy import Policy
from trialhub.domain.statemachine import StateMachine
from trialhub.domain.trial import Trial


class ShipmentStatus(StrEnum):
    """A shipment is ordered by the partner, shipped by the trials team, then returned."""

    ORDERED = "ordered"
    SHIPPED = "shipped"
    RETURNED = "returned"


def _refuse(current: ShipmentStatus, to: ShipmentStatus) -> TrialhubError:
    """Rule D4: a shipment ships once; rule D8: only shipped devices come back, once."""
    if to is ShipmentStatus.SHIPPED:
        return Conflict(f"This shipment is already {current.value}.", rule="D4")
    if current is ShipmentStatus.RETURNED:
        return Conflict("These devices were already returned.", rule="D8")
    return Conflict("This shipment has not been shipped yet.", rule="D8")


Sh = ShipmentStatus
SHIPMENT_STATES: StateMachine[ShipmentStatus] = StateMachine(
    ShipmentStatus,
    {
        Sh.ORDERED: frozenset({Sh.SHIPPED}),  # rule D4: the trials team ships it
        Sh.SHIPPED: frozenset({Sh.RETURNED}),  # rule D8: the serial numbers match
        Sh.RETURNED: frozenset(),
    },
    stamps={Sh.SHIPPED: "shipped_at", Sh.RETURNED: "returned_at"},
    refusal=_refuse,
)


class PartOfTrial(EventSource):
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


@dataclass(frozen=True)
class ReturnCheck:
    accepted: bool
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]


@dataclass(eq=False)
class DeviceShipment(PartOfTrial):
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
    # rule D7: the policy's return days after the EULA due date
    return_due_at: datetime | None = None
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

    @classmethod
    def new(
        cls,
        trial: Trial,
        order: DeviceOrder,
        catalog: Catalog,
        policy: Policy,
        *,
        shipments: Sequence[DeviceShipment],
        partner_device_trials: int,
        demo_order: str,
        by: str | None,
        at: datetime,
    ) -> DeviceShipment:
        """The device step of a running trial (rules D1-D3, D9); `shipments` are the trial's:
        a second type for a trial with devices out is no new device trial (rule D1)."""
        mine = any(s.status != ShipmentStatus.RETURNED for s in shipments)
        device_type, country, email = check_order(
            order,
            trial,
            catalog,
            policy,
            shipped_types={s.device_type for s in shipments},
            device_trials_out=partner_device_trials - (1 if mine else 0),
        )
        shipment = cls(
            id=new_id("shp"),
            **trial.owners(),
            device_type=device_type,
            demo_order=demo_order,
            recipient=Recipient(order.recipient).value,
            address={**order.address, "country": country, "email": email},
            lines=[{"model": line.model, "quantity": line.quantity} for line in order.lines],
            ordered_at=at,
            ordered_by_admin_id=by,
            poe_supported=order.poe_supported,
            # rule D3: phones without PoE support need the trials team
            contact_trials_team=device_type == "phone" and order.poe_supported is False,
            deal_id=order.deal_id,
        )
        shipment.record_event(
            "shipment.ordered",
            at,
            demo_order=demo_order,
            device_type=device_type,
            lines=shipment.lines,
            recipient=shipment.recipient,
            country=country,
            contact_trials_team=shipment.contact_trials_team,
        )
        return shipment

    # ---- reading ----------------------------------------------------------------------

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

    # ---- shipping ---------------------------------------------------------------------

    def dispatch(
        self,
        trial: Trial,
        catalog: Catalog,
        policy: Policy,
        *,
        devices: Sequence[DeviceSerial],
        carrier: str,
        tracking: str,
        device_due_at: datetime | None,
        serials_out: Collection[str],
        at: datetime,
    ) -> None:
        """The trials team ships the order (rule D4): carrier, tracking and one serial number
        for each ordered device, none of them in a shipment still out. The device due date
        defaults to the trial's end, never past the device maximum (rule D5)."""
        SHIPMENT_STATES.check(self, ShipmentStatus.SHIPPED)
        if trial.status_enum not in SHIPPABLE_STATUSES:
            raise InvalidTransition(
                f"The trial is {trial.status_enum.label.lower()}: its devices are not shipped.",
                rule="D1",
            )
        errors = ErrorCollector()
        check_devices(self.lines, devices, serials_out, errors)
        due = device_due_date(trial, device_due_at, policy, at, errors)
        errors.raise_if_any()
        assert due is not None  # no error, so a date
        models = catalog.device_models
        self.ship(
            at=at,
            eula_due_at=due,
            devices=[
                ShippedDevice(
                    model=d.model,
                    device_type=models[d.model].type,
                    serial_number=normalize_serial(d.serial_number),
                    id=new_id("dev"),
                    shipment_id=self.id,
                )
                for d in devices
            ],
            carrier=carrier,
            tracking=tracking,
            return_carrier=return_carrier(self.country, catalog.region_of(self.country).code),
            policy=policy,
        )

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
        """Rule D4: shipped with carrier, tracking and serial numbers; the return date follows
        the EULA due date, not the trial's end date (rule D7), with the carrier of the
        region (rule D8)."""
        SHIPMENT_STATES.check(self, ShipmentStatus.SHIPPED)
        self.eula_due_at = eula_due_at
        self.return_due_at = eula_due_at + timedelta(days=policy.device_return_days)
        self.devices = devices
        self.carrier = carrier
        self.tracking = tracking
        self.return_carrier = return_carrier
        SHIPMENT_STATES.move(
            self,
            ShipmentStatus.SHIPPED,
            at,
            demo_order=self.demo_order,
            carrier=carrier,
            tracking=tracking,
            serial_numbers=sorted(d.serial_number for d in devices),
            device_due_at=eula_due_at,
            return_due_at=self.return_due_at,
            return_carrier=return_carrier,
        )

    def move_due_date(self, device_due_at: datetime, policy: Policy, now: datetime) -> None:
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

    # ---- returning --------------------------------------------------------------------

    def remind_return(self, at: datetime) -> None:
        """Rule D7: a reminder went out before the return date."""
        self.record_event("shipment.return_reminder", at, return_due_at=self.return_due_at)

    def flag_overdue(self, at: datetime) -> bool:
        """Rule D7: the return date passed with the devices still out; flagged once. Returns
        whether it was flagged now."""
        if not self.awaiting_return() or self.return_due_at != at or self.overdue_at is not None:
            return False
        self.overdue_at = at
        self.record_event("shipment.overdue", at, return_due_at=at)
        return True

    def request_label(self, at: datetime) -> None:
        """Rule D8: a lost UPS return label can be re-requested, in the United States only."""
        if not self.awaiting_return():
            raise Conflict("Only devices that are out can get a return label.", rule="D8")
        if self.country != "US":
            raise ValidationFailed(
                "Replacement return labels exist in the United States only; elsewhere the "
                f"customer contacts {self.return_carrier}.",
                field="shipment",
                rule="D8",
            )
        self.labels_requested += 1
        self.record_event("shipment.label_requested", at, count=self.labels_requested)

    def take_return(self, returned_serials: Collection[str], at: datetime) -> None:
        """Rule D8: the return is accepted only when the serial numbers match the shipped
        ones; a mismatch is refused with every missing and unexpected number listed, and
        changes nothing."""
        SHIPMENT_STATES.check(self, ShipmentStatus.RETURNED)
        check = check_return(self, returned_serials)
        errors = ErrorCollector()
        for serial in check.missing:
            errors.add("serial_numbers", f"{serial} was shipped but is not returned.", "D8")
        for serial in check.unexpected:
            errors.add("serial_numbers", f"{serial} was not in this shipment.", "D8")
        errors.raise_if_any()
        SHIPMENT_STATES.move(
            self,
            ShipmentStatus.RETURNED,
            at,
            demo_order=self.demo_order,
            serial_numbers=sorted(d.serial_number for d in self.devices),
            late=self.overdue_at is not None,
        )


def check_return(shipment: DeviceShipment, returned_serials: Collection[str]) -> ReturnCheck:
    """Rule D8: a return is accepted only when the serial numbers match; mismatches listed."""
    shipped = {normalize_serial(d.serial_number) for d in shipment.devices}
    got = {normalize_serial(s) for s in returned_serials}
    missing = tuple(sorted(shipped - got))
    unexpected = tuple(sorted(got - shipped))
    return ReturnCheck(not missing and not unexpected, missing, unexpected)
