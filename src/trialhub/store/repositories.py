"""Repositories: every query a service needs, scoped to the caller's partner (rule P3)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session, lazyload

from trialhub.domain.conversion import ConversionOrder
from trialhub.domain.devices import (
    DeviceExtensionRequest,
    DeviceShipment,
    ShipmentStatus,
    ShippedDevice,
)
from trialhub.domain.model import (
    NO_END,
    Admin,
    ApiToken,
    AuditEvent,
    ConsentToken,
    Customer,
    CustomerAssignment,
    CustomerState,
    Distributor,
    DueEvent,
    IdempotencyRecord,
    MailboxEmail,
    MeetingsSite,
    OrgAdmin,
    Organization,
    OrgUser,
    OutboxMessage,
    Partner,
    Subscription,
    Trial,
    TrialService,
    WebhookDelivery,
    WebhookEndpoint,
)
from trialhub.store import tables as orm
from trialhub.store.types import UTCDateTime


@dataclass(frozen=True)
class Scope:
    """Who is acting, and which partner's data it may see (None: operator, sees all)."""

    actor_id: str | None
    actor_label: str
    partner_id: str | None
    is_operator: bool = False
    distributor_id: str | None = None  # a distributor sees the partners it serves (rule V1)

    @classmethod
    def system(cls, label: str = "system") -> Scope:
        return cls(actor_id=None, actor_label=label, partner_id=None, is_operator=True)

    @property
    def unrestricted(self) -> bool:
        return self.is_operator and self.partner_id is None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    padded = cursor + "=" * (-len(cursor) % 4)
    values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    if not isinstance(values, list):
        raise ValueError("cursor")
    return values


def decode_key(cursor: str, *kinds: type) -> tuple[Any, ...]:
    """A keyset cursor: an aware instant, then values of `kinds`. Anything else, such as a
    number too large for the database or a naive time, is a ValueError (rule E3)."""
    values = decode_cursor(cursor)
    if len(values) != 1 + len(kinds) or not isinstance(values[0], str):
        raise ValueError("cursor")
    instant = datetime.fromisoformat(values[0])
    if instant.tzinfo is None:
        raise ValueError("cursor")
    try:  # the database stores UTC: an offset can push year 1 or 9999 out of range
        instant = instant.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("cursor") from error
    if not all(type(v) is kind for v, kind in zip(values[1:], kinds, strict=True)):
        raise ValueError("cursor")
    return (instant, *values[1:])


def _after(instant: Any, row_id: Any, key: tuple[datetime, str]) -> Any:
    """Rows after `key` in (instant, id) order: a keyset page's condition."""
    return or_(instant > key[0], and_(instant == key[0], row_id > key[1]))


class _Repo:
    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _scoped(self, stmt: Select[Any], partner_column: Any) -> Select[Any]:
        """Adds the partner filter unless the caller is the unrestricted operator (rule P3)."""
        if self.scope.unrestricted:
            return stmt
        if self.scope.distributor_id is not None:
            served = select(orm.partners.c.id).where(
                orm.partners.c.distributor_id == self.scope.distributor_id
            )
            return stmt.where(partner_column.in_(served))
        return stmt.where(partner_column == self.scope.partner_id)


class PartnerRepository(_Repo):
    def add(self, partner: Partner) -> None:
        self.session.add(partner)

    def get(self, partner_id: str) -> Partner | None:
        if not self.scope.unrestricted and partner_id != self.scope.partner_id:
            return None
        return self.session.get(Partner, partner_id)

    def add_distributor(self, distributor: Distributor) -> None:
        self.session.add(distributor)

    def get_distributor(self, distributor_id: str) -> Distributor | None:
        return self.session.get(Distributor, distributor_id)


