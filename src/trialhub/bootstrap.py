"""The composition root: builds a running Context from settings (database, clock, delivery
adapters) and wires the features' transaction hooks into it."""

from __future__ import annotations

from typing import Any

from limits.storage import RedisStorage, Storage

from trialhub.clock import Clock, SystemClock
from trialhub.notify.setup import build_email_adapters, build_webhook_sender
from trialhub.services.customers import refresh_customer_keys
from trialhub.services.demo import has_demo_world
from trialhub.services.kernel import Context, Hooks
from trialhub.services.lifecycle import SandboxClock, enable_sandbox, is_sandbox
from trialhub.services.messaging import fan_out
from trialhub.services.trials import schedule_hook
from trialhub.settings import Settings
from trialhub.store.db import Database, upgrade


def wire(ctx: Context) -> Context:
    """Puts the features' transaction hooks into the context: every commit rewrites the
    deadlines of the trials it touched (rule T10) and the customer list's sort keys, and
    offers its audit events to webhook subscribers (rule E1)."""
    ctx.hooks = Hooks(
        before_commit=(
            # the keys first: a new customer's are set before its row is first written,
            # not by an UPDATE after (issue 11)
            refresh_customer_keys,
            schedule_hook(ctx.policy, ctx.catalog, ctx.clock.now),
        ),
        after_audit=(fan_out,),
    )
    return ctx


def make_context(db: Database, **fields: Any) -> Context:
    """A wired context on an open database; `fields` are the Context's other fields."""
    return wire(Context(db=db, **fields))


def build_context(
    settings: Settings,
    *,
    database_url: str | None = None,
    public_url: str | None = None,
    sandbox: bool | None = None,
    demo: bool | None = None,
    migrate: bool = True,
) -> Context:
    """Everything a server, worker or command needs. `sandbox=True` turns the database into
    a sandbox (its clock can be moved); None follows the database. `demo` says whether this
    is a demo server (`serve --demo`); None: whether the database holds the demo world."""
    url = database_url or settings.database_url
    if migrate:
        upgrade(url)
    db = Database.open(url)
    if sandbox:
        enable_sandbox(db)
    in_sandbox = is_sandbox(db) if sandbox is None else sandbox
    clock: Clock = SandboxClock(db) if in_sandbox else SystemClock()
    public = public_url or settings.public_url or f"http://127.0.0.1:{settings.port}"
    ctx = make_context(
        db,
        clock=clock,
        sandbox=in_sandbox,
        public_url=public,
        rate_storage=build_rate_storage(settings),
    )
    is_demo = has_demo_world(ctx) if demo is None else demo
    ctx.local_mailbox = local_mailbox_served(settings, demo=is_demo, sandbox=in_sandbox)
    ctx.renderer, ctx.mailer = build_email_adapters(
        settings, db, clock, public, local_mailbox=ctx.local_mailbox, policy=ctx.policy
    )
    ctx.webhook_sender = build_webhook_sender(settings, ctx.policy.webhook_timeout_seconds)
    ctx.webhook_allow_loopback = settings.webhook_allow_loopback
    if settings.secret_key:
        ctx.secret_key = settings.secret_key
    return ctx


def local_mailbox_served(settings: Settings, *, demo: bool, sandbox: bool) -> bool:
    """The local mailbox shows every partner's emails, consent links included, to whoever
    reaches it: a development tool for demo and sandbox databases only, and never once
    emails leave by SMTP (then nothing should be readable locally)."""
    return (demo or sandbox) and not settings.smtp_host


def describe_email(settings: Settings, ctx: Context) -> str:
    """One start-up line: where emails go, and why the local mailbox is on or off."""
    if settings.smtp_host:
        return (
            f"Emails: sent through SMTP {settings.smtp_host}:{settings.smtp_port}; "
            "the local mailbox is off."
        )
    if ctx.local_mailbox:
        return (
            f"Emails: local mailbox at {ctx.public_url}/mailbox (demo/sandbox only). Warning: "
            "anyone who can reach this port can read every email there, consent links included."
        )
    return (
        "Emails: waiting in the outbox until TRIALHUB_SMTP_HOST is set; the local mailbox is "
        "off (it serves only demo and sandbox databases)."
    )


def build_rate_storage(settings: Settings) -> Storage | None:
    """Redis when configured (its errors surface as limits' StorageError), else None: the
    database keeps the counts."""
    if not settings.redis_url:
        return None
    return RedisStorage(settings.redis_url, key_prefix="trialhub", wrap_exceptions=True)
