"""Builds a running Context from settings: database, clock, delivery adapters and hooks."""

from __future__ import annotations

from trialhub.clock import Clock, SystemClock
from trialhub.notify.setup import build_email_adapters, build_webhook_sender
from trialhub.services.context import Context
from trialhub.services.sandbox import SandboxClock, enable, is_sandbox
from trialhub.settings import Settings
from trialhub.store.db import Database, upgrade


def build_context(
    settings: Settings,
    *,
    database_url: str | None = None,
    public_url: str | None = None,
    sandbox: bool | None = None,
    migrate: bool = True,
) -> Context:
    """Everything a server, worker or command needs. `sandbox=True` turns the database into
    a sandbox (its clock can be moved); None follows the database."""
    url = database_url or settings.database_url
    if migrate:
        upgrade(url)
    db = Database.open(url)
    if sandbox:
        enable(db)
    in_sandbox = is_sandbox(db) if sandbox is None else sandbox
    clock: Clock = SandboxClock(db) if in_sandbox else SystemClock()
    public = public_url or settings.public_url or f"http://127.0.0.1:{settings.port}"
    renderer, mailer = build_email_adapters(settings, db, clock, public)
    ctx = Context(
        db=db,
        clock=clock,
        sandbox=in_sandbox,
        public_url=public,
        renderer=renderer,
        mailer=mailer,
    )
    ctx.webhook_sender = build_webhook_sender(settings, ctx.policy.webhook_timeout_seconds)
    ctx.webhook_allow_loopback = settings.webhook_allow_loopback
    if settings.secret_key:
        ctx.secret_key = settings.secret_key
    return ctx
