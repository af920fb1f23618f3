"""Customer organizations and each partner's customer list: the organization's people and
purchased services, and the list entry with its own small state table (rules C2, C3, K3,
K5, K6, A1, T7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from trialhub.domain.errors import Conflict
from trialhub.domain.events import EventSource
from trialhub.domain.ids import new_id
from trialhub.domain.statemachine import StateMachine

# the sort key of a customer with no open trial end date: after every real date
NO_END = datetime(9999, 12, 31, tzinfo=UTC)


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


C = CustomerState
CUSTOMER_STATES: StateMachine[CustomerState] = StateMachine(
    CustomerState,
    {
        # rule K3: consent given; rule A1: it buys a service the partner manages;
        # rules K5, K6: the request is cancelled, declined or expires
        C.PENDING: frozenset({C.ACTIVE, C.REMOVED}),
        C.ACTIVE: frozenset(),
        # rule C3: a new request to an organization that left the list; rule A1
        C.REMOVED: frozenset({C.PENDING, C.ACTIVE}),
    },
    attribute="state",
    stamps={C.REMOVED: "removed_at"},
)

FREE_ORGANIZATION = "Webex Free"


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


@dataclass(frozen=True)
class PeopleReleased:
    """What rule T7 does to an organization's people: users moved to the free organization,
    administrators who were not users as well joining it as users, and their admin roles."""

    moved: int
    new_users: list[OrgUser]
    dropped_admins: list[OrgAdmin]


@dataclass(eq=False)
class Organization(EventSource):
    """A customer organization: its region is fixed for life (rule C2)."""

    SUBJECT_TYPE: ClassVar[str] = "organization"

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

    @classmethod
    def new(
        cls,
        *,
        name: str,
        kind: OrgKind,
        country: str,
        region: str,
        at: datetime,
        business_vertical: str | None = None,
        created_by_partner_id: str | None = None,
    ) -> Organization:
        return cls(
            id=new_id("org"),
            name=name,
            kind=kind.value,
            country=country,
            region=region,  # rule C2: derived from the country by the caller's catalog
            business_vertical=business_vertical,
            created_by_partner_id=created_by_partner_id,
            created_at=at,
        )

    @classmethod
    def free(cls, at: datetime) -> Organization:
        """The free consumer organization that lapsed trials' people move to (rule T7)."""
        return cls.new(name=FREE_ORGANIZATION, kind=OrgKind.FREE, country="US", region="US", at=at)

    def event_owners(self) -> tuple[str | None, str | None, str | None]:
        # the trials team's changes to an organization are its own log; the changes a
        # partner's trial makes are filed under the organization by that trial's use case
        return None, None, None

    def purchased_services(self) -> set[str]:
        return {s.service for s in self.subscriptions}

    def full_admins(self) -> list[OrgAdmin]:
        return [a for a in self.admins if a.full]

    def admin_emails(self) -> set[str]:
        return {a.email for a in self.admins}

    def add_admin(self, email: str, name: str, *, full: bool, at: datetime) -> OrgAdmin:
        admin = OrgAdmin(
            id=new_id("oad"), org_id=self.id, email=email, name=name, full=full, created_at=at
        )
        self.admins.append(admin)
        return admin

    def add_user(self, email: str, name: str, at: datetime) -> OrgUser:
        user = OrgUser(id=new_id("usr"), org_id=self.id, email=email, name=name, created_at=at)
        self.users.append(user)
        return user

    def add_subscription(
        self, service: str, quantity: int, at: datetime, *, partner_id: str | None
    ) -> Subscription:
        """Rules A1, V5: a purchased service, managed by a partner."""
        subscription = Subscription(
            id=new_id("sub"),
            org_id=self.id,
            service=service,
            quantity=quantity,
            partner_id=partner_id,
            started_at=at,
        )
        self.subscriptions.append(subscription)
        return subscription

    def release_people(
        self, free: Organization, at: datetime, *, partner_id: str, trial_id: str
    ) -> PeopleReleased:
        """Rule T7: the people move to the free consumer organization and the admin roles go.
        The caller decides that nothing else keeps the organization (decision 0007)."""
        known = {u.email for u in self.users}
        moved = len(self.users)
        for user in list(self.users):
            user.org_id = free.id
        new_users = [
            OrgUser(id=new_id("usr"), org_id=free.id, email=a.email, name=a.name, created_at=at)
            for a in self.admins
            if a.email not in known
        ]
        released = PeopleReleased(moved + len(new_users), new_users, list(self.admins))
        self.record_event(
            "organization.released",
            at,
            partner_id=partner_id,
            org_id=self.id,
            trial_id=trial_id,
            moved_to=free.id,
            people=released.moved,
        )
        return released


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

    SUBJECT_TYPE: ClassVar[str] = "customer"

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

    @classmethod
    def new(
        cls,
        *,
        partner_id: str,
        org: Organization,
        state: CustomerState,
        at: datetime,
        access: AccessLevel | None = None,
        by: str | None = None,
        **details: Any,
    ) -> Customer:
        """An organization joins a partner's list: pending its consent (rule C3), or at once
        for a new customer (rule C1) or one whose service the partner manages (rule A1)."""
        customer = cls(
            id=new_id("cus"),
            partner_id=partner_id,
            org_id=org.id,
            state=state.value,
            access=access.value if access else None,
            created_by_admin_id=by,
            created_at=at,
            organization=org,
        )
        customer.record_event(
            "customer.added", at, state=customer.state, access=customer.access, **details
        )
        return customer

    @property
    def state_enum(self) -> CustomerState:
        return CustomerState(self.state)

    def reachable_by(self, admin_id: str) -> bool:
        """Whether an admin with OWN reach manages it: it provisioned it or was assigned it."""
        return reaches(self.created_by_admin_id, (a.admin_id for a in self.assignments), admin_id)

    def assign(self, admin_id: str, at: datetime) -> None:
        """Rule P2: an administrator of the partner manages this customer too."""
        if any(a.admin_id == admin_id for a in self.assignments):
            return
        self.assignments.append(
            CustomerAssignment(
                id=new_id("asg"), customer_id=self.id, admin_id=admin_id, created_at=at
            )
        )
        self.record_event("customer.assigned", at, admin_id=admin_id)

    def unassign(self, admin_id: str, at: datetime) -> list[CustomerAssignment]:
        """Rule P2: the administrator no longer manages it; returns the assignments that go."""
        gone = [a for a in self.assignments if a.admin_id == admin_id]
        for assignment in gone:
            self.assignments.remove(assignment)
            self.record_event("customer.unassigned", at, admin_id=admin_id)
        return gone

    def require_no_request(self, org_name: str) -> None:
        """Rules C4, K5: an organization already in the list gets an added trial instead, and
        one already asked waits for its answer (resend or cancel that request)."""
        if self.state_enum is CustomerState.ACTIVE:
            raise Conflict(
                f"{org_name} is already in your customer list; add a trial to that customer "
                "instead.",
                field="customer.admin_email",
                rule="C4",
                code="already_a_customer",
            )
        if self.state_enum is CustomerState.PENDING:
            raise Conflict(
                f"A trial request to {org_name} is already waiting for consent; resend or "
                "cancel it.",
                field="customer.admin_email",
                rule="K5",
                code="consent_already_pending",
            )

    def require_consented(self) -> None:
        """Rules K4, A1: a trial is added only to a customer that accepted the partner."""
        if self.state_enum is not CustomerState.ACTIVE:
            raise Conflict(
                "This customer has not accepted your trial request yet.",
                field="customer_id",
                rule="K4",
            )

    def request_again(self, by: str, at: datetime) -> None:
        """Rule C3: an organization removed earlier (declined, cancelled, expired) is asked
        again; the same entry comes back, pending."""
        CUSTOMER_STATES.move(self, CustomerState.PENDING, at, action="customer.added", access=None)
        self.access = None
        self.removed_at = None
        self.created_by_admin_id = by

    def consent(self, access: AccessLevel, at: datetime, *, by: str, trial_id: str) -> None:
        """Rule K3: the organization joins the list with the access its administrator chose.
        An entry that joined meanwhile as the managing partner's (rule A1) takes it too."""
        self.access = access.value
        details: dict[str, Any] = {"access": self.access, "by": by}
        if self.state_enum is CustomerState.ACTIVE:
            self.record_event("customer.consented", at, trial_id=trial_id, **details)
            return
        CUSTOMER_STATES.move(
            self,
            CustomerState.ACTIVE,
            at,
            action="customer.consented",
            trial_id=trial_id,
            **details,
        )

    def withdraw(self, at: datetime, *, reason: str, other_open_trials: bool) -> None:
        """Rules K5, K6: a request cancelled, declined or expired takes the customer off the
        list, unless it is already a customer or another open trial keeps it there."""
        if self.state_enum is not CustomerState.PENDING or other_open_trials:
            return
        CUSTOMER_STATES.move(self, CustomerState.REMOVED, at, reason=reason)

    def join_as_manager(self, at: datetime) -> None:
        """Rule A1: the partner manages a service of the organization, so it is a customer
        with full administrator access; an active entry keeps the access chosen (rule K3)."""
        if self.state_enum is CustomerState.ACTIVE:
            return
        self.access = AccessLevel.FULL.value
        self.removed_at = None
        CUSTOMER_STATES.move(
            self,
            CustomerState.ACTIVE,
            at,
            action="customer.added",
            access=self.access,
            reason="manages_subscription",
        )


def reaches(created_by_admin_id: str | None, assigned: Iterable[str], admin_id: str) -> bool:
    """Rule P2: an administrator with OWN reach manages the customers it provisioned and
    those it was assigned (a customer, or a trial read as values, `TrialFacts`)."""
    return created_by_admin_id == admin_id or admin_id in assigned
