"""The parts of a trial: its services, its extensions and its Meetings site, and the
choices a partner makes them from (rules S1, S2, S3, T3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ServiceChoice:
    """A service chosen for a trial, with its edition and license count (rule S1)."""

    code: str
    edition: str | None
    quantity: int


@dataclass(frozen=True)
class SiteChoice:
    """The Meetings site a trial reserves: its name and IANA time zone (rule S2)."""

    name: str
    time_zone: str


@dataclass(eq=False)
class TrialService:
    """One service in a trial; `is_open` marks it as held for rule S3."""

    id: str
    trial_id: str
    org_id: str
    service: str
    quantity: int
    is_open: bool
    added_at: datetime
    edition: str | None = None
    removed_at: datetime | None = None


@dataclass(eq=False)
class Extension:
    """One extension of a trial, kept forever (rule T3)."""

    id: str
    trial_id: str
    admin_id: str | None
    at: datetime
    previous_end: datetime | None
    new_end: datetime
    reason: str | None = None


@dataclass(eq=False)
class MeetingsSite:
    """A Meetings site name held for an organization until released (rule S2)."""

    id: str
    name: str
    org_id: str
    trial_id: str
    time_zone: str
    reserved_at: datetime
    released_at: datetime | None = None

    @property
    def url(self) -> str:
        return f"{self.name}.webex.com"
