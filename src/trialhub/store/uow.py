"""Unit of work: one transaction per use case; drains domain events into the audit log."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.exc import StaleDataError

from trialhub.domain.errors import Conflict, TrialhubError
from trialhub.domain.events import DomainEvent, EventSource
from trialhub.store import dialect, tables
from trialhub.store.held import active_hold
from trialhub.store.insert_flush import (
    Numbered,
    drop_rows_at_flush,
    insert_new,
    take_rows_at_flush,
    write_rows,
)
from trialhub.store.repositories import (
    AdminRepository,
    AuditRepository,
    ConsentRepository,
    CustomerRepository,
    DeadlineRepository,
    IdempotencyRepository,
    MailboxRepository,
    OrderRepository,
    OrganizationRepository,
    OutboxRepository,
    PartnerRepository,
    PortalRepository,
    Scope,
    ShipmentRepository,
    TrialRepository,
    WebhookRepository,
)

# a unique index or constraint -> the rule-bearing error a caller sees when it is violated
_CONSTRAINT_ERRORS: dict[str, tuple[str, str | None, str | None]] = {
    "uq_trial_services_open": (
        "This customer already has an open trial of that service (rule S3).",
        "services",
        "S3",
    ),
    "uq_meetings_sites_held": (
        "That Meetings site name is already taken.",
        "meetings.site_url",
        "S2",
    ),
    "uq_admins_email": ("An administrator with that email already exists.", "email", None),
    "uq_org_admins_email": ("That email already belongs to an organization.", "email", "C3"),
    "uq_org_users_email": ("That email already belongs to an organization.", "email", "C3"),
    "uq_subscriptions_org_id": ("The organization already has that service.", "service", None),
    "uq_customers_partner_id": ("The organization is already in this customer list.", None, "C4"),
    "pk_idempotency_keys": ("A request with this Idempotency-Key is in progress.", None, None),
    "uq_outbox_channel": ("That message was already queued.", None, "E2"),
    "uq_device_shipments_trial_id": (
        "This trial already had its shipment of that device type; only one is allowed.",
        "devices",
        "D2",
    ),
    "uq_device_shipments_demo_order": ("That demo order number is taken; retry.", None, "D9"),
    "uq_orders_requested": (
        "A conversion request for this trial already waits for the distributor.",
        None,
        "V1",
    ),
    "uq_device_extension_requests_pending": (
        "A device extension request for this trial already waits for the trials team.",
        None,
        "D6",
    ),
}

# SQLite names columns, not constraints: "UNIQUE constraint failed: trial_services.org_id, ..."
_SQLITE_COLUMNS: dict[str, str] = {
    "trial_services.org_id, trial_services.service": "uq_trial_services_open",
    "meetings_sites.name": "uq_meetings_sites_held",
    "admins.email": "uq_admins_email",
    "org_admins.email": "uq_org_admins_email",
    "org_users.email": "uq_org_users_email",
    "subscriptions.org_id, subscriptions.service": "uq_subscriptions_org_id",
    "customers.partner_id, customers.org_id": "uq_customers_partner_id",
    "idempotency_keys.admin_id, idempotency_keys.key": "pk_idempotency_keys",
    "outbox.channel, outbox.recipient, outbox.cause": "uq_outbox_channel",
    "device_shipments.trial_id, device_shipments.device_type": "uq_device_shipments_trial_id",
    "device_shipments.demo_order": "uq_device_shipments_demo_order",
    "device_extension_requests.trial_id": "uq_device_extension_requests_pending",
    "orders.trial_id": "uq_orders_requested",
}


def constraint_of(error: IntegrityError) -> str | None:
    """The name of the violated constraint, on PostgreSQL or SQLite."""
    diag = getattr(error.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    match = re.search(r"UNIQUE constraint failed: (.+)$", str(error.orig))
    if match:
        return _SQLITE_COLUMNS.get(match.group(1).strip())
    return None


def translate_integrity_error(error: IntegrityError) -> TrialhubError:
    name = constraint_of(error)
    if name in _CONSTRAINT_ERRORS:
        message, field, rule = _CONSTRAINT_ERRORS[name]
        return Conflict(message, field=field, rule=rule, code=f"conflict.{name}")
    return Conflict("The change conflicts with existing data.")


@dataclass(frozen=True, slots=True)
class WrittenEvent:
    """An audit row as the commit wrote it: its id, the event, who did it, and the values
    before and after as stored (JSON). What after-audit hooks see: a plain record, not a
    mapped entity, for a batch of the worker writes thousands (issue 11)."""

    id: int
    event: DomainEvent
    actor_label: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# the unit of work a session belongs to, in `session.info`: the session events below are
# listened to once, for every session, and find their unit of work there (listening on each
# new session cost a third of a read-only unit of work's CPU, issue 11)
_UOW = "trialhub.uow"


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    uow = session.info.get(_UOW)
    if uow is None:
        return
    if uow.read_only:
        uow._refuse(session)
    else:
        uow._track(session)


def _loaded_as_persistent(session: Session, instance: object) -> None:
    uow = session.info.get(_UOW)
    if uow is not None:
        uow._loaded.append(instance)


sa_event.listen(Session, "before_flush", _before_flush)
sa_event.listen(Session, "loaded_as_persistent", _loaded_as_persistent)

BeforeCommit = Callable[["UnitOfWork"], None]
AfterAudit = Callable[["UnitOfWork", list[WrittenEvent]], None]


class UnitOfWork:
    """`with uow: ...; uow.commit()`. Leaving without commit rolls everything back.

    Hooks run inside the transaction at commit: `before_commit` ones first (the schedule of
    deadlines follows the trials changed), then the audit rows are written, then
    `after_audit` ones see them with their ids (webhook fan-out). So everything a change
    causes commits with it, or not at all (rules E1, E2, T10).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        scope: Scope,
        *,
        before_commit: Sequence[BeforeCommit] = (),
        after_audit: Sequence[AfterAudit] = (),
        read_only: bool = False,
    ) -> None:
        self._session_factory = session_factory
        self.scope = scope
        self.read_only = read_only
        self._session: Session | None = None
        self.extra_events: list[DomainEvent] = []
        self._before_commit = before_commit
        self._after_audit = after_audit

    def _live(self) -> Session:
        """The open session: private to the store (architecture 15), services never see it."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    def __enter__(self) -> UnitOfWork:
        # an idempotent request's use case commits by handing its transaction to the hold
        self._hold = active_hold()
        if self._hold is not None and self._hold.uow is not None:
            raise RuntimeError("the request's transaction is held: use that unit of work")
        self._session = self._session_factory(info={_UOW: self})
        self._touched: list[object] = []
        self._touched_ids: set[int] = set()  # id() of those (held: never reused meanwhile)
        # id() of the objects deleted, flushed: not held, so a new object may come to reuse
        # one; only `untouched` reads them, and errs towards "touched" then
        self._deleted_ids: set[int] = set()
        self._created: set[int] = set()  # id() of the objects this transaction inserted
        # the identity map holds objects weakly: an entity that recorded an event but changed
        # no column could vanish before commit, its events with it, so keep every loaded one
        self._loaded: list[object] = []
        s, scope = self._session, self.scope
        self.partners = PartnerRepository(s, scope)
        self.admins = AdminRepository(s, scope)
        self.organizations = OrganizationRepository(s, scope)
        self.customers = CustomerRepository(s, scope)
        self.trials = TrialRepository(s, scope)
        self.audit = AuditRepository(s, scope)
        self.idempotency = IdempotencyRepository(s, scope)
        self.consent = ConsentRepository(s, scope)
        self.outbox = OutboxRepository(s, scope)
        self.deadlines = DeadlineRepository(s, scope)
        self.webhooks = WebhookRepository(s, scope)
        self.mailbox = MailboxRepository(s, scope)
        self.shipments = ShipmentRepository(s, scope)
        self.orders = OrderRepository(s, scope)
        self.portal = PortalRepository(s, scope)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        if session is None:
            return
        if self._hold is not None and self._hold.uow is self:
            if exc_type is None:
                return  # the hold commits or rolls back, once the answer is recorded
            self._hold.forget(self)
        self.end(commit=False)

    def end(self, *, commit: bool) -> None:
        """Commits (a held transaction) or rolls back, and closes."""
        session = self._live()
        try:
            if commit:
                write_rows(session, take_rows_at_flush(session))  # none are left, as a rule
                session.commit()
            else:
                drop_rows_at_flush(session)
                session.rollback()
        finally:
            session.close()
            self._session = None

    def _refuse(self, session: Session) -> None:
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("a read-only unit of work cannot write: use ctx.uow()")

    def _track(self, session: Session) -> None:
        seen = self._touched_ids
        for obj in session.new:
            self._created.add(id(obj))
        for obj in (*session.new, *session.dirty):
            if id(obj) not in seen:
                self._touched.append(obj)
                seen.add(id(obj))
        self._deleted_ids.update(id(obj) for obj in session.deleted)

    def touched(self) -> list[object]:
        """Every object added or changed in this transaction, flushed or not."""
        session = self._live()
        out = list(self._touched)
        seen = {id(o) for o in out}
        out.extend(o for o in (*session.new, *session.dirty) if id(o) not in seen)
        return out

    def untouched(self, *entities: object) -> bool:
        """Whether none of these entities was added, changed or deleted in this transaction,
        flushed or not: what is computed from them alone is what it was when they were
        loaded (the worker then need not compute a trial's deadlines again, issue 11).
        Changes made around the session, by a statement of its own, are not seen."""
        deleted = self._live().deleted
        for entity in entities:
            if id(entity) in self._touched_ids or id(entity) in self._deleted_ids:
                return False
            if entity in deleted:
                return False
            state = instance_state(entity)
            if state.modified or state.pending:
                return False
        return True

    def created(self, obj: object) -> bool:
        """Whether this transaction inserted `obj` (flushed or not) and still holds it: its
        rows in other tables can only be ones it wrote too, so hooks need not query for them
        (a savepoint rolled back expunges what it inserted)."""
        session = self._live()
        return obj in session and (id(obj) in self._created or obj in session.new)

    def record(self, event: DomainEvent) -> None:
        """An event that no entity carries (for example, a token issued)."""
        self.extra_events.append(event)

    def carry(self, source: EventSource) -> None:
        """An event source the session does not hold (a trial read as values,
        `TrialFacts`): the events it records are written with the others, and a savepoint
        rolled back drops them as it drops an entity's."""
        self._loaded.append(source)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that an error undoes alone, its recorded events with it
        (one failing deadline must not take the others along, rule T10); the error goes on."""
        session = self._live()
        kept = self._drain_events()  # events recorded so far survive the rollback
        nested = session.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            self._drain_events()  # what the failed part recorded never happened
            self.extra_events = kept
            raise
        nested.commit()
        self.extra_events = kept + self.extra_events

    def _drain_events(self) -> list[DomainEvent]:
        session = self._live()
        events: list[DomainEvent] = []
        seen: set[int] = set()
        for obj in [*session.new, *session.identity_map.values(), *self._loaded, *self._touched]:
            if id(obj) in seen or not isinstance(obj, EventSource):
                continue
            seen.add(id(obj))
            events.extend(obj.drain_events())
        events.extend(self.extra_events)
        self.extra_events = []
        return sorted(events, key=lambda e: e.at)

    def flush(self) -> None:
        """Send pending changes now, turning constraint violations and lost updates into
        rule errors."""
        session = self._live()
        with _translated(session):
            self._flush(session)

    def _flush(self, session: Session, numbered: Numbered | None = None) -> None:
        """New entities alone go in as `insert_flush` writes them (decision 0021), with the
        rows held for this flush (`insert_at_flush`); anything else is SQLAlchemy's flush,
        and the rows after it. Either way the entities are tracked first."""
        rows = take_rows_at_flush(session)
        if session.new and not self.read_only:
            self._track(session)
            try:
                if insert_new(session, rows, numbered):
                    return
            except BaseException:
                # as a failed flush outside a savepoint does: the transaction is over
                session.rollback()
                raise
        session.flush()
        write_rows(session, rows)

    def commit(self) -> None:
        """Write the audit rows for every recorded event, then commit in one transaction."""
        if self.read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit: use ctx.uow()")
        session = self._live()
        with _translated(session):
            for hook in self._before_commit:
                hook(self)
            written = self._write_audit(session)
            if written:
                for after in self._after_audit:
                    after(self, written)
            if self._hold is None:
                session.commit()
            else:  # checked now (constraints, versions), committed with the request's answer
                self._flush(session)
                self._hold.take(self)

    def rollback(self) -> None:
        session = self._live()
        drop_rows_at_flush(session)
        session.rollback()

    def _write_audit(self, session: Session) -> list[WrittenEvent]:
        """One audit row per recorded event (rule E1), written after the entities they name
        in one multi-row INSERT that returns their ids in order: the last part of the
        flush's one statement on PostgreSQL (`insert_flush.Numbered`), else its own."""
        events = self._drain_events()
        rows: list[dict[str, Any]] = [
            {
                "at": e.at,
                "action": e.action,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "actor_id": self.scope.actor_id,
                "actor_label": self.scope.actor_label,
                "partner_id": e.partner_id,
                "org_id": e.org_id,
                "trial_id": e.trial_id,
                "before": _jsonable(e.before),
                "after": _jsonable(e.after),
            }
            for e in events
        ]
        # with the flush's one statement where it can (PostgreSQL): a round trip fewer
        audit = Numbered(tables.audit_events, rows)
        self._flush(session, audit)
        if not events:
            return []
        ids = audit.ids
        if ids is None:
            ids = dialect.insert_many(session, tables.audit_events, rows, ids=True)
        return [
            WrittenEvent(int(i), e, row["actor_label"], row["before"], row["after"])
            for i, e, row in zip(ids, events, rows, strict=True)
        ]


@contextmanager
def _translated(session: Session) -> Iterator[None]:
    """A constraint violated or an update lost (a version that moved meanwhile, in a hook's
    flush as at commit) ends the transaction and is a rule error, never a 500."""
    try:
        yield
    except IntegrityError as error:
        session.rollback()
        raise translate_integrity_error(error) from error
    except StaleDataError as error:
        session.rollback()
        raise Conflict(
            "Someone else changed this trial at the same time; reload and try again.",
            code="conflict.concurrent_update",
        ) from error


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = {}
    for k, v in value.items():
        if hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        elif isinstance(v, (set, frozenset, tuple)):
            out[k] = sorted(v) if isinstance(v, (set, frozenset)) else list(v)
        else:
            out[k] = v
    return out
