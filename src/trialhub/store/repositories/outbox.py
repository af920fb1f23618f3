"""The outbox: emails and webhooks as rows, leased and marked sent (rules E1, E2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import event as sa_event
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from trialhub.domain.records import OutboxMessage
from trialhub.store import dialect, tables
from trialhub.store.repositories.base import (
    Repository,
    Scope,
)

_COLUMNS = [c.key for c in tables.outbox.columns if c.key != "id"]
_DEFAULTS: dict[str, object] = {c: None for c in _COLUMNS} | {"attempts": 0}


class OutboxRepository(Repository):
    def __init__(self, session: Session, scope: Scope) -> None:
        super().__init__(session, scope)
        self._primed: set[str] = set()  # trials whose queued messages `_known` holds
        self._known: set[tuple[str, str, str]] = set()
        self._queued: list[dict[str, object]] = []  # new messages of primed trials

    def prime_trials_for_worker(self, trial_ids: Sequence[str]) -> None:
        """The worker's batch (issue 11): loads the keys of the messages already queued for
        these trials in one query, so that `add` checks them in memory instead of one count
        per message, and writes the batch's new messages for them in one executemany just
        before the commit. Causes name their trial; a duplicate of another trial's message
        would still meet the unique constraint at commit (rule E2)."""
        o = tables.outbox.c
        name = dialect.name_of(self._session)
        stmt = select(o.channel, o.recipient, o.cause).where(
            dialect.among(o.trial_id, trial_ids, name)
        )
        self._known = {(c, r, k) for c, r, k in self._session.execute(stmt)}
        self._primed = set(trial_ids)
        if not sa_event.contains(self._session, "before_commit", self._write_queued):
            sa_event.listen(self._session, "before_commit", self._write_queued)

    def _write_queued(self, _session: Session) -> None:
        rows, self._queued = self._queued, []
        self.add_new_rows(rows)

    def add_new_rows(self, messages: Sequence[dict[str, object]]) -> None:
        """Writes messages at once, in one statement, unchecked: each names something this
        transaction created (a new audit event's webhook, rule E1), or was checked against
        the batch's known messages (E2)."""
        dialect.insert_many(self._session, tables.outbox, [_DEFAULTS | m for m in messages])

    def add_fields(self, fields: dict[str, object], *, new_cause: bool = False) -> bool:
        """`add` for a message given by its columns. In the worker's batch (its trial
        primed), checked in memory and written at commit with the batch's others, without
        building an entity per message (issue 11)."""
        trial_id = fields.get("trial_id")
        if trial_id is not None and trial_id in self._primed:
            key = (fields["channel"], fields["recipient"], fields["cause"])
            if key in self._known:
                return False
            self._known.add(key)  # type: ignore[arg-type]
            self._queued.append(fields)
            return True
        return self.add(OutboxMessage(id=None, **fields), new_cause=new_cause)  # type: ignore[arg-type]

    def add(self, message: OutboxMessage, *, new_cause: bool = False) -> bool:
        """Adds the message unless one for the same recipient and cause exists (rule E2).

        Pending messages are compared in memory and only the rows already written are
        asked for, without flushing the transaction early; `new_cause` (the cause names
        something this transaction created, such as a new audit event) skips the query.
        """
        key = (message.channel, message.recipient, message.cause)
        for pending in self._session.new:
            if (
                isinstance(pending, OutboxMessage)
                and (
                    pending.channel,
                    pending.recipient,
                    pending.cause,
                )
                == key
            ):
                return False
        if not new_cause:
            stmt = (
                select(tables.outbox.c.id)
                .where(
                    tables.outbox.c.channel == message.channel,
                    tables.outbox.c.recipient == message.recipient,
                    tables.outbox.c.cause == message.cause,
                )
                .limit(1)
            )
            with self._session.no_autoflush:
                if self._session.scalar(stmt) is not None:
                    return False
        self._session.add(message)
        return True

    def for_trial(self, trial_id: str) -> list[OutboxMessage]:
        stmt = (
            select(OutboxMessage)
            .where(tables.outbox.c.trial_id == trial_id)
            .order_by(tables.outbox.c.id)
        )
        return list(self._session.scalars(self._scoped(stmt, tables.outbox.c.partner_id)))

    def due_for_worker(
        self, now: datetime, limit: int, channel: str, *, lock: bool = True
    ) -> list[tuple[int, str]]:
        """(id, recipient) of one lane's messages ready to go: unsent, available, and not
        leased by a live sender. Each is then leased on its own (`lease`). `lock=False` for
        a reader that goes on to update rows by recipient (the webhook lane's plan): row
        locks taken here would then deadlock with another worker's plan."""
        o = tables.outbox
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
        if lock:  # racing workers take other rows
            stmt = dialect.skip_locked(stmt, dialect.name_of(self._session))
        return [(int(r[0]), str(r[1])) for r in self._session.execute(stmt)]

    def mark_sent(self, message_id: int, now: datetime, note: str | None = None) -> None:
        """Sent (or given up, with a note): the lease ends and the secret is erased."""
        o = tables.outbox
        self._session.execute(
            update(o)
            .where(o.c.id == message_id)
            .values(sent_at=now, locked_until=None, secret=None, last_error=note)
        )

    def postpone(self, channel: str, recipient: str, until: datetime) -> None:
        """Holds a recipient's pending messages back until then (a webhook endpoint's
        backoff), so that the lane's query does not keep finding them."""
        o = tables.outbox
        self._session.execute(
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
        o = tables.outbox
        result = self._session.execute(
            update(o)
            .where(o.c.channel == channel, o.c.recipient == recipient, o.c.sent_at.is_(None))
            .values(sent_at=now, locked_until=None, secret=None, last_error=note)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def lease(self, message_id: int, now: datetime, until: datetime) -> bool:
        """Takes the message for one delivery attempt, if no live lease holds it."""
        o = tables.outbox
        result = self._session.execute(
            update(o)
            .where(
                o.c.id == message_id,
                o.c.sent_at.is_(None),
                or_(o.c.locked_until.is_(None), o.c.locked_until <= now),
            )
            .values(locked_until=until)
        )
        return bool(getattr(result, "rowcount", 0))

    def get_for_worker(self, message_id: int) -> OutboxMessage | None:
        return self._session.get(OutboxMessage, message_id)

    def pending_count_for_worker(self) -> int:
        stmt = (
            select(func.count()).select_from(tables.outbox).where(tables.outbox.c.sent_at.is_(None))
        )
        return int(self._session.scalar(stmt) or 0)

    def all(self, *, limit: int = 1000) -> list[OutboxMessage]:
        stmt = select(OutboxMessage).order_by(tables.outbox.c.id).limit(limit)
        return list(self._session.scalars(self._scoped(stmt, tables.outbox.c.partner_id)))

    def unsent_by_channel_for_worker(self) -> list[tuple[str, int, int, datetime | None]]:
        """Per channel: unsent messages, how many of them failed at least once, and the
        oldest one's creation (the operator's view of the queue; reads the pending index)."""
        o = tables.outbox
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
        return [(str(c), int(n), int(f), oldest) for c, n, f, oldest in self._session.execute(stmt)]
