"""Entities of the trial world: partners, administrators, customer organizations, trials.

Plain Python classes; the store maps them to tables (imperative mapping), so nothing here
knows about the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from trialhub.domain.events import DomainEvent, EventSource
from trialhub.domain.roles import Role
from trialhub.domain.states import OPEN_STATUSES, TrialStatus

# the sort key of a customer with no open trial end date: after every real date
NO_END = datetime(9999, 12, 31, tzinfo=UTC)


def new_id(prefix: str) -> str:
    """A random, URL-safe identifier with a readable prefix (`trl_…`)."""
    return f"{prefix}_{uuid.uuid4().hex}"


class OrgKind(StrEnum):
    """A customer organization, or the free consumer organization (rules C3, T7)."""

    CUSTOMER = "customer"
    FREE = "free"


class AccessLevel(StrEnum):
    """What a partner may do in a customer organization (rule K3)."""

    FULL = "full"
    PROVISIONING = "provisioning"


class CustomerState(StrEnum):
    """Whether an organization is in a partner's customer list (rules K5, K6)."""

    PENDING = "pending"  # consent requested, not yet given
    ACTIVE = "active"
    REMOVED = "removed"


class TrialKind(StrEnum):
    """How the trial came to be (rules C1, C3, A1)."""

    NEW_CUSTOMER = "new_customer"
    EXISTING_CUSTOMER = "existing_customer"
    ADDED = "added"  # added to a customer already in the list (rule A1)


@dataclass(eq=False)
class Distributor(EventSource):
    """Processes conversions for tier-2 partners (rule V1)."""

    id: str
    name: str
    created_at: datetime


@dataclass(eq=False)
class Partner(EventSource):
    """A reseller organization (rule P1)."""

    id: str
    name: str
    tier: int
    certified: bool
    created_at: datetime
    distributor_id: str | None = None


@dataclass(eq=False)
class Admin(EventSource):
    """A person who signs in: partner administrator, trials-team operator or distributor."""

    id: str
    email: str
    name: str
    roles: list[str]
    created_at: datetime
    partner_id: str | None = None
    distributor_id: str | None = None
    password_hash: str | None = None
    disabled_at: datetime | None = None

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r) for r in self.roles)

    @property
    def is_operator(self) -> bool:
        return Role.OPERATOR.value in self.roles


@dataclass(eq=False)
class ApiToken(EventSource):
    """A bearer token; only its hash is stored."""

    id: str
    admin_id: str
    token_hash: str
    prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(eq=False)
class OrgAdmin:
    """An administrator of a customer organization; `full` ones may consent (rule K2)."""

    id: str
    org_id: str
    email: str
    name: str
    full: bool
    created_at: datetime


@dataclass(eq=False)
class OrgUser:
    """A user of a customer organization (or of the free organization)."""

    id: str
    org_id: str
    email: str
    name: str
    created_at: datetime


@dataclass(eq=False)
class Subscription:
    """A purchased service and the partner that manages it (rules S3, A1, V5)."""

    id: str
    org_id: str
    service: str
    quantity: int
    started_at: datetime
    partner_id: str | None = None


@dataclass(eq=False)
class Organization(EventSource):
    """A customer organization: its region is fixed for life (rule C2)."""

    id: str
    name: str
    kind: str
    country: str
    region: str
    created_at: datetime
    business_vertical: str | None = None
    created_by_partner_id: str | None = None
    admins: list[OrgAdmin] = field(default_factory=list)
    users: list[OrgUser] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)

    def purchased_services(self) -> set[str]:
        return {s.service for s in self.subscriptions}

    def full_admins(self) -> list[OrgAdmin]:
        return [a for a in self.admins if a.full]


@dataclass(eq=False)
class CustomerAssignment:
    """A partner administrator assigned to a customer (rule P2)."""

    id: str
    customer_id: str
    admin_id: str
    created_at: datetime


@dataclass(eq=False)
class Customer(EventSource):
    """An organization in one partner's customer list, with the partner's access (rule K3)."""

    id: str
    partner_id: str
    org_id: str
    state: str
    created_at: datetime
    created_by_admin_id: str | None = None
    access: str | None = None
    removed_at: datetime | None = None
    # the customer list's sort key, kept by a unit-of-work hook: the soonest end date of an
    # open trial (NO_END when none), then the organization's name
    sort_end: datetime = NO_END
    sort_name: str = ""
    assignments: list[CustomerAssignment] = field(default_factory=list)
    organization: Organization | None = None

    def reachable_by(self, admin_id: str) -> bool:
        """Whether an admin with OWN reach manages it: it provisioned it or was assigned it."""
        return self.created_by_admin_id == admin_id or any(
            a.admin_id == admin_id for a in self.assignments
        )


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


