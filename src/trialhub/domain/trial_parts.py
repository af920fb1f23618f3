"""The parts of a trial: how it came to be, its services, its extensions and its Meetings
site, and the choices a partner makes them from (rules C1, C3, A1, S1, S2, S3, T3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from trialhub.domain.ids import new_id


class TrialKind(StrEnum):
    """How the trial came to be (rules C1, C3, A1)."""

    NEW_CUSTOMER = "new_customer"
    EXISTING_CUSTOMER = "existing_customer"
    ADDED = "added"  # added to a customer already in the list (rule A1)


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

    @classmethod
    def new(cls, trial_id: str, org_id: str, choice: ServiceChoice, at: datetime) -> TrialService:
        return cls(
            id=new_id("tsv"),
            trial_id=trial_id,
            org_id=org_id,
            service=choice.code,
            edition=choice.edition,
            quantity=choice.quantity,
            is_open=True,  # rule S3: held until the trial leaves the open statuses
            added_at=at,
        )


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

    @classmethod
    def new(
        cls,
        trial_id: str,
        at: datetime,
        previous_end: datetime | None,
        new_end: datetime,
        *,
        by: str | None,
        reason: str | None,
    ) -> Extension:
        return cls(
            id=new_id("ext"),
            trial_id=trial_id,
            admin_id=by,
            at=at,
            previous_end=previous_end,
            new_end=new_end,
            reason=reason,
        )


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

    @classmethod
    def reserve(cls, trial_id: str, org_id: str, choice: SiteChoice, at: datetime) -> MeetingsSite:
        return cls(
            id=new_id("site"),
            name=choice.name,
            org_id=org_id,
            trial_id=trial_id,
            time_zone=choice.time_zone,
            reserved_at=at,
        )

    @property
    def url(self) -> str:
        return f"{self.name}.webex.com"

    @property
    def held(self) -> bool:
        return self.released_at is None

    def take_again(self, choice: SiteChoice, at: datetime) -> None:
        """One site row per trial: a re-added Meetings takes the (new) name again."""
        self.name = choice.name
        self.time_zone = choice.time_zone
        self.reserved_at = at
        self.released_at = None

    def release(self, at: datetime) -> None:
        if self.held:
            self.released_at = at


class TrialOwners(TypedDict):
    """What a part of a trial (a shipment, a request, an order) is filed under."""

    trial_id: str
    partner_id: str
    org_id: str
