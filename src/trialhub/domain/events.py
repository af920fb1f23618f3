"""Domain events: what changed, recorded by entities and written to the audit log (rule E1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    """Mixin for entities that record events; the unit of work drains them on commit."""

    def record(self, event: DomainEvent) -> None:
        pending: list[DomainEvent] | None = self.__dict__.get("_pending_events")
        if pending is None:
            pending = []
            self.__dict__["_pending_events"] = pending
        pending.append(event)

    def drain_events(self) -> list[DomainEvent]:
        pending: list[DomainEvent] = self.__dict__.pop("_pending_events", None) or []
        return pending


@dataclass
class EventLog:
    """Events recorded outside any entity (for example a read-only operation's side note)."""

    events: list[DomainEvent] = field(default_factory=list)