class AdminRepository(_Repo):
    def add(self, admin: Admin) -> None:
        self.session.add(admin)

    def get(self, admin_id: str) -> Admin | None:
        stmt = self._scoped(
            select(Admin).where(orm.admins.c.id == admin_id), orm.admins.c.partner_id
        )
        return self.session.scalars(stmt).one_or_none()

    def get_by_email(self, email: str) -> Admin | None:
        """Unscoped: used to keep sign-in emails unique and to authenticate."""
        return self.session.scalars(select(Admin).where(orm.admins.c.email == email)).one_or_none()

    def list_for_partner(self, partner_id: str) -> list[Admin]:
        stmt = (
            select(Admin).where(orm.admins.c.partner_id == partner_id).order_by(orm.admins.c.email)
        )
        return list(self.session.scalars(self._scoped(stmt, orm.admins.c.partner_id)))

    def of_distributor(self, distributor_id: str) -> list[Admin]:
        """A distributor's administrators (unscoped: a tier-2 partner's request reaches them)."""
        stmt = (
            select(Admin)
            .where(
                orm.admins.c.distributor_id == distributor_id, orm.admins.c.disabled_at.is_(None)
            )
            .order_by(orm.admins.c.email)
        )
        return list(self.session.scalars(stmt))

    def operators(self) -> list[Admin]:
        """The trials team (unscoped: partners' requests are addressed to it)."""
        stmt = (
            select(Admin)
            .where(orm.admins.c.partner_id.is_(None), orm.admins.c.disabled_at.is_(None))
            .order_by(orm.admins.c.email)
        )
        return [a for a in self.session.scalars(stmt) if "operator" in a.roles]

    def add_token(self, token: ApiToken) -> None:
        self.session.add(token)

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        """Unscoped: authentication runs before any scope exists."""
        stmt = select(ApiToken).where(orm.api_tokens.c.token_hash == token_hash)
        return self.session.scalars(stmt).one_or_none()

    def touch_token(self, token_id: str, now: datetime) -> None:
        """Marks a token used without loading it into the unit of work (no audit noise)."""
        self.session.execute(
            update(orm.api_tokens).where(orm.api_tokens.c.id == token_id).values(last_used_at=now)
        )


@dataclass(frozen=True)
class EmailOwner:
    """Who an email belongs to, if anyone (rule C3)."""

    organization: Organization
    is_admin: bool
    is_full_admin: bool


class OrganizationRepository(_Repo):
    """Organizations are world data: finding one by email is how rule C3 works."""

    def add(self, org: Organization) -> None:
        self.session.add(org)

    def get(self, org_id: str) -> Organization | None:
        return self.session.get(Organization, org_id)

    def add_member(self, member: OrgAdmin | OrgUser | Any) -> None:
        self.session.add(member)

    def admin_by_email(self, email: str) -> OrgAdmin | None:
        stmt = select(OrgAdmin).where(orm.org_admins.c.email == email)
        return self.session.scalars(stmt).one_or_none()

    def user_by_email(self, email: str) -> OrgUser | None:
        stmt = select(OrgUser).where(orm.org_users.c.email == email)
        return self.session.scalars(stmt).one_or_none()

    def owner_of_email(self, email: str) -> EmailOwner | None:
        admin = self.admin_by_email(email)
        if admin is not None:
            org = self.session.get(Organization, admin.org_id)
            assert org is not None
            return EmailOwner(org, is_admin=True, is_full_admin=admin.full)
        user = self.user_by_email(email)
        if user is not None:
            org = self.session.get(Organization, user.org_id)
            assert org is not None
            return EmailOwner(org, is_admin=False, is_full_admin=False)
        return None

    def email_taken(self, email: str) -> bool:
        return self.owner_of_email(email) is not None

    def free_organization(self) -> Organization | None:
        stmt = select(Organization).where(orm.organizations.c.kind == "free").limit(1)
        # its people load only when read: everyone released from a lapsed trial ends up here
        return self.session.scalars(stmt.options(lazyload("*"))).first()


@dataclass(frozen=True)
class CustomerFilter:
    status: str | None = None  # a trial status, or "none" for customers without open trials
    text: str | None = None
    expiring_within_days: int | None = None
    reach_admin_id: str | None = None  # only customers this admin provisioned or was assigned


@dataclass(frozen=True)
class CustomerRow:
    customer: Customer
    organization: Organization
    trials: list[Trial]
    sort_end: datetime | None


