"""Converting a trial to a paid order (rules V1-V5), as pure domain.

Who may convert, what the order must name and what it loses are decided here; the use cases
are in `trialhub.services.conversion`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from trialhub.domain.errors import Forbidden, InvalidTransition, IrreversibleLapse, ValidationFailed
from trialhub.domain.events import EventSource
from trialhub.domain.states import TrialStatus


class ConversionPath(StrEnum):
    DIRECT = "direct"  # a tier-1 partner converts itself
    DISTRIBUTOR_REQUEST = "distributor_request"  # a tier-2 partner files a request


class OrderStatus(StrEnum):
    REQUESTED = "requested"  # a tier-2 partner's request, waiting for its distributor
    COMPLETED = "completed"  # the trial is converted (rule V5)
    DECLINED = "declined"  # the distributor declined the request


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

    @property
    def service_codes(self) -> list[str]:
        return [str(line["service"]) for line in self.services]


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
    """Rule V4: while active or in grace; never after a lapse or cancellation."""
    if status is TrialStatus.LAPSED:
        raise IrreversibleLapse(
            "The trial lapsed after its grace period; it can no longer be converted.", rule="T7"
        )
    if status not in (TrialStatus.ACTIVE, TrialStatus.EXPIRED):
        raise InvalidTransition(
            f"Only an active trial or one in its grace period can be converted; this one is "
            f"{status.label.lower()}.",
            rule="V4",
        )


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


def lost_services(trial_services: list[str], ordered: list[str]) -> list[str]:
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
