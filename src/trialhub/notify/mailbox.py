"""The local mailbox: `make serve` delivers emails into the database, for the web and CLI."""

from __future__ import annotations

from trialhub.clock import Clock
from trialhub.domain.records import MailboxEmail
from trialhub.services.kernel.ports import Email
from trialhub.store.db import Database


class MailboxMailer:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def send(self, email: Email) -> None:
        with self.db.session_factory() as session:
            session.add(
                MailboxEmail(
                    id=None,
                    recipient=email.to,
                    subject=email.subject,
                    text=email.text,
                    html=email.html,
                    message_id=email.message_id,
                    created_at=self.clock.now(),
                )
            )
            session.commit()