class CustomerRepository(_Repo):
    def add(self, customer: Customer) -> None:
        self.session.add(customer)

    def add_assignment(self, assignment: CustomerAssignment) -> None:
        self.session.add(assignment)

    def get(self, customer_id: str, *, include_removed: bool = False) -> Customer | None:
        if self.scope.unrestricted:  # the identity map first: a loaded customer costs no query
            found = self.session.get(Customer, customer_id)
            removed = found is not None and found.state == CustomerState.REMOVED.value
            return None if removed and not include_removed else found
        stmt = select(Customer).where(orm.customers.c.id == customer_id)
        if not include_removed:
            stmt = stmt.where(orm.customers.c.state != CustomerState.REMOVED.value)
        return self.session.scalars(self._scoped(stmt, orm.customers.c.partner_id)).one_or_none()

    def for_org(self, partner_id: str, org_id: str) -> Customer | None:
        stmt = select(Customer).where(
            orm.customers.c.partner_id == partner_id, orm.customers.c.org_id == org_id
        )
        return self.session.scalars(self._scoped(stmt, orm.customers.c.partner_id)).one_or_none()

    def lock_for_org(self, partner_id: str, org_id: str) -> None:
        """Serializes starts for one organization (PostgreSQL row lock; SQLite locks the file)."""
        stmt = (
            select(orm.organizations.c.id).where(orm.organizations.c.id == org_id).with_for_update()
        )
        self.session.execute(stmt)

    def soonest_open_end(self, customer_id: str) -> datetime | None:
        t = orm.trials
        stmt = select(func.min(t.c.ends_at)).where(
            t.c.customer_id == customer_id, t.c.status.in_(_OPEN_STATUSES)
        )
        value = self.session.scalar(stmt)
        return value if isinstance(value, datetime) else None

    def search(
        self, flt: CustomerFilter, *, now: datetime, limit: int, cursor: str | None
    ) -> tuple[list[CustomerRow], str | None]:
        """The customer list: a keyset walk of ix_customers_list (soonest open end date,
        then name, then id), so a page costs the same however many customers there are."""
        c, o, t = orm.customers, orm.organizations, orm.trials
        stmt = select(Customer).where(c.c.state != CustomerState.REMOVED.value)
        stmt = self._scoped(stmt, c.c.partner_id)
        if flt.reach_admin_id is not None:
            assigned = select(orm.customer_assignments.c.customer_id).where(
                orm.customer_assignments.c.admin_id == flt.reach_admin_id
            )
            stmt = stmt.where(
                or_(c.c.created_by_admin_id == flt.reach_admin_id, c.c.id.in_(assigned))
            )
        if flt.text:
            pattern = f"%{_escape_like(flt.text.lower())}%"
            admin_match = select(orm.org_admins.c.org_id).where(
                func.lower(orm.org_admins.c.email).like(pattern, escape="\\")
            )
            name_match = select(o.c.id).where(func.lower(o.c.name).like(pattern, escape="\\"))
            stmt = stmt.where(or_(c.c.org_id.in_(name_match), c.c.org_id.in_(admin_match)))
        if flt.status == "none":
            open_ones = select(t.c.customer_id).where(t.c.status.in_(_OPEN_STATUSES))
            stmt = stmt.where(~c.c.id.in_(open_ones))
        elif flt.status:
            stmt = stmt.where(c.c.id.in_(select(t.c.customer_id).where(t.c.status == flt.status)))
        if flt.expiring_within_days is not None:
            horizon = now + timedelta(days=flt.expiring_within_days)
            stmt = stmt.where(
                c.c.id.in_(
                    select(t.c.customer_id).where(
                        t.c.status == "active", t.c.ends_at <= horizon, t.c.ends_at >= now
                    )
                )
            )
        if cursor:
            end, k_name, k_id = decode_key(cursor, str, str)
            stmt = stmt.where(
                or_(
                    c.c.sort_end > end,
                    and_(c.c.sort_end == end, c.c.sort_name > k_name),
                    and_(c.c.sort_end == end, c.c.sort_name == k_name, c.c.id > k_id),
                )
            )
        stmt = stmt.order_by(c.c.sort_end, c.c.sort_name, c.c.id).limit(limit + 1)
        found = list(self.session.scalars(stmt))
        page = found[:limit]
        next_cursor = None
        if len(found) > limit:
            last = page[-1]
            next_cursor = encode_cursor([last.sort_end, last.sort_name, last.id])
        trials_by_customer = self._trials_for([cu.id for cu in page])
        out = []
        for cu in page:
            org = cu.organization or self.session.get(Organization, cu.org_id)
            assert org is not None
            out.append(
                CustomerRow(
                    customer=cu,
                    organization=org,
                    trials=trials_by_customer.get(cu.id, []),
                    sort_end=None if cu.sort_end == _NO_END else cu.sort_end,
                )
            )
        return out, next_cursor

    def _trials_for(self, customer_ids: list[str]) -> dict[str, list[Trial]]:
        if not customer_ids:
            return {}
        stmt = (
            select(Trial)
            .where(orm.trials.c.customer_id.in_(customer_ids))
            .order_by(orm.trials.c.created_at)
        )
        out: dict[str, list[Trial]] = {}
        for trial in self.session.scalars(self._scoped(stmt, orm.trials.c.partner_id)):
            out.setdefault(trial.customer_id, []).append(trial)
        return out

    def trials_of(self, customer_id: str) -> list[Trial]:
        return self._trials_for([customer_id]).get(customer_id, [])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_NO_END = literal(NO_END, UTCDateTime())
_OPEN_STATUSES = ("pending_consent", "awaiting_provisioning", "active", "expired")


