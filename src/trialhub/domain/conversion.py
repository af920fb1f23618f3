"""Converting a trial to a paid order (rules V1-V5), as pure domain.

Who may convert, what the order must name and what it loses are decided here, and the order
moves through its state table (requested, then completed or declined); the use cases are in
`trialhub.services.conversion`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from trialhub.catalog import Catalog
from trialhub.domain.errors import (
    Conflict,
    ErrorCollector,
    Forbidden,
    TrialhubError,
    ValidationFailed,
)
from trialhub.domain.events import EventSource
from trialhub.domain.ids import new_id
from trialhub.domain.organization import Organization
from trialhub.domain.policy import Policy
from trialhub.domain.rules import collect_email
from trialhub.domain.statemachine import StateMachine
from trialhub.domain.states import TrialStatus, require_running
from trialhub.domain.trial import Trial


class ConversionPath(StrEnum):
    DIRECT = "direct"  # a tier-1 partner converts itself
    DISTRIBUTOR_REQUEST = "distributor_request"  # a tier-2 partner files a request


class OrderStatus(StrEnum):
    REQUESTED = "requested"  # a tier-2 partner's request, waiting for its distributor
    COMPLETED = "completed"  # the trial is converted (rule V5)
    DECLINED = "declined"  # the distributor declined the request


def _already_processed(current: OrderStatus, to: OrderStatus) -> TrialhubError:
    return Conflict(f"This request was already {current.value}.", rule="V1")


Os = OrderStatus
ORDER_STATES: StateMachine[OrderStatus] = StateMachine(
    OrderStatus,
    {
        # rule V1: converted at once (tier 1) or by the distributor, or declined by it
        Os.REQUESTED: frozenset({Os.COMPLETED, Os.DECLINED}),
        Os.COMPLETED: frozenset(),
        Os.DECLINED: frozenset(),
    },
    stamps={Os.COMPLETED: "processed_at", Os.DECLINED: "processed_at"},
    refusal=_already_processed,
)


class OrderLine(Protocol):
    """A service the order buys, as the caller gives it; no quantity means the trial's."""

    @property
    def code(self) -> str: ...

    @property
    def quantity(self) -> int | None: ...


@dataclass(frozen=True)
class Contacts:
    """Rule V2: who may be the provisioning contact, read by the caller from the store."""

    partner_admin_emails: set[str]
    customer_admin_emails: set[str]


@dataclass(eq=False)
class ConversionOrder(EventSource):
    """The paid order a trial becomes (rules V1-V5)."""

    SUBJECT_TYPE: ClassVar[str] = "order"

    id: str
    trial_id: str
    services: list[dict[str, object]]  # [{"service": code, "quantity": n}]
    provisioning_email: str
    path: str
    created_at: datetime
    partner_id: str = ""
    org_id: str = ""
    status: str = OrderStatus.COMPLETED.value
    created_by_admin_id: str | None = None
    distributor_id: str | None = None
    new_organization_confirmed: bool = False
    lost_services: list[str] = field(default_factory=list)
    processed_at: datetime | None = None  # by the distributor, for tier 2
    processed_by_admin_id: str | None = None
    note: str | None = None

    @classmethod
    def file(
        cls,
        trial: Trial,
        catalog: Catalog,
        *,
        lines: Sequence[OrderLine],
        provisioning_email: str,
        contacts: Contacts,
        confirm_new_organization: bool,
        confirm_lost_services: bool,
        path: ConversionPath,
        one_waiting: bool,
        by_distributor: bool,
        distributor_id: str | None,
        by: str | None,
        at: datetime,
    ) -> ConversionOrder:
        """Rules V2-V4 on the order, and V1: one request waits at a time (`one_waiting`).
        The order is requested; a direct one is completed at once by the caller."""
        trial.require_convertible()
        errors = ErrorCollector()
        services = order_lines(trial, catalog, lines, errors)
        email = collect_email(provisioning_email, errors, "provisioning_email", "V2")
        errors.raise_if_any()
        new_org = check_provisioning_email(
            email,
            partner_admin_emails=contacts.partner_admin_emails,
            customer_admin_emails=contacts.customer_admin_emails,
            confirm_new_organization=confirm_new_organization,
        )
        lost = lost_services(trial.open_service_codes(), [str(s["service"]) for s in services])
        check_losses_confirmed(lost, confirmed=confirm_lost_services)
        if one_waiting:
            raise Conflict(
                "A conversion request for this trial already waits for the distributor"
                + (": process it instead." if by_distributor else "."),
                rule="V1",
            )
        return cls._requested(trial, services, email, path, new_org, lost, distributor_id, by, at)

    @classmethod
    def _requested(
        cls,
        trial: Trial,
        services: list[dict[str, object]],
        email: str,
        path: ConversionPath,
        new_org: bool,
        lost: list[str],
        distributor_id: str | None,
        by: str | None,
        at: datetime,
    ) -> ConversionOrder:
        order = cls(
            id=new_id("ord"),
            **trial.owners(),
            status=OrderStatus.REQUESTED.value,
            path=path.value,
            services=services,
            provisioning_email=email,
            created_at=at,
            created_by_admin_id=by,
            distributor_id=distributor_id,
            new_organization_confirmed=new_org,
            lost_services=lost,
        )
        order.record_event(
            "order.created",
            at,
            path=order.path,
            services=services,
            lost_services=lost,
            provisioning_email=email,
            new_organization=new_org,
        )
        return order

    @property
    def service_codes(self) -> list[str]:
        return [str(line["service"]) for line in self.services]

    @property
    def quantities(self) -> dict[str, int]:
        """Each ordered service and how many licenses, in the order's order."""
        return {str(line["service"]): int(str(line["quantity"])) for line in self.services}

    def complete(
        self,
        trial: Trial,
        org: Organization,
        policy: Policy,
        catalog: Catalog,
        *,
        by: str | None,
        at: datetime,
        note: str | None = None,
    ) -> None:
        """Rules V1, V5: converted at once, or by the distributor (with its `note`). The rules
        are checked again, as the trial may have lapsed (rule V4) or its services changed
        (rule V3) since the request was filed. The ordered services become purchased
        services of the organization, managed by the partner; the trial ends as converted,
        and the services the order left out are released like a deletion's."""
        ORDER_STATES.check(self, OrderStatus.COMPLETED)
        self.note = note
        trial.require_convertible()
        open_codes = trial.open_service_codes()
        gone = [code for code in self.service_codes if code not in open_codes]
        if gone or lost_services(open_codes, self.service_codes) != self.lost_services:
            raise Conflict(
                "The trial's services changed since the request was filed; the partner must "
                "file it again.",
                rule="V3",
            )
        purchased = org.purchased_services()
        for code, quantity in self.quantities.items():
            if code in purchased:  # pragma: no cover - rule S3 keeps purchased services out
                raise Conflict(f"The organization already bought {code}.", rule="S3")
            org.add_subscription(code, quantity, at, partner_id=trial.partner_id)
        trial.convert(at, policy, catalog, lost=self.lost_services)
        self.processed_by_admin_id = by
        ORDER_STATES.move(
            self,
            OrderStatus.COMPLETED,
            at,
            services=self.services,
            lost_services=self.lost_services,
        )

    def decline(self, *, by: str | None, note: str | None, at: datetime) -> None:
        """Rule V1: the distributor declines a tier-2 partner's request; the trial runs on."""
        ORDER_STATES.check(self, OrderStatus.DECLINED)
        self.note = note
        self.processed_by_admin_id = by
        ORDER_STATES.move(self, OrderStatus.DECLINED, at, action="order.declined", note=note)


