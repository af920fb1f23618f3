"""Commands and views of customer organizations and the customer list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from trialhub.services.kernel.fields import Name, Rule
from trialhub.services.kernel.schemas import Command, RegionView, View
from trialhub.services.trials.schemas import AuditEventView, EligibilityView, TrialView


class CreateOrganization(Command):
    name: Name = Field(min_length=1, max_length=200)
    country: Annotated[str, Rule("C2")]
    business_vertical: Annotated[str | None, Rule("C1")] = None
    kind: Annotated[Literal["customer", "free"], Rule("C3")] = "customer"


class AddOrgAdmin(Command):
    email: str
    name: Name = Field(min_length=1, max_length=200)
    full: Annotated[bool, Rule("K2")] = True


class AddOrgUser(Command):
    email: str
    name: Name = Field(min_length=1, max_length=200)


class AddSubscription(Command):
    """A purchased service; its managing partner gets the organization as a customer (A1)."""

    rule = "A1"
    service: Annotated[str, Rule("S3")]
    quantity: Annotated[int, Rule("A1", "licenses")] = Field(default=1, ge=1, le=100000)
    partner_id: str | None = Field(default=None, description="The partner that manages it")


class OrgAdminView(View):
    id: str
    email: str
    name: str
    full: bool


class OrgUserView(View):
    id: str
    email: str
    name: str


class SubscriptionView(View):
    id: str
    service: str
    service_name: str
    quantity: int
    managing_partner_id: str | None = None
    managing_partner_name: str | None = None
    started_at: datetime


class OrganizationView(View):
    id: str
    name: str
    kind: str
    country: str
    region: RegionView
    business_vertical: str | None = None
    created_at: datetime
    admins: list[OrgAdminView] = Field(default_factory=list)
    users: list[OrgUserView] = Field(default_factory=list)
    subscriptions: list[SubscriptionView] = Field(default_factory=list)


class CustomerSummary(View):
    id: str
    org_id: str
    name: str
    admin_email: str | None = None
    country: str
    region: RegionView
    state: str
    access: str | None = None
    status: str | None = Field(
        default=None, description="The status of its soonest-ending open trial"
    )
    status_label: str | None = None
    ends_at: datetime | None = None
    days_left: int | None = None
    services: list[str] = Field(default_factory=list)
    trial_ids: list[str] = Field(default_factory=list)


class CustomerPage(View):
    items: list[CustomerSummary]
    next_cursor: str | None = None


class CustomerDetail(View):
    id: str
    state: str
    access: str | None = None
    assigned_admin_ids: list[str] = Field(default_factory=list)
    created_at: datetime
    organization: OrganizationView
    trials: list[TrialView]
    eligible_services: list[EligibilityView]


class EventPage(View):
    items: list[AuditEventView]
    next_cursor: str | None = None


class ActivityPage(EventPage):
    """A page of the activity feed, with the name of the customer it is filtered to (so a
    page can show the active filter without a second look-up)."""

    customer_name: str | None = None


class SetUpUser(Command):
    email: str
    name: Name = Field(min_length=1, max_length=200)


class AssignCustomer(Command):
    rule = "P2"
    admin_id: str = Field(description="A partner administrator of your organization")
