"""Chooses the delivery adapters from settings: SMTP when configured, else the local mailbox
where it is served (demo and sandbox), else none: emails wait in the outbox."""

from __future__ import annotations

from trialhub.clock import Clock
from trialhub.domain.policy import Policy
from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.render import JinjaRenderer
from trialhub.notify.smtp import SmtpMailer
from trialhub.notify.webhooks import HttpWebhookSender
from trialhub.services.kernel.ports import Mailer
from trialhub.settings import Settings
from trialhub.store.db import Database


def build_email_adapters(
    settings: Settings,
    db: Database,
    clock: Clock,
    public_url: str,
    *,
    local_mailbox: bool,
    policy: Policy,
) -> tuple[JinjaRenderer, Mailer | None]:
    renderer = JinjaRenderer(public_url, settings.purchase_url, policy)
    mailer: Mailer | None = None
    if settings.smtp_host:
        mailer = SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.mail_from,
            starttls=settings.smtp_starttls,
            use_ssl=settings.smtp_ssl,
            username=settings.smtp_username,
            password=settings.smtp_password,
        )
    elif local_mailbox:
        # nobody could read a mailbox that is not served: emails then stay in the outbox,
        # and go out once SMTP is configured, instead of being marked sent into nowhere
        mailer = MailboxMailer(db, clock)
    return renderer, mailer


def build_webhook_sender(settings: Settings, timeout: float) -> HttpWebhookSender:
    return HttpWebhookSender(timeout, allow_loopback=settings.webhook_allow_loopback)
