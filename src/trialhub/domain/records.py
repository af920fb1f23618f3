"""The application's records: the outbox, the schedule of deadlines, the local mailbox,
webhook subscriptions and their delivery log, the audit log and idempotency keys.

A `Deadline` (domain/deadlines.py) is an instant a trial will meet, computed from its state;
a `ScheduledDeadline` is that same deadline written into the schedule (table `due_events`),
which the worker claims and marks done (rules K6, T4-T8, T10): one concept, stored or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from trialhub.domain.events import EventSource
from trialhub.domain.organization import reaches


class Channel(StrEnum):
    """How an outbox message travels."""

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
class ScheduledDeadline:
    """A trial's deadline in the schedule, applied once by the worker (rules K6, T4-T8,
    T10); `kind` and `due_at` are the `Deadline` it was written from."""

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


@dataclass(slots=True)
class ClaimedDeadline:
    """A due row as the worker claimed it for a batch: what a handler reads of it (its
    trial, kind and instant). Not an entity: the batch writes its outcome back in one
    statement per outcome, not one per row (issue 11)."""

    id: int
    trial_id: str
    kind: str
    due_at: datetime
    attempts: int = 0


@dataclass(eq=False)
class TrialFacts(EventSource):
    """A trial as an expiry notice (rule T4) reads it, as values: its state, its open
    services, its organization's name and administrators, and who provisioned or was
    assigned its customer (rule P2). The worker reads these for a whole batch in a few
    queries of rows, without an entity (issue 11). It records its events as the trial
    does: the same subject, filed under the same partner, organization and trial."""

    SUBJECT_TYPE: ClassVar[str] = "trial"

    id: str
    partner_id: str
    org_id: str
    customer_id: str
    status: str
    ends_at: datetime | None
    services: tuple[str, ...]  # the open services' codes, in the trial's order
    organization: str  # the organization's name
    admin_emails: tuple[str, ...]  # the organization's administrators, in their order
    created_by_admin_id: str | None  # the customer's
    assigned_admin_ids: frozenset[str]  # the customer's (rule P2)

    @property
    def trial_id(self) -> str:
        return self.id

    def reachable_by(self, admin_id: str) -> bool:
        """As its customer's `reachable_by` (rule P2)."""
        return reaches(self.created_by_admin_id, self.assigned_admin_ids, admin_id)


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

    SUBJECT_TYPE: ClassVar[str] = "webhook"

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