class TrialRepository(_Repo):
    def add(self, trial: Trial) -> None:
        self.session.add(trial)

    def get(self, trial_id: str) -> Trial | None:
        if self.scope.unrestricted:  # the identity map first: a loaded trial costs no query
            return self.session.get(Trial, trial_id)
        stmt = select(Trial).where(orm.trials.c.id == trial_id)
        return self.session.scalars(self._scoped(stmt, orm.trials.c.partner_id)).one_or_none()

    def of_org(self, org_id: str) -> list[Trial]:
        """Every partner's trials of one organization (unscoped: the worker's view)."""
        stmt = select(Trial).where(orm.trials.c.org_id == org_id).order_by(orm.trials.c.created_at)
        # the trials' parts load when read: the worker often holds them already
        return list(self.session.scalars(stmt.options(lazyload("*"))))

    def add_service(self, service: TrialService) -> None:
        self.session.add(service)

    def open_services_of_org(self, org_id: str) -> list[tuple[TrialService, str]]:
        """Unscoped on purpose: rule S3 looks at every partner's open trials, returning only
        the service and whose trial holds it, never the other partner's trial data."""
        stmt = (
            select(TrialService, orm.trials.c.partner_id)
            .join(orm.trials, orm.trials.c.id == orm.trial_services.c.trial_id)
            .where(orm.trial_services.c.org_id == org_id, orm.trial_services.c.is_open.is_(True))
        )
        return [(row[0], row[1]) for row in self.session.execute(stmt).all()]

    def site_held(self, name: str) -> bool:
        stmt = (
            select(func.count())
            .select_from(orm.meetings_sites)
            .where(orm.meetings_sites.c.name == name, orm.meetings_sites.c.released_at.is_(None))
        )
        return bool(self.session.scalar(stmt))

    def add_site(self, site: MeetingsSite) -> None:
        self.session.add(site)


class ConsentRepository(_Repo):
    """Consent links. Unscoped reads by hash: the token itself is the credential (rule K2)."""

    def add(self, token: ConsentToken) -> None:
        self.session.add(token)

    def by_hash(self, token_hash: str) -> ConsentToken | None:
        stmt = select(ConsentToken).where(orm.consent_tokens.c.token_hash == token_hash)
        return self.session.scalars(stmt).one_or_none()

    def get(self, token_id: str) -> ConsentToken | None:
        return self.session.get(ConsentToken, token_id)

    def for_trial(self, trial_id: str) -> list[ConsentToken]:
        stmt = (
            select(ConsentToken)
            .where(orm.consent_tokens.c.trial_id == trial_id)
            .order_by(orm.consent_tokens.c.created_at, orm.consent_tokens.c.id)
        )
        return list(self.session.scalars(stmt))

    def pending_trials_of_org(self, org_id: str) -> list[Trial]:
        """Every request waiting for this organization's consent, whoever sent it (rule K7)."""
        stmt = (
            select(Trial)
            .where(orm.trials.c.org_id == org_id, orm.trials.c.status == "pending_consent")
            .order_by(orm.trials.c.created_at)
        )
        return list(self.session.scalars(stmt))

    def trial(self, trial_id: str) -> Trial | None:
        return self.session.get(Trial, trial_id)


