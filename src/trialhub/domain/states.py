"""The trial state machine as data: one table, one transition function (architecture 2)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from trialhub.domain.errors import InvalidTransition, IrreversibleLapse
from trialhub.domain.events import DomainEvent

if TYPE_CHECKING:
    from trialhub.domain.model import Trial


class TrialStatus(StrEnum):
    """Where a trial is in its life (rules K4, T5, T7, V5, T9)."""

    PENDING_CONSENT = "pending_consent"
    AWAITING_PROVISIONING = "awaiting_provisioning"
    ACTIVE = "active"
    EXPIRED = "expired"  # in its 30-day grace period (rule T5)
    LAPSED = "lapsed"  # grace ended unconverted; irreversible (rule T7)
    CONVERTED = "converted"  # rule V5
    CANCELLED = "cancelled"  # consent cancelled, declined or expired (rules K5, K6)
    DELETED = "deleted"  # rule T9

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


# rule K4: the words a partner sees
STATUS_LABELS: dict[TrialStatus, str] = {
    TrialStatus.PENDING_CONSENT: "Trial pending customer consent",
    TrialStatus.AWAITING_PROVISIONING: "Awaiting provisioning details",
    TrialStatus.ACTIVE: "Active",
    TrialStatus.EXPIRED: "Expired (grace period)",
    TrialStatus.LAPSED: "Lapsed",
    TrialStatus.CONVERTED: "Converted to paid",
    TrialStatus.CANCELLED: "Cancelled",
    TrialStatus.DELETED: "Deleted",
}

# rule S3: a trial in one of these holds its services open
OPEN_STATUSES: frozenset[TrialStatus] = frozenset(
    {
        TrialStatus.PENDING_CONSENT,
        TrialStatus.AWAITING_PROVISIONING,
        TrialStatus.ACTIVE,
        TrialStatus.EXPIRED,
    }
)

TERMINAL_STATUSES: frozenset[TrialStatus] = frozenset(
    {TrialStatus.LAPSED, TrialStatus.CONVERTED, TrialStatus.CANCELLED, TrialStatus.DELETED}
)

S = TrialStatus
TRANSITIONS: dict[TrialStatus, frozenset[TrialStatus]] = {
    # rules K4, K5, K6: accepted, or cancelled / declined / expired
    S.PENDING_CONSENT: frozenset({S.AWAITING_PROVISIONING, S.CANCELLED}),
    # rule T1: provisioning completes; rule T9: delete
    S.AWAITING_PROVISIONING: frozenset({S.ACTIVE, S.DELETED}),
    # rule T5: the end date passes; V5: converted; T9: deleted
    S.ACTIVE: frozenset({S.EXPIRED, S.CONVERTED, S.DELETED}),
    # rule T5: extend back to active or convert in grace; T7: lapse; T9: delete
    S.EXPIRED: frozenset({S.ACTIVE, S.CONVERTED, S.LAPSED, S.DELETED}),
    S.LAPSED: frozenset(),
    S.CONVERTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.DELETED: frozenset(),
}


def can_transition(current: TrialStatus, to: TrialStatus) -> bool:
    return to in TRANSITIONS[current]


def transition(trial: Trial, to: TrialStatus, now: datetime, *, reason: str | None = None) -> None:
    """Move the trial to `to`: check the table, set the status, stamp `<to>_at`, record the event.

    Leaving the open statuses also releases the services the trial held (rule S3).
    """
    current = TrialStatus(trial.status)
    if not can_transition(current, to):
        if current is TrialStatus.LAPSED:
            raise IrreversibleLapse(
                "The trial lapsed after its grace period; this cannot be reversed.", rule="T7"
            )
        raise InvalidTransition(
            f"A trial that is {current.label.lower()} cannot become {to.label.lower()}.",
            field="status",
        )
    trial.status = to.value
    setattr(trial, f"{to.value}_at", now)
    trial.updated_at = now
    if to not in OPEN_STATUSES:
        for service in trial.services:
            service.is_open = False
    trial.record(
        DomainEvent(
            action=f"trial.{to.value}",
            subject_type="trial",
            subject_id=trial.id,
            at=now,
            before={"status": current.value},
            after={"status": to.value, **({"reason": reason} if reason else {})},
            partner_id=trial.partner_id,
            org_id=trial.org_id,
            trial_id=trial.id,
        )
    )
