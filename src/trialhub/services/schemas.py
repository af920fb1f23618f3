"""Commands the use cases accept and views they return (Pydantic; shared by API, web, CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from trialhub.domain.policy import DEFAULT_POLICY
from trialhub.services.fields import Name, Rule, Text


class Command(BaseModel):
    """Input: unknown fields are an error, so a typo never passes silently.

    Each field that a rule governs says so (`Annotated[..., Rule("S1")]`); `rule` is the
    rule of the command's other fields, E3 when None (services.fields reads both).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    rule: ClassVar[str | None] = None


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---- commands ---------------------------------------------------------------------------


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


class CreatePartner(Command):
    name: Name = Field(min_length=1, max_length=200)
    tier: Annotated[Literal[1, 2], Rule("V1")] = 1
    certified: Annotated[bool, Rule("P1")] = True
    distributor_id: Annotated[str | None, Rule("V1")] = None
    distributor_name: Annotated[Name | None, Rule("V1")] = Field(
        default=None, max_length=200, description="Creates a distributor for a tier-2 partner"
    )


class CreateAdmin(Command):
    email: str
    name: Name = Field(min_length=1, max_length=200)
    roles: Annotated[list[str], Rule("P2")] = Field(min_length=1)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    distributor_id: Annotated[str | None, Rule("V1")] = Field(
        default=None, description="For the distributor role: the distributor it acts for (V1)"
    )


class IssueToken(Command):
    label: Name = Field(default="api", min_length=1, max_length=100)


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


# ---- views ------------------------------------------------------------------------------


class RegionView(View):
    code: str
    name: str


class PartnerView(View):
    id: str
    name: str
    tier: int
    certified: bool
    distributor_id: str | None = None
    created_at: datetime


class AdminView(View):
    id: str
    email: str
    name: str
    roles: list[str]
    partner_id: str | None = None
    distributor_id: str | None = None
    created_at: datetime


class TokenView(View):
    id: str
    admin_id: str
    label: str
    prefix: str
    created_at: datetime
    token: str | None = Field(default=None, description="Shown once, at creation")


class MeView(View):
    admin: AdminView
    partner: PartnerView | None = None
    roles: list[str]
    can_start_trials: bool
    reach: dict[str, str | None]


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


class EligibilityView(View):
    code: str
    name: str
    eligible: bool
    reason: str | None = None
    reason_code: str | None = None


class CustomerDetail(View):
    id: str
    state: str
    access: str | None = None
    assigned_admin_ids: list[str] = Field(default_factory=list)
    created_at: datetime
    organization: OrganizationView
    trials: list[TrialView]
    eligible_services: list[EligibilityView]


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


class EventPage(View):
    items: list[AuditEventView]
    next_cursor: str | None = None


# ---- consent and trial operations (issue 3) -------------------------------------------------


class ConsentDecision(Command):
    rule = "K2"
    decision: Literal["accept", "decline"]
    grant_full_admin: Annotated[bool, Rule("K3")] = Field(
        default=True,
        description="Rule K3: full administrator access for the partner; false: provisioning only",
    )


class PendingRequestView(View):
    trial_id: str
    partner_name: str
    services: list[str]
    expires_at: datetime | None = None


class ConsentView(View):
    trial_id: str
    status: str
    status_label: str
    organization: str
    partner_name: str
    recipient_email: str
    recipient_is_full_admin: bool
    services: list[str]
    expires_at: datetime | None = None
    decision: str | None = None
    pending_requests: list[PendingRequestView] = Field(default_factory=list)


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


class SetUpUser(Command):
    email: str
    name: Name = Field(min_length=1, max_length=200)


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


class AssignCustomer(Command):
    rule = "P2"
    admin_id: str = Field(description="A partner administrator of your organization")


# ---- devices (rules D1-D9) ------------------------------------------------------------------


class ShippingAddress(Command):
    """Where the devices go, and who signs for them (rule D1)."""

    rule = "D1"
    name: Name = Field(min_length=1, max_length=100, description="The recipient's name")
    phone: Name = Field(min_length=5, max_length=30, description="The recipient's phone")
    email: str = Field(description="The recipient's email: return reminders go there too (D7)")
    street: Name = Field(min_length=1, max_length=200)
    city: Name = Field(min_length=1, max_length=100)
    postal_code: Name = Field(min_length=1, max_length=20)
    country: str = Field(description="ISO 3166-1 alpha-2; the models must ship there (D1)")


class DeviceOrderLine(Command):
    rule = "D1"
    model: str = Field(description="A device model code from the catalog (rule D1)")
    quantity: Annotated[int, Rule("D1", "devices of a model")] = Field(
        ge=DEFAULT_POLICY.devices_per_order[0],
        le=DEFAULT_POLICY.devices_per_order[1],
        description="1-5 devices per order (rule D1)",
    )


