"""Every deadline still ahead of a trial, from its state, its device shipments and the policy
(rules K6, T4-T8, D7).

One pure function serves the timeline view now and the schedule of the worker: a `Deadline`
is the computed instant; written into the schedule it becomes a `ScheduledDeadline` row
(domain/records.py), which the worker applies once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from trialhub.catalog import Catalog
from trialhub.domain.devices import DeviceShipment
from trialhub.domain.policy import Policy
from trialhub.domain.states import NUMBER_KEEPING_STATUSES, RUNNING_STATUSES, TrialStatus
from trialhub.domain.trial import Trial


class DeadlineKind(StrEnum):
    CONSENT_EXPIRY = "consent_expiry"  # rule K6
    NOTICE_BEFORE_END = "notice_before_end"  # rule T4, the policy's days before the end
    NOTICE_ON_END = "notice_on_end"  # rule T4, on the end date
    END = "end"  # rule T5: expired, grace starts
    USER_NOTICE = "user_notice"  # rule T6
    GRACE_END = "grace_end"  # rule T7: lapse
    NUMBER_RELEASE = "number_release"  # rules T8, T9
    DEVICE_REMINDER = "device_reminder"  # rule D7: devices due back soon
    DEVICE_OVERDUE = "device_overdue"  # rule D7: not returned in time, flagged


# the deadlines whose handling reads the organization's users: rule T6 writes to each of
# them, rule T7 moves them to the free organization (the worker loads users only for these)
READS_PEOPLE: frozenset[str] = frozenset({DeadlineKind.USER_NOTICE, DeadlineKind.GRACE_END})
# the deadlines whose handling reads the organization's purchased services: rule T7 keeps
# an organization with paid services (the worker loads subscriptions only for these)
READS_SUBSCRIPTIONS: frozenset[str] = frozenset({DeadlineKind.GRACE_END})
# the deadlines whose handling frees a trial's Meetings site name (`Trial.release`): a
# request cancelled unanswered (rule K6) and a trial that lapses (rules S2, T7); the worker
# loads sites only for these, and any other reads its trial's site when it needs it
READS_SITE: frozenset[str] = frozenset({DeadlineKind.CONSENT_EXPIRY, DeadlineKind.GRACE_END})

# the deadlines whose handling reads its trial as values (`TrialFacts`) and changes no
# entity, only queues messages and records an event: the expiry notices (rule T4). The
# worker reads them for a whole batch in a few queries of rows, without entities, and
# need not look at the trial's schedule after them (issue 11)
READS_VALUES: frozenset[str] = frozenset(
    {DeadlineKind.NOTICE_BEFORE_END, DeadlineKind.NOTICE_ON_END}
)

DEADLINE_LABELS: dict[DeadlineKind, str] = {
    DeadlineKind.CONSENT_EXPIRY: "Consent request expires; the trial is cancelled (rule K6)",
    DeadlineKind.NOTICE_BEFORE_END: "Expiry notice to customer and partner admins (rule T4)",
    DeadlineKind.NOTICE_ON_END: "Expiry-day notice to customer and partner admins (rule T4)",
    DeadlineKind.END: "Trial ends; its grace period starts (rule T5)",
    DeadlineKind.USER_NOTICE: "Users told they no longer have access (rule T6)",
    DeadlineKind.GRACE_END: "Grace period ends; users move to the free organization (rule T7)",
    DeadlineKind.NUMBER_RELEASE: "Calling phone numbers released (rules T8, T9)",
    DeadlineKind.DEVICE_REMINDER: "Device return reminder to customer and partner (rule D7)",
    DeadlineKind.DEVICE_OVERDUE: "Devices due back; flagged overdue if not returned (rule D7)",
}


# deadlines at one instant come in the order above (a trial's end before its grace notices)
_ORDER: dict[DeadlineKind, int] = {kind: i for i, kind in enumerate(DeadlineKind)}


@dataclass(frozen=True)
class Deadline:
    """An instant a trial will meet, and what happens then."""

    kind: DeadlineKind
    at: datetime

    @property
    def label(self) -> str:
        return DEADLINE_LABELS[self.kind]


def trial_deadlines(
    trial: Trial,
    policy: Policy,
    catalog: Catalog,
    *,
    shipments: Sequence[DeviceShipment] = (),
) -> list[Deadline]:
    """All deadlines the trial will meet from its current state, in time order.

    Phone numbers outlive a trial that holds Calling (rule T8, the catalog knows which
    services keep numbers). Device return deadlines (rule D7) follow each shipment's EULA
    due date, whatever becomes of the trial: devices come back even from a deleted trial.
    """
    status = TrialStatus(trial.status)
    out: list[Deadline] = []
    if status is TrialStatus.PENDING_CONSENT and trial.consent_deadline is not None:
        out.append(Deadline(DeadlineKind.CONSENT_EXPIRY, trial.consent_deadline))
    if status in RUNNING_STATUSES and trial.ends_at is not None:
        end = trial.ends_at
        if status is TrialStatus.ACTIVE:
            for days in policy.notice_days_before:
                kind = DeadlineKind.NOTICE_ON_END if days == 0 else DeadlineKind.NOTICE_BEFORE_END
                out.append(Deadline(kind, end - timedelta(days=days)))
            out.append(Deadline(DeadlineKind.END, end))
        grace_end = end + policy.grace
        out.append(Deadline(DeadlineKind.USER_NOTICE, grace_end))
        out.append(Deadline(DeadlineKind.GRACE_END, grace_end))
        if catalog.keeps_numbers(trial.open_service_codes()):
            out.append(Deadline(DeadlineKind.NUMBER_RELEASE, grace_end + policy.number_retention))
    # a conversion keeps them only when Calling was left out of the order (rule V3)
    if trial.numbers_release_at is not None and status in NUMBER_KEEPING_STATUSES:
        out.append(Deadline(DeadlineKind.NUMBER_RELEASE, trial.numbers_release_at))
    for shipment in shipments:
        if not shipment.awaiting_return() or shipment.return_due_at is None:
            continue
        for at in shipment.reminder_instants(policy):
            out.append(Deadline(DeadlineKind.DEVICE_REMINDER, at))
        out.append(Deadline(DeadlineKind.DEVICE_OVERDUE, shipment.return_due_at))
    # two shipments due back together share their deadlines
    return sorted(set(out), key=lambda d: (d.at, _ORDER[d.kind]))