@dataclass(eq=False)
class Trial(EventSource):
    """A service trial of one partner for one organization."""

    id: str
    partner_id: str
    org_id: str
    customer_id: str
    kind: str
    status: str
    duration_days: int
    user_licenses: int
    setup: str
    created_at: datetime
    updated_at: datetime
    created_by_admin_id: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    consent_deadline: datetime | None = None
    consent_email: str | None = None  # the administrator email the request was made for (K1)
    pending_consent_at: datetime | None = None
    awaiting_provisioning_at: datetime | None = None
    active_at: datetime | None = None
    expired_at: datetime | None = None
    lapsed_at: datetime | None = None
    converted_at: datetime | None = None
    cancelled_at: datetime | None = None
    deleted_at: datetime | None = None
    numbers_release_at: datetime | None = None  # rules T8, T9
    version: int = 1
    services: list[TrialService] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    site: MeetingsSite | None = None

    @property
    def status_enum(self) -> TrialStatus:
        return TrialStatus(self.status)

    @property
    def trial_id(self) -> str:
        """The trial's id under the name its parts use (shipments, requests, orders)."""
        return self.id

    @property
    def is_open(self) -> bool:
        return self.status_enum in OPEN_STATUSES

    def open_services(self) -> list[TrialService]:
        return [s for s in self.services if s.removed_at is None]

    def days_left(self, now: datetime) -> int | None:
        if self.ends_at is None:
            return None
        seconds = (self.ends_at - now).total_seconds()
        return max(0, int(-(-seconds // 86400)))

    def extend_to(
        self,
        new_end: datetime,
        at: datetime,
        *,
        admin_id: str | None,
        reason: str | None,
        rule: str,
    ) -> None:
        """Moves the end date and keeps the extension with who, when and why (rules T3, D6)."""
        previous = self.ends_at
        self.ends_at = new_end
        self.extensions.append(
            Extension(
                id=new_id("ext"),
                trial_id=self.id,
                admin_id=admin_id,
                at=at,
                previous_end=previous,
                new_end=new_end,
                reason=reason,
            )
        )
        self.updated_at = at
        self.event(
            "trial.extended", at, previous_end=previous, new_end=new_end, reason=reason, rule=rule
        )

    def event(self, action: str, at: datetime, **after: object) -> None:
        """Record a non-status change of this trial (rule E1)."""
        self.record(
            DomainEvent(
                action=action,
                subject_type="trial",
                subject_id=self.id,
                at=at,
                after=dict(after) or None,
                partner_id=self.partner_id,
                org_id=self.org_id,
                trial_id=self.id,
            )
        )


@dataclass(eq=False)
class ConsentToken:
    """One consent link sent to one recipient; only its hash is stored (rules K1, K2)."""

    id: str
    trial_id: str
    org_id: str
    recipient_email: str
    token_hash: str
    created_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


@dataclass(eq=False)
class OutboxMessage:
    """An email or webhook written in the transaction of its cause, delivered later (rule E2).

    (channel, recipient, cause) is unique: one message per recipient per cause.
    """

    id: int | None
    channel: str
    recipient: str
    cause: str
    template: str
    payload: dict[str, object]
    created_at: datetime
    available_at: datetime
    partner_id: str | None = None
    org_id: str | None = None
    trial_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    locked_until: datetime | None = None
    # a credential the message carries until it is sent (a consent link's token), then erased;
    # never in the payload, so that no view of the outbox shows it (decision 0010)
    secret: str | None = None


@dataclass(eq=False)
class DueEvent:
    """A deadline of a trial, applied once by the worker (rules K6, T4-T8, T10)."""

    id: int | None
    trial_id: str
    kind: str
    due_at: datetime
    created_at: datetime
    done_at: datetime | None = None
    outcome: str | None = None
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None  # after a failure: not before then


@dataclass(eq=False)
class MailboxEmail:
    """An email delivered to the local mailbox (`make serve` without a mail server)."""

    id: int | None
    recipient: str
    subject: str
    text: str
    html: str
    message_id: str
    created_at: datetime


@dataclass(eq=False)
class WebhookEndpoint(EventSource):
    """A partner's subscription to event types, delivered signed (Standard Webhooks)."""

    id: str
    partner_id: str
    url: str
    secret: str
    event_types: list[str]
    created_at: datetime
    description: str | None = None
    created_by_admin_id: str | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None  # "deleted" by the partner, or "failing" (re-enable)
    # health (domain/webhook_health.py): consecutive failed attempts, since when, and the
    # instant before which none of its messages is attempted (backoff, open circuit)
    failures: int = 0
    failing_since: datetime | None = None
    retry_at: datetime | None = None


@dataclass(eq=False)
class WebhookDelivery:
    """One attempt to deliver one webhook message: the delivery log."""

    id: int | None
    outbox_id: int
    endpoint_id: str
    attempted_at: datetime
    success: bool
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


@dataclass(eq=False)
class AuditEvent:
    """A row of the append-only audit log (rule E1)."""

    id: int | None
    at: datetime
    action: str
    subject_type: str
    subject_id: str
    actor_id: str | None
    actor_label: str
    partner_id: str | None = None
    org_id: str | None = None
    trial_id: str | None = None
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None


@dataclass(eq=False)
class IdempotencyRecord:
    """The remembered outcome of a mutating request sent with an `Idempotency-Key`."""

    admin_id: str
    key: str
    request_hash: str
    created_at: datetime
    status_code: int | None = None
    response_body: str | None = None
    # while in progress: which request holds the key, and until when (then a retry may
    # take it over: the owner's effects commit only with its outcome, so none act twice)
    owner: str | None = None
    lease_until: datetime | None = None
