"""The outbox: emails and webhooks as rows, leased and marked sent (rules E1, E2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update

from trialhub.domain.records import OutboxMessage
from trialhub.store import dialect, tables
from trialhub.store.repositories.base import (
    Repository,
)


class OutboxRepository(Repository):
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