class OutboxRepository(_Repo):
    def add(self, message: OutboxMessage) -> bool:
        """Adds the message unless one for the same recipient and cause exists (rule E2)."""
        stmt = (
            select(func.count())
            .select_from(orm.outbox)
            .where(
                orm.outbox.c.channel == message.channel,
                orm.outbox.c.recipient == message.recipient,
                orm.outbox.c.cause == message.cause,
            )
        )
        if self.session.scalar(stmt):
            return False
        for pending in self.session.new:
            if isinstance(pending, OutboxMessage) and (
                pending.channel,
                pending.recipient,
                pending.cause,
            ) == (message.channel, message.recipient, message.cause):
                return False
        self.session.add(message)
        return True

    def for_trial(self, trial_id: str) -> list[OutboxMessage]:
        stmt = (
            select(OutboxMessage).where(orm.outbox.c.trial_id == trial_id).order_by(orm.outbox.c.id)
        )
        return list(self.session.scalars(self._scoped(stmt, orm.outbox.c.partner_id)))

    def due(
        self, now: datetime, limit: int, channel: str, *, lock: bool = True
    ) -> list[tuple[int, str]]:
        """(id, recipient) of one lane's messages ready to go: unsent, available, and not
        leased by a live sender. Each is then leased on its own (`lease`). `lock=False` for
        a reader that goes on to update rows by recipient (the webhook lane's plan): row
        locks taken here would then deadlock with another worker's plan."""
        o = orm.outbox
        stmt = (
            select(o.c.id, o.c.recipient)
            .where(
                o.c.channel == channel,
                o.c.sent_at.is_(None),
                o.c.available_at <= now,
                or_(o.c.locked_until.is_(None), o.c.locked_until <= now),
            )
            .order_by(o.c.available_at, o.c.id)
            .limit(limit)
        )
        if lock and self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)  # racing workers take other rows
        return [(int(r[0]), str(r[1])) for r in self.session.execute(stmt)]

    def mark_sent(self, message_id: int, now: datetime, note: str | None = None) -> None:
        """Sent (or given up, with a note): the lease ends and the secret is erased."""
        o = orm.outbox
        self.session.execute(
            update(o)
            .where(o.c.id == message_id)
            .values(sent_at=now, locked_until=None, secret=None, last_error=note)
        )

    def postpone(self, channel: str, recipient: str, until: datetime) -> None:
        """Holds a recipient's pending messages back until then (a webhook endpoint's
        backoff), so that the lane's query does not keep finding them."""
        o = orm.outbox
        self.session.execute(
            update(o)
            .where(
                o.c.channel == channel,
                o.c.recipient == recipient,
                o.c.sent_at.is_(None),
                o.c.available_at < until,
            )
            .values(available_at=until)
        )

    def give_up(self, channel: str, recipient: str, now: datetime, note: str) -> int:
        """Closes every pending message of a recipient that is gone (a deleted endpoint)."""
        o = orm.outbox
        result = self.session.execute(
            update(o)
            .where(o.c.channel == channel, o.c.recipient == recipient, o.c.sent_at.is_(None))
            .values(sent_at=now, locked_until=None, secret=None, last_error=note)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def lease(self, message_id: int, now: datetime, until: datetime) -> bool:
        """Takes the message for one delivery attempt, if no live lease holds it."""
        o = orm.outbox
        result = self.session.execute(
            update(o)
            .where(
                o.c.id == message_id,
                o.c.sent_at.is_(None),
                or_(o.c.locked_until.is_(None), o.c.locked_until <= now),
            )
            .values(locked_until=until)
        )
        return bool(getattr(result, "rowcount", 0))

    def get(self, message_id: int) -> OutboxMessage | None:
        return self.session.get(OutboxMessage, message_id)

    def pending_count(self) -> int:
        stmt = select(func.count()).select_from(orm.outbox).where(orm.outbox.c.sent_at.is_(None))
        return int(self.session.scalar(stmt) or 0)

    def all(self, *, limit: int = 1000) -> list[OutboxMessage]:
        stmt = select(OutboxMessage).order_by(orm.outbox.c.id).limit(limit)
        return list(self.session.scalars(stmt))

    def unsent_by_channel(self) -> list[tuple[str, int, int, datetime | None]]:
        """Per channel: unsent messages, how many of them failed at least once, and the
        oldest one's creation (the operator's view of the queue; reads the pending index)."""
        o = orm.outbox
        stmt = (
            select(
                o.c.channel,
                func.count(),
                func.count().filter(o.c.attempts > 0),
                func.min(o.c.created_at),
            )
            .where(o.c.sent_at.is_(None))
            .group_by(o.c.channel)
            .order_by(o.c.channel)
        )
        return [(str(c), int(n), int(f), oldest) for c, n, f, oldest in self.session.execute(stmt)]


class DueEventRepository(_Repo):
    """The deadlines table (rule T10). The worker's queries touch only due rows."""

    def for_trial(self, trial_id: str) -> list[DueEvent]:
        return self.for_trials([trial_id])[trial_id]

    def for_trials(self, trial_ids: Sequence[str]) -> dict[str, list[DueEvent]]:
        """The deadlines of several trials in one query (the schedule of a whole batch)."""
        d = orm.due_events
        stmt = select(DueEvent).where(d.c.trial_id.in_(trial_ids)).order_by(d.c.due_at, d.c.id)
        out: dict[str, list[DueEvent]] = {t: [] for t in trial_ids}
        for row in self.session.scalars(stmt):
            out[row.trial_id].append(row)
        return out

    def add(self, event: DueEvent) -> None:
        self.session.add(event)

    def delete(self, event: DueEvent) -> None:
        self.session.delete(event)

    def due_ids(self, now: datetime, limit: int) -> list[int]:
        """Ids of due rows, oldest first; PostgreSQL skips rows another worker holds. A row
        that failed waits for its next attempt, and the trial's later rows wait behind it:
        each checks the state the earlier one leaves, so run first they would close as
        obsolete and the trial would never, say, lapse (rule T10: in order)."""
        d = orm.due_events
        earlier = orm.due_events.alias("earlier")
        failing_before = (
            select(earlier.c.id)
            .where(
                earlier.c.trial_id == d.c.trial_id,
                earlier.c.done_at.is_(None),
                earlier.c.next_attempt_at.is_not(None),
                earlier.c.due_at < d.c.due_at,
            )
            .exists()
        )
        stmt = (
            select(d.c.id)
            .where(
                d.c.done_at.is_(None),
                d.c.due_at <= now,
                or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= now),
                ~failing_before,
            )
            .order_by(d.c.due_at, d.c.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [int(i) for i in self.session.scalars(stmt)]

    def claim_batch(self, ids: Sequence[int], now: datetime) -> list[DueEvent]:
        """Marks the rows done if nobody did yet, in one conditional UPDATE that makes the
        claim exclusive on every database (SQLite serializes writers; PostgreSQL re-checks),
        and returns the claimed rows in due order. The trials and customers their handlers
        read are loaded alongside: a batch costs a few queries, not a few per row."""
        d = orm.due_events
        claimed = list(
            self.session.scalars(
                update(d)
                .where(d.c.id.in_(ids), d.c.done_at.is_(None))
                .values(done_at=now, outcome="claimed")
                .returning(d.c.id)
            )
        )
        if not claimed:
            return []
        stmt = select(DueEvent).where(d.c.id.in_(claimed)).order_by(d.c.due_at, d.c.id)
        rows = list(self.session.scalars(stmt))
        trials = self.session.scalars(
            select(Trial).where(orm.trials.c.id.in_({r.trial_id for r in rows}))
        ).all()
        customers = {t.customer_id for t in trials}
        self.session.scalars(select(Customer).where(orm.customers.c.id.in_(customers))).all()
        return rows

    def get(self, event_id: int) -> DueEvent | None:
        return self.session.get(DueEvent, event_id)

    def pending_count(self) -> int:
        stmt = (
            select(func.count())
            .select_from(orm.due_events)
            .where(orm.due_events.c.done_at.is_(None))
        )
        return int(self.session.scalar(stmt) or 0)

    def due_count(self, now: datetime) -> int:
        """Rows the next pass would take (not those waiting for a retry)."""
        d = orm.due_events
        stmt = (
            select(func.count())
            .select_from(d)
            .where(
                d.c.done_at.is_(None),
                d.c.due_at <= now,
                or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= now),
            )
        )
        return int(self.session.scalar(stmt) or 0)

    def failure_counts(self, stuck_after: int) -> tuple[int, int]:
        """Pending rows that failed at least once, and those that failed `stuck_after` times."""
        d = orm.due_events
        stmt = select(func.count(), func.count().filter(d.c.attempts >= stuck_after)).where(
            d.c.done_at.is_(None), d.c.attempts > 0
        )
        failing, stuck = self.session.execute(stmt).one()
        return int(failing), int(stuck)

    def failing(self, limit: int) -> list[DueEvent]:
        """Pending rows whose handler failed at least once, oldest deadline first."""
        d = orm.due_events
        stmt = (
            select(DueEvent)
            .where(d.c.done_at.is_(None), d.c.attempts > 0)
            .order_by(d.c.due_at, d.c.id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))


class AuditRepository(_Repo):
    def add(self, event: AuditEvent) -> None:
        self.session.add(event)

    def since(
        self, *, after: int | None, limit: int, trial_id: str | None = None
    ) -> list[AuditEvent]:
        stmt = select(AuditEvent).order_by(orm.audit_events.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(orm.audit_events.c.id > after)
        if trial_id is not None:
            stmt = stmt.where(orm.audit_events.c.trial_id == trial_id)
        return list(self.session.scalars(self._scoped(stmt, orm.audit_events.c.partner_id)))


class IdempotencyRepository(_Repo):
    def get(self, admin_id: str, key: str) -> IdempotencyRecord | None:
        return self.session.get(IdempotencyRecord, (admin_id, key))

    def add(self, record: IdempotencyRecord) -> None:
        self.session.add(record)

    def purge_older_than(self, instant: datetime) -> int:
        result = self.session.execute(
            delete(orm.idempotency_keys).where(orm.idempotency_keys.c.created_at < instant)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def take_over(
        self,
        admin_id: str,
        key: str,
        *,
        previous: str | None,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        """Takes an unfinished key whose lease ran out from `previous`; False if someone
        else finished or took it first (a conditional UPDATE: exactly one taker wins)."""
        t = orm.idempotency_keys.c
        stmt = (
            update(orm.idempotency_keys)
            .where(t.admin_id == admin_id, t.key == key, t.status_code.is_(None))
            .where(t.owner.is_not_distinct_from(previous))
            .where(or_(t.lease_until.is_(None), t.lease_until <= now))
            .values(owner=owner, lease_until=lease_until)
        )
        return int(getattr(self.session.execute(stmt), "rowcount", 0) or 0) == 1

    def complete(self, admin_id: str, key: str, *, owner: str, status_code: int, body: str) -> bool:
        """Records the answer if `owner` still holds the key; False if a retry took it."""
        t = orm.idempotency_keys.c
        stmt = (
            update(orm.idempotency_keys)
            .where(t.admin_id == admin_id, t.key == key, t.owner == owner)
            .where(t.status_code.is_(None))
            .values(status_code=status_code, response_body=body)
        )
        return int(getattr(self.session.execute(stmt), "rowcount", 0) or 0) == 1

    def release(self, admin_id: str, key: str, *, owner: str) -> None:
        """Forgets an unfinished claim of `owner`, so that a retry runs at once."""
        t = orm.idempotency_keys.c
        self.session.execute(
            delete(orm.idempotency_keys).where(
                t.admin_id == admin_id, t.key == key, t.owner == owner, t.status_code.is_(None)
            )
        )


class WebhookRepository(_Repo):
    """Webhook endpoints of the caller's partner and their delivery log."""

    def add(self, endpoint: WebhookEndpoint) -> None:
        self.session.add(endpoint)

    def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(orm.webhook_endpoints.c.id == endpoint_id)
        stmt = self._scoped(stmt, orm.webhook_endpoints.c.partner_id)
        return self.session.scalars(stmt).one_or_none()

    def of_partner(self, partner_id: str) -> list[WebhookEndpoint]:
        stmt = (
            select(WebhookEndpoint)
            .where(orm.webhook_endpoints.c.partner_id == partner_id)
            .order_by(orm.webhook_endpoints.c.created_at)
        )
        return list(self.session.scalars(self._scoped(stmt, orm.webhook_endpoints.c.partner_id)))

    def active_for_partners(self, partner_ids: set[str]) -> list[WebhookEndpoint]:
        """Unscoped: the fan-out hook serves every partner an event belongs to."""
        stmt = select(WebhookEndpoint).where(
            orm.webhook_endpoints.c.partner_id.in_(partner_ids),
            orm.webhook_endpoints.c.disabled_at.is_(None),
        )
        return list(self.session.scalars(stmt))

    def for_delivery(self, endpoint_id: str) -> WebhookEndpoint | None:
        """The endpoint, locked on PostgreSQL: two senders must not both count a failure."""
        stmt = select(WebhookEndpoint).where(orm.webhook_endpoints.c.id == endpoint_id)
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def deliveries(self, endpoint_id: str, limit: int) -> list[WebhookDelivery]:
        stmt = (
            select(WebhookDelivery)
            .where(orm.webhook_deliveries.c.endpoint_id == endpoint_id)
            .order_by(orm.webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def add_delivery(self, delivery: WebhookDelivery) -> None:
        self.session.add(delivery)


class ShipmentRepository(_Repo):
    """Device shipments of the caller's partner (rules D1-D9); the operator sees all."""

    def add(self, shipment: DeviceShipment) -> None:
        self.session.add(shipment)

    def get(self, shipment_id: str) -> DeviceShipment | None:
        stmt = select(DeviceShipment).where(orm.device_shipments.c.id == shipment_id)
        stmt = self._scoped(stmt, orm.device_shipments.c.partner_id)
        return self.session.scalars(stmt).one_or_none()

    def for_trial(self, trial_id: str) -> list[DeviceShipment]:
        stmt = (
            select(DeviceShipment)
            .where(orm.device_shipments.c.trial_id == trial_id)
            .order_by(orm.device_shipments.c.ordered_at, orm.device_shipments.c.id)
        )
        return list(self.session.scalars(self._scoped(stmt, orm.device_shipments.c.partner_id)))

    def for_trials(self, trial_ids: Sequence[str]) -> dict[str, list[DeviceShipment]]:
        """The shipments of several trials in one query (the schedule of a whole batch)."""
        stmt = (
            select(DeviceShipment)
            .where(orm.device_shipments.c.trial_id.in_(trial_ids))
            .order_by(orm.device_shipments.c.ordered_at, orm.device_shipments.c.id)
        )
        out: dict[str, list[DeviceShipment]] = {t: [] for t in trial_ids}
        for s in self.session.scalars(self._scoped(stmt, orm.device_shipments.c.partner_id)):
            out[s.trial_id].append(s)
        return out

    def demo_order_taken(self, number: str) -> bool:
        """Unscoped: demo order numbers are unique across partners (rule D9)."""
        stmt = select(func.count()).where(orm.device_shipments.c.demo_order == number)
        return bool(self.session.scalar(stmt))

    def device_trials_out(self, partner_id: str) -> int:
        """Rule D1: the partner's trials with devices ordered or out (not yet returned)."""
        stmt = select(func.count(func.distinct(orm.device_shipments.c.trial_id))).where(
            orm.device_shipments.c.partner_id == partner_id,
            orm.device_shipments.c.status != ShipmentStatus.RETURNED.value,
        )
        return int(self.session.scalar(stmt) or 0)

    def serials_out(self, serials: Sequence[str]) -> list[str]:
        """Unscoped: serial numbers already in a shipment that has not come back (rule D4)."""
        if not serials:
            return []
        stmt = (
            select(orm.shipped_devices.c.serial_number)
            .join(
                orm.device_shipments,
                orm.device_shipments.c.id == orm.shipped_devices.c.shipment_id,
            )
            .where(
                orm.shipped_devices.c.serial_number.in_(list(serials)),
                orm.device_shipments.c.status != ShipmentStatus.RETURNED.value,
            )
        )
        return sorted(set(self.session.scalars(stmt)))

    def find_demo_orders(self, org_id: str, *, serial: str | None = None) -> list[DeviceShipment]:
        """Rule D9: an organization's shipments, by serial number or (when the caller proved
        it knows an administrator's email) all of them."""
        stmt = select(DeviceShipment).where(orm.device_shipments.c.org_id == org_id)
        if serial is not None:
            stmt = stmt.where(
                orm.device_shipments.c.id.in_(
                    select(orm.shipped_devices.c.shipment_id).where(
                        orm.shipped_devices.c.serial_number == serial
                    )
                )
            )
        stmt = stmt.order_by(orm.device_shipments.c.ordered_at, orm.device_shipments.c.id)
        return list(self.session.scalars(self._scoped(stmt, orm.device_shipments.c.partner_id)))

    def add_device(self, device: ShippedDevice) -> None:
        self.session.add(device)

    def add_extension_request(self, request: DeviceExtensionRequest) -> None:
        self.session.add(request)

    def extension_request(self, request_id: str) -> DeviceExtensionRequest | None:
        r = orm.device_extension_requests
        stmt = select(DeviceExtensionRequest).where(r.c.id == request_id)
        return self.session.scalars(self._scoped(stmt, r.c.partner_id)).one_or_none()

    def extension_requests(
        self,
        *,
        decision: str | None = None,
        trial_id: str | None = None,
        limit: int = 200,
        after: tuple[datetime, str] | None = None,
    ) -> list[DeviceExtensionRequest]:
        """Oldest first; `after` is the (requested_at, id) key of the last one seen."""
        r = orm.device_extension_requests
        stmt = select(DeviceExtensionRequest)
        if decision is not None:
            stmt = stmt.where(r.c.decision == decision)
        if trial_id is not None:
            stmt = stmt.where(r.c.trial_id == trial_id)
        if after is not None:
            stmt = stmt.where(_after(r.c.requested_at, r.c.id, after))
        stmt = stmt.order_by(r.c.requested_at, r.c.id).limit(limit)
        return list(self.session.scalars(self._scoped(stmt, r.c.partner_id)))


class OrderRepository(_Repo):
    """Conversion orders and tier-2 conversion requests (rules V1-V5)."""

    def add(self, order: ConversionOrder) -> None:
        self.session.add(order)

    def get(self, order_id: str) -> ConversionOrder | None:
        stmt = select(ConversionOrder).where(orm.orders.c.id == order_id)
        return self.session.scalars(self._scoped(stmt, orm.orders.c.partner_id)).one_or_none()

    def listed(
        self,
        *,
        status: str | None = None,
        trial_id: str | None = None,
        limit: int = 200,
        after: tuple[datetime, str] | None = None,
    ) -> list[ConversionOrder]:
        """Oldest first; `after` is the (created_at, id) key of the last one seen."""
        o = orm.orders
        stmt = select(ConversionOrder)
        if status is not None:
            stmt = stmt.where(o.c.status == status)
        if trial_id is not None:
            stmt = stmt.where(o.c.trial_id == trial_id)
        if after is not None:
            stmt = stmt.where(_after(o.c.created_at, o.c.id, after))
        stmt = stmt.order_by(o.c.created_at, o.c.id).limit(limit)
        return list(self.session.scalars(self._scoped(stmt, orm.orders.c.partner_id)))

    def add_subscription(self, subscription: Subscription) -> None:
        self.session.add(subscription)


class MailboxRepository(_Repo):
    """The local mailbox (development): not partner data."""

    def add(self, mail: MailboxEmail) -> None:
        self.session.add(mail)

    def newest(self, *, recipient: str | None, limit: int) -> list[MailboxEmail]:
        stmt = select(MailboxEmail).order_by(orm.mailbox.c.id.desc()).limit(limit)
        if recipient:
            stmt = stmt.where(orm.mailbox.c.recipient == recipient)
        return list(self.session.scalars(stmt))

    def get(self, mail_id: int) -> MailboxEmail | None:
        return self.session.get(MailboxEmail, mail_id)
