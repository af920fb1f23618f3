"""Domain events: what changed, recorded by entities and written to the audit log (rule E1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class DomainEvent:
    """One change: an action name like `trial.started`, the subject, and before/after values."""

    action: str
    subject_type: str
    subject_id: str
    at: datetime
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    partner_id: str | None = None
    org_id: str | None = None
    trial_id: str | None = None


class EventSource:
    """Mixin for entities that record events; the unit of work drains them on commit.

    `record_event` is the one way to record one: the subject is the entity (its
    `SUBJECT_TYPE` and `id`), and the event is filed under the partner, organization and
    trial the entity belongs to (`event_owners`), so each sees it in its audit log.
    """

    SUBJECT_TYPE: ClassVar[str]
    id: str

    def event_owners(self) -> tuple[str | None, str | None, str | None]:
        """(partner, organization, trial) the entity's events are filed under; by default
        its own `partner_id`, `org_id` and `trial_id` attributes, where it has them."""
        return (
            getattr(self, "partner_id", None),
            getattr(self, "org_id", None),
            getattr(self, "trial_id", None),
        )

    def record_event(
        self,
        action: str,
        at: datetime,
        *,
        before: Mapping[str, Any] | None = None,
        partner_id: str | None = None,
        org_id: str | None = None,
        trial_id: str | None = None,
        **after: Any,
    ) -> None:
        """Records `action` on this entity at `at`, with the values before and after it.
        `partner_id`, `org_id` and `trial_id` file it also under a partner, organization or
        trial the entity does not name itself (an organization created for a partner's
        trial, a consent given to a trial)."""
        own_partner, own_org, own_trial = self.event_owners()
        pending: list[DomainEvent] = self.__dict__.setdefault("_pending_events", [])
        pending.append(
            DomainEvent(
                action=action,
                subject_type=self.SUBJECT_TYPE,
                subject_id=self.id,
                at=at,
                before=dict(before) if before else None,
                after=dict(after) or None,
                partner_id=partner_id or own_partner,
                org_id=org_id or own_org,
                trial_id=trial_id or own_trial,
            )
        )

    def drain_events(self) -> list[DomainEvent]:
        pending: list[DomainEvent] = self.__dict__.pop("_pending_events", None) or []
        return pending
