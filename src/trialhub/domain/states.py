"""The trial's statuses, its state table and the guards beside it (architecture point 2).

The `Trial` aggregate (domain/trial.py) moves only through its state machine, built on this
table; the guards say, once, which statuses allow an extension, a conversion or a change of
services, and that a lapsed trial is final (rule T7).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from trialhub.domain.errors import InvalidTransition, IrreversibleLapse, TrialhubError
from trialhub.domain.statemachine import StateMachine


class TrialStatus(StrEnum):
    """Where a trial is in its life (rules K4, T5, T7, V5, T9)."""

    PENDING_CONSENT = "pending_consent"
    AWAITING_PROVISIONING = "awaiting_provisioning"
    ACTIVE = "active"
    EXPIRED = "expired"  # in its grace period (rule T5)
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

# rules T3, T5, V4: a running trial, active or in its grace period, can be extended or converted
RUNNING_STATUSES: frozenset[TrialStatus] = frozenset({TrialStatus.ACTIVE, TrialStatus.EXPIRED})

# rule S4: services change while the trial is active (or before it is provisioned)
CHANGEABLE_STATUSES: frozenset[TrialStatus] = frozenset(
    {TrialStatus.ACTIVE, TrialStatus.AWAITING_PROVISIONING}
)

# rules T7, T8, T9, V3: a trial that ended holding Calling keeps its numbers a while
NUMBER_KEEPING_STATUSES: frozenset[TrialStatus] = frozenset(
    {TrialStatus.LAPSED, TrialStatus.DELETED, TrialStatus.CONVERTED}
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

LAPSED_IS_FINAL = (
    "The trial lapsed after its grace period: its users moved to the free organization and "
    "what it held was released. This cannot be reversed."
)


def require_not_lapsed(status: TrialStatus) -> None:
    """Rule T7: a lapsed trial is final; converting, extending or restoring it is refused."""
    if status is TrialStatus.LAPSED:
        raise IrreversibleLapse(LAPSED_IS_FINAL, rule="T7")


def refuse_move(current: TrialStatus, to: TrialStatus) -> TrialhubError:
    """The error for a move the table forbids; from a lapsed trial, rule T7's."""
    require_not_lapsed(current)
    return InvalidTransition(
        f"A trial that is {current.label.lower()} cannot become {to.label.lower()}.",
        field="status",
    )


def can_extend(status: TrialStatus) -> bool:
    """Rules T3, T5, D6: an active trial or one in its grace period can be extended."""
    return status in RUNNING_STATUSES


def can_convert(status: TrialStatus) -> bool:
    """Rule V4: while active or in grace; never after a lapse or cancellation."""
    return status in RUNNING_STATUSES


def require_running(status: TrialStatus, doing: str, rule: str) -> None:
    """Rules T3, V4, D6: extending or converting needs a trial that is active or in grace;
    `doing` is the refused verb ("extended", "converted")."""
    require_not_lapsed(status)
    if status not in RUNNING_STATUSES:
        raise InvalidTransition(
            f"Only an active trial or one in its grace period can be {doing}; this one is "
            f"{status.label.lower()}.",
            rule=rule,
        )


def require_changeable(status: TrialStatus) -> None:
    """Rule S4: services change only while the trial is active (or awaiting provisioning)."""
    require_not_lapsed(status)
    if status not in CHANGEABLE_STATUSES:
        raise InvalidTransition(
            "Services can be changed only while the trial is active (or awaiting provisioning).",
            rule="S4",
        )


def _entered(trial: Any, to: TrialStatus, at: datetime) -> None:
    """Every move changes the trial; leaving the open statuses frees its services (rule S3)."""
    trial.updated_at = at
    if to not in OPEN_STATUSES:
        for service in trial.services:
            service.is_open = False


# the trial moves only through this: the table, each status's `<status>_at`, the S3 release
TRIAL_STATES: StateMachine[TrialStatus] = StateMachine(
    TrialStatus,
    TRANSITIONS,
    stamps={s: f"{s.value}_at" for s in TrialStatus},
    refusal=refuse_move,
    entered=_entered,
)
