"""Commands and views of starting, previewing and running trials."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from trialhub.services.kernel.fields import Name, Rule, Text
from trialhub.services.kernel.schemas import Command, RegionView, View


class NewCustomer(Command):
    """The first step of the start form (rule C1)."""

    rule = "C1"
    company_name: Annotated[Name, Rule("C1")] = Field(
        description="1-50 characters; duplicates allowed (rule C1)"
    )
    admin_email: str = Field(description="The customer administrator's email (rule C1)")
    business_vertical: str = Field(description="A code from the catalog's verticals (rule C1)")
    country: str = Field(description="ISO 3166-1 alpha-2 code; decides the region (rule C2)")
    supported_location_ack: bool = Field(
        default=False, description="The customer is in a supported location (rule C1)"
    )


class ServiceChoice(Command):
    rule = "S1"
    code: str = Field(description="A service code from the catalog (rule S1)")
    edition: Annotated[str | None, Rule("S2")] = Field(
        default=None, description="Meetings edition (rule S2)"
    )
    quantity: Annotated[int | None, Rule("S1", "licenses")] = Field(
        default=None,
        description="For device services: 1-20 (rule S1); user services share user_licenses",
    )


class MeetingsSiteInput(Command):
    rule = "S2"
    site_url: str = Field(description="<name>.webex.com (rule S2)")
    time_zone: str = Field(description="An IANA time zone name (rule S2)")


class StartTrial(Command):
    """Start a trial: for a new customer (`customer`), for an existing organization
    (`customer` plus `confirm_existing_org_id`), or added to one in the list (`customer_id`)."""

    customer: Annotated[NewCustomer | None, Rule("C1")] = None
    confirm_existing_org_id: Annotated[str | None, Rule("C3")] = None
    customer_id: Annotated[str | None, Rule("A1")] = None
    services: Annotated[list[ServiceChoice], Rule("S1")] = Field(default_factory=list)
    user_licenses: Annotated[int | None, Rule("S1", "user licenses")] = Field(
        default=None, description="1-999, shared by user services"
    )
    duration_days: Annotated[int | None, Rule("T1")] = Field(
        default=None, description="One of the catalog's durations; absent: the default"
    )
    meetings: Annotated[MeetingsSiteInput | None, Rule("S2")] = None
    setup: Annotated[Literal["now", "later"], Rule("T1")] = "now"


class PreviewTrial(StartTrial):
    """The same form; previewing writes nothing."""


class TrialServiceView(View):
    code: str
    name: str
    edition: str | None = None
    quantity: int
    added_at: datetime
    removed_at: datetime | None = None


class ExtensionView(View):
    at: datetime
    by_admin_id: str | None = None
    previous_end: datetime | None = None
    new_end: datetime
    reason: str | None = None


class SiteView(View):
    url: str
    time_zone: str


class TrialView(View):
    id: str
    customer_id: str
    org_id: str
    partner_id: str
    kind: str
    status: str
    status_label: str
    duration_days: int
    user_licenses: int
    setup: str
    created_at: datetime
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    days_left: int | None = None
    consent_deadline: datetime | None = None
    services: list[TrialServiceView]
    extensions: list[ExtensionView] = Field(default_factory=list)
    meetings_site: SiteView | None = None
    created_by_admin_id: str | None = None


class EligibilityView(View):
    code: str
    name: str
    eligible: bool
    reason: str | None = None
    reason_code: str | None = None


class ExistingOrgView(View):
    id: str
    name: str
    region: RegionView
    in_your_customer_list: bool
    customer_id: str | None = None


class PreviewView(View):
    flow: Literal["new_customer", "existing_customer", "add_to_customer"]
    region: RegionView | None = None
    existing_organization: ExistingOrgView | None = None
    needs_confirmation: bool = False
    warnings: list[str] = Field(default_factory=list)
    services: list[EligibilityView] = Field(default_factory=list)
    duration_days: int
    ends_at_if_started_now: datetime | None = None


class AuditEventView(View):
    id: int
    at: datetime
    action: str
    subject_type: str
    subject_id: str
    actor_label: str
    trial_id: str | None = None
    org_id: str | None = None
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None


class ProvisionTrial(Command):
    """Completes provisioning (rule T1); nothing else is needed today."""

    note: Text | None = Field(default=None, max_length=500)


class ChangeServices(Command):
    """Rule S4: services to add (subject to S3) and codes to remove."""

    rule = "S4"
    add: list[ServiceChoice] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    user_licenses: Annotated[int | None, Rule("S1", "user licenses")] = Field(
        default=None, description="Needed when adding a user service to a trial that has none"
    )
    meetings: Annotated[MeetingsSiteInput | None, Rule("S2")] = None


class ExtendTrial(Command):
    rule = "T3"
    reason: Text | None = Field(default=None, max_length=500)


class DeadlineView(View):
    kind: str
    label: str
    at: datetime


class TimelineView(View):
    trial_id: str
    status: str
    status_label: str
    events: list[AuditEventView]
    deadlines: list[DeadlineView]