def order_lines(
    trial: Trial, catalog: Catalog, lines: Sequence[OrderLine], errors: ErrorCollector
) -> list[dict[str, object]]:
    """Rules V5, S1: each of the trial's services once, with a quantity the service allows
    (by default what the trial has). The problems go to `errors`."""
    held = {s.service: s for s in trial.open_services()}
    out: list[dict[str, object]] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.code in seen:
            errors.add(f"services[{i}].code", f"{line.code!r} is ordered twice.", "V3")
            continue
        seen.add(line.code)
        held_service = held.get(line.code)
        definition = catalog.services.get(line.code)
        if held_service is None or definition is None:
            errors.add(
                f"services[{i}].code",
                f"{line.code!r} is not a service of this trial; only trial services convert.",
                "V5",
            )
            continue
        default = (
            trial.user_licenses if definition.license_kind == "user" else held_service.quantity
        )
        quantity = line.quantity if line.quantity is not None else default
        if not definition.min_quantity <= quantity <= definition.max_quantity:
            errors.add(
                f"services[{i}].quantity",
                f"{definition.name}: {definition.min_quantity} to {definition.max_quantity} "
                "licenses.",
                "S1",
            )
        out.append({"service": line.code, "quantity": quantity})
    return out


def conversion_path(tier: int, *, is_distributor: bool = False) -> ConversionPath:
    """Rule V1: tier 1 converts itself; tier 2 goes through its distributor."""
    if is_distributor:
        return ConversionPath.DIRECT
    if tier == 1:
        return ConversionPath.DIRECT
    if tier == 2:
        return ConversionPath.DISTRIBUTOR_REQUEST
    raise Forbidden("Unknown partner tier.", rule="V1")


def check_convertible(status: TrialStatus) -> None:
    """Rule V4: while active or in grace; never after a lapse (rule T7) or cancellation."""
    require_running(status, "converted", "V4")


def check_provisioning_email(
    email: str,
    *,
    partner_admin_emails: set[str],
    customer_admin_emails: set[str],
    confirm_new_organization: bool,
) -> bool:
    """Rule V2: a partner or customer administrator; anything else would create a new
    organization, refused unless confirmed. Returns whether a new organization is intended."""
    if email in partner_admin_emails or email in customer_admin_emails:
        return False
    if not confirm_new_organization:
        raise ValidationFailed(
            "This email is neither a partner administrator nor a customer administrator: the "
            "order would create a new organization. Correct it, or confirm that a new "
            "organization is intended.",
            field="provisioning_email",
            rule="V2",
        )
    return True


def lost_services(trial_services: Collection[str], ordered: Collection[str]) -> list[str]:
    """Rule V3: the trial's services the order leaves out, which will be lost."""
    return sorted(set(trial_services) - set(ordered))


def check_losses_confirmed(lost: list[str], *, confirmed: bool) -> None:
    """Rule V3: losing services needs explicit confirmation."""
    if lost and not confirmed:
        raise ValidationFailed(
            f"These services will be lost: {', '.join(lost)}. Add them to the order or confirm.",
            field="confirm_lost_services",
            rule="V3",
        )
