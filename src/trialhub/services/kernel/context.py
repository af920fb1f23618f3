"""What every use case receives: the database, the clock, the policy, the catalog, the caller."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from limits.storage import Storage

from trialhub.catalog import Catalog, get_catalog
from trialhub.clock import Clock, SystemClock
from trialhub.domain.policy import DEFAULT_POLICY, Policy
from trialhub.services.kernel.ports import EmailRenderer, Mailer, WebhookSender
from trialhub.services.kernel.throttle import Throttle
from trialhub.store.db import Database
from trialhub.store.rate_limits import DatabaseStorage
from trialhub.store.repositories import Scope
from trialhub.store.uow import AfterAudit, BeforeCommit, UnitOfWork


@dataclass(frozen=True)
class Hooks:
    """What every commit keeps in step, inside its transaction: the deadlines of the trials
    it touched, the customer list's sort keys, the webhooks of its audit events. Features
    own the hooks; the composition root (`trialhub.bootstrap.wire`) puts them here."""

    before_commit: tuple[BeforeCommit, ...] = ()
    after_audit: tuple[AfterAudit, ...] = ()


@dataclass
class Context:
    """The application's dependencies, built once per process by the entrypoint."""

    db: Database
    clock: Clock = field(default_factory=SystemClock)
    # real time, whatever the sandbox clock says: webhook-timestamp headers use it, because
    # receivers check them against their own wall clock (Standard Webhooks, 5 minutes)
    wall_clock: Clock = field(default_factory=SystemClock)
    policy: Policy = DEFAULT_POLICY
    catalog: Catalog = field(default_factory=get_catalog)
    sandbox: bool = False
    # the local mailbox (/mailbox, `trialhub mail`) is readable: demo and sandbox only, never
    # with SMTP configured (decided once, in bootstrap); anyone who reaches it reads consent links
    local_mailbox: bool = False
    public_url: str = "http://127.0.0.1:8000"  # where links in emails point
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # delivery adapters (trialhub.notify); None: messages wait in the outbox
    renderer: EmailRenderer | None = None
    mailer: Mailer | None = None
    webhook_sender: WebhookSender | None = None
    # webhooks to this machine's loopback (development, tests, the demo); never in production
    webhook_allow_loopback: bool = False
    # the transaction hooks, wired by the composition root; a context without them refuses
    # to open a unit of work rather than commit changes that miss their deadlines
    hooks: Hooks | None = None
    # where failed secret checks are counted (rule X1); None: in this database
    rate_storage: Storage | None = None

    def uow(self, scope: Scope) -> UnitOfWork:
        if self.hooks is None:
            raise RuntimeError("this context is not wired: build it with trialhub.bootstrap")
        return UnitOfWork(
            self.db.session_factory,
            scope,
            before_commit=self.hooks.before_commit,
            after_audit=self.hooks.after_audit,
        )

    def reader(self, scope: Scope) -> UnitOfWork:
        """A unit of work that only reads (a list, a lookup): its statements run in
        autocommit, without a transaction around them (`Database.read_engine`); a write or
        a commit in it is refused."""
        return UnitOfWork(self.db.read_session_factory, scope, read_only=True)

    def now(self) -> datetime:
        return self.clock.now()

    @cached_property
    def throttle(self) -> Throttle:
        if self.rate_storage is None:
            return Throttle(DatabaseStorage(self.db, self.clock.now), self.clock.now)
        # a shared store such as Redis keeps its windows on real time
        return Throttle(self.rate_storage, self.wall_clock.now)
