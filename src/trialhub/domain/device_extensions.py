"""Device extension requests: a partner asks, the trials team approves or denies, never past
the device maximum (rules D5, D6), each decision through the request's state table.

An approval moves the end of the trial's device services and the device due date of the
devices still out, so their reminders move too (rule D7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from trialhub.catalog import Catalog
from trialhub.domain.device_rules import device_trial_cap
from trialhub.domain.errors import Conflict, ErrorCollector, TrialhubError, ValidationFailed
from trialhub.domain.ids import new_id
from trialhub.domain.policy import Policy
from trialhub.domain.shipments import DeviceShipment, PartOfTrial
from trialhub.domain.statemachine import StateMachine
from trialhub.domain.states import require_running
from trialhub.domain.trial import Trial


class ExtensionDecision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


def _already_decided(current: ExtensionDecision, to: ExtensionDecision) -> TrialhubError:
    return Conflict("This request was already decided.", rule="D6")


Dx = ExtensionDecision
EXTENSION_DECISIONS: StateMachine[ExtensionDecision] = StateMachine(
    ExtensionDecision,
    {
        Dx.PENDING: frozenset({Dx.APPROVED, Dx.DENIED}),  # rule D6: the trials team decides
        Dx.APPROVED: frozenset(),
        Dx.DENIED: frozenset(),
    },
    attribute="decision",
    stamps={Dx.APPROVED: "decided_at", Dx.DENIED: "decided_at"},
    refusal=_already_decided,
)


@dataclass(eq=False)
class DeviceExtensionRequest(PartOfTrial):
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

    @classmethod
    def file(
        cls,
        trial: Trial,
        catalog: Catalog,
        policy: Policy,
        *,
        shipments: Sequence[DeviceShipment],
        requested_end: datetime,
        reason: str | None,
        one_waiting: bool,
        by: str | None,
        at: datetime,
    ) -> DeviceExtensionRequest:
        """Rule D6: a running device trial is extended by the trials team on request, never
        past the device maximum from its start (rule D5). One request waits at a time
        (`one_waiting`: the trial has one already)."""
        require_running(trial.status_enum, "extended", "D6")
        out = [s for s in shipments if s.awaiting_return()]
        if not catalog.has_device_service(trial.open_service_codes()) and not out:
            raise ValidationFailed(
                "This trial has no device services and no devices out: extend it by "
                f"{policy.extension_days} days instead (rule T3).",
                field="trial",
                rule="D6",
            )
        _check_requested_end(requested_end, device_end(catalog, trial, out), trial, policy)
        if one_waiting:
            raise Conflict(
                "A device extension request for this trial already waits for the trials team.",
                rule="D6",
            )
        request = cls(
            id=new_id("dxr"),
            **trial.owners(),
            requested_end=requested_end,
            requested_at=at,
            reason=reason,
            requested_by_admin_id=by,
        )
        request.record_event(
            "device_extension.requested", at, requested_end=requested_end, reason=reason
        )
        return request

    def decide(
        self,
        approve: bool,
        trial: Trial,
        shipments: Sequence[DeviceShipment],
        catalog: Catalog,
        policy: Policy,
        *,
        by: str | None,
        note: str | None,
        at: datetime,
    ) -> None:
        """Rule D6: the trials team approves (a running trial only) or denies; an approval
        past the device maximum is refused (rule D5). An approval runs the trial's device
        services to the requested end, and the devices still out are due then (rule D7)."""
        to = ExtensionDecision.APPROVED if approve else ExtensionDecision.DENIED
        if approve:
            require_running(trial.status_enum, "extended", "D6")
        EXTENSION_DECISIONS.check(self, to)
        cap = trial_device_cap(trial, policy)
        if approve and self.requested_end > cap:
            raise ValidationFailed(
                f"A device trial lasts at most {policy.device_trial_max_days} days, extensions "
                "included.",
                field="requested_end",
                rule="D5",
            )
        self.decided_by_admin_id = by
        self.note = note
        EXTENSION_DECISIONS.move(
            self,
            to,
            at,
            action=f"device_extension.{to.value}",
            requested_end=self.requested_end,
            note=note,
        )
        if approve:
            self._extend_trial(trial, catalog, by, at)
            _move_due_dates(shipments, self.requested_end, policy, at)

    def _extend_trial(self, trial: Trial, catalog: Catalog, by: str | None, at: datetime) -> None:
        """Rule D6: the device services run to the requested end; in the grace period the
        trial is active again."""
        new_end = self.requested_end
        end = trial.ends_at
        if catalog.has_device_service(trial.open_service_codes()) and end and new_end > end:
            reason = f"device extension approved by the trials team (request {self.id})"
            trial.extend_to(
                new_end,
                at,
                by=by,
                reason=reason + (f": {self.reason}" if self.reason else ""),
                rule="D6",
            )


def _move_due_dates(
    shipments: Sequence[DeviceShipment], new_end: datetime, policy: Policy, at: datetime
) -> None:
    """Rule D7: the devices still out are due at the new end, if that is later."""
    for shipment in shipments:
        due = shipment.eula_due_at
        if shipment.awaiting_return() and due is not None and new_end > due:
            shipment.move_due_date(new_end, policy, at)


def device_end(catalog: Catalog, trial: Trial, out: Sequence[DeviceShipment]) -> datetime | None:
    """Where the device trial ends now: the device services' end, or the latest device due
    date of the devices still out."""
    ends = [s.eula_due_at for s in out if s.eula_due_at is not None]
    if catalog.has_device_service(trial.open_service_codes()) and trial.ends_at is not None:
        ends.append(trial.ends_at)
    return max(ends) if ends else None


def _check_requested_end(
    wanted: datetime, current: datetime | None, trial: Trial, policy: Policy
) -> None:
    """Rules D5, D6: a later end than now, within the device maximum from the start."""
    errors = ErrorCollector()
    cap = trial_device_cap(trial, policy)
    if wanted.tzinfo is None:
        errors.add("requested_end", "Give the time zone (for example 2026-06-01T00:00Z).")
    elif current is not None and wanted <= current:
        errors.add(
            "requested_end",
            f"The device trial already runs to {current:%Y-%m-%d}; ask for a later end.",
            "D6",
        )
    elif wanted > cap:
        errors.add(
            "requested_end",
            f"A device trial lasts at most {policy.device_trial_max_days} days from its "
            f"start, extensions included: {cap:%Y-%m-%d} at the latest.",
            "D5",
        )
    errors.raise_if_any()


def trial_device_cap(trial: Trial, policy: Policy) -> datetime:
    """Rule D5: the latest end of the trial's devices, from its start (or its creation)."""
    return device_trial_cap(trial.starts_at or trial.created_at, policy)