class OrderShipment(Command):
    """The device step of a trial: one shipment of one device type (rules D1-D3)."""

    rule = "D1"
    recipient: Literal["customer", "partner"] = Field(
        description="Ship to the customer or to the partner (rule D1)"
    )
    address: ShippingAddress
    devices: list[DeviceOrderLine] = Field(min_length=1, max_length=10)
    poe_supported: Annotated[bool | None, Rule("D3")] = Field(
        default=None,
        description="Phones ship without power supplies: does the customer support PoE? (D3)",
    )
    deal_id: Name | None = Field(
        default=None, max_length=60, description="Required for shipments to the US (rule D1)"
    )


class ShippedDeviceInput(Command):
    rule = "D4"
    model: str
    serial_number: Name = Field(min_length=3, max_length=60)


class DispatchShipment(Command):
    """The trials team ships an order: carrier, tracking and each serial number (rule D4)."""

    rule = "D4"
    carrier: Name = Field(min_length=2, max_length=60)
    tracking: Name = Field(min_length=3, max_length=100)
    devices: list[ShippedDeviceInput] = Field(min_length=1, max_length=10)
    device_due_at: Annotated[datetime | None, Rule("D7")] = Field(
        default=None,
        description="The device due date of the EULA email; default: the trial's end date, at "
        "most 120 days after its start (rules D5, D7)",
    )


class RecordReturn(Command):
    """The devices came back; accepted only when the serial numbers match (rule D8)."""

    rule = "D8"
    serial_numbers: list[Name] = Field(min_length=1, max_length=10)


class DeviceLineView(View):
    model: str
    name: str
    quantity: int


class ShippedDeviceView(View):
    model: str
    device_type: str
    serial_number: str


class ShipmentView(View):
    id: str
    trial_id: str
    org_id: str
    demo_order: str
    device_type: str
    status: str
    recipient: str
    address: dict[str, str]
    lines: list[DeviceLineView]
    poe_supported: bool | None
    contact_trials_team: bool
    contact_trials_team_reason: str | None
    deal_id: str | None
    ordered_at: datetime | None
    shipped_at: datetime | None
    carrier: str | None
    tracking: str | None
    devices: list[ShippedDeviceView]
    device_due_at: datetime | None
    return_due_at: datetime | None
    return_carrier: str | None
    return_instructions: str | None
    overdue: bool
    overdue_at: datetime | None
    returned_at: datetime | None
    labels_requested: int


class RequestDeviceExtension(Command):
    """Ask the trials team for more device time (rule D6)."""

    rule = "D6"
    requested_end: Annotated[datetime, Rule("D5")] = Field(
        description="The new end of the device trial, at most 120 days after its start (D5)"
    )
    reason: Text | None = Field(default=None, max_length=500)


class DecideDeviceExtension(Command):
    """The trials team's decision on a device extension request (rule D6)."""

    rule = "D6"
    approve: bool
    note: Text | None = Field(default=None, max_length=500)


class DeviceExtensionView(View):
    id: str
    trial_id: str
    org_id: str
    requested_end: datetime
    requested_at: datetime
    requested_by_admin_id: str | None
    reason: str | None
    decision: str
    decided_at: datetime | None
    decided_by_admin_id: str | None
    note: str | None
    cap: datetime | None = Field(
        default=None, description="The latest end the trials team can approve (rule D5)"
    )


class DeviceExtensionPage(View):
    items: list[DeviceExtensionView]
    next_cursor: str | None = None


# ---- conversion to a paid order (rules V1-V5) -----------------------------------------------


class OrderLineInput(Command):
    rule = "V5"
    code: str = Field(description="A service of the trial")
    quantity: Annotated[int | None, Rule("S1", "licenses")] = Field(
        default=None, description="Licenses to buy; default: what the trial has"
    )


class ConvertTrial(Command):
    """The paid order a trial becomes (rules V1-V5)."""

    services: Annotated[list[OrderLineInput], Rule("V5")] = Field(min_length=1, max_length=20)
    provisioning_email: Annotated[str, Rule("V2")] = Field(
        description="A partner administrator of the managing partner or a customer "
        "administrator (rule V2)"
    )
    confirm_new_organization: Annotated[bool, Rule("V2")] = Field(
        default=False,
        description="The provisioning email is intended to create a new organization (V2)",
    )
    confirm_lost_services: Annotated[bool, Rule("V3")] = Field(
        default=False, description="The trial's services the order leaves out will be lost (V3)"
    )


class DecideConversion(Command):
    """The distributor processes or declines a tier-2 partner's conversion request (V1)."""

    rule = "V1"
    approve: bool
    note: Text | None = Field(default=None, max_length=500)


class OrderLineView(View):
    code: str
    name: str
    quantity: int


class OrderView(View):
    id: str
    trial_id: str
    org_id: str
    partner_id: str
    status: str
    path: str
    services: list[OrderLineView]
    provisioning_email: str
    new_organization_confirmed: bool
    lost_services: list[str]
    created_at: datetime
    created_by_admin_id: str | None
    distributor_id: str | None
    processed_at: datetime | None
    note: str | None


class OrderPage(View):
    items: list[OrderView]
    next_cursor: str | None = None
