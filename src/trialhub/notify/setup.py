"""Chooses the delivery adapters from settings: SMTP when configured, else the mailbox."""

from __future__ import annotations

from trialhub.clock import Clock
from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.render import JinjaRenderer
from trialhub.notify.smtp import SmtpMailer
from trialhub.notify.webhooks import HttpWebhookSender
from trialhub.services.ports import Mailer
from trialhub.settings import Settings
from trialhub.store.db import Database


def build_email_adapters(
    settings: Settings, db: Database, clock: Clock, public_url: str
) -> tuple[JinjaRenderer, Mailer]:
    renderer = JinjaRenderer(public_url, settings.purchase_url)
    mailer: Mailer
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
    else:
        mailer = MailboxMailer(db, clock)
    return renderer, mailer


def build_webhook_sender(settings: Settings, timeout: float) -> HttpWebhookSender:
    return HttpWebhookSender(timeout, allow_loopback=settings.webhook_allow_loopback)
