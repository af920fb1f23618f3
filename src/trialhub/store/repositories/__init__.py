"""Repositories: every query a service needs, one module per aggregate or feature; each read
is scoped to the caller's partner (rule P3) unless its name says otherwise."""

from __future__ import annotations

from trialhub.store.repositories.accounts import AdminRepository, PartnerRepository
from trialhub.store.repositories.base import (
    Repository,
    Scope,
    decode_cursor,
    decode_key,
    encode_cursor,
)
from trialhub.store.repositories.conversion import OrderRepository
from trialhub.store.repositories.customers import (
    NO_OPEN_TRIAL,
    CustomerFilter,
    CustomerRepository,
    CustomerRow,
    ListKeys,
)
from trialhub.store.repositories.deadlines import DeadlineRepository
from trialhub.store.repositories.devices import ShipmentRepository
from trialhub.store.repositories.organizations import EmailOwner, OrganizationRepository
from trialhub.store.repositories.outbox import OutboxRepository
from trialhub.store.repositories.portal import PasswordReset, PortalRepository, PortalSession
from trialhub.store.repositories.records import (
    AuditRepository,
    IdempotencyRepository,
    MailboxRepository,
)
from trialhub.store.repositories.trials import ConsentRepository, TrialRepository
from trialhub.store.repositories.webhooks import WebhookRepository

__all__ = [
    "NO_OPEN_TRIAL",
    "AdminRepository",
    "AuditRepository",
    "ConsentRepository",
    "CustomerFilter",
    "CustomerRepository",
    "CustomerRow",
    "DeadlineRepository",
    "EmailOwner",
    "IdempotencyRepository",
    "ListKeys",
    "MailboxRepository",
    "OrderRepository",
    "OrganizationRepository",
    "OutboxRepository",
    "PartnerRepository",
    "PasswordReset",
    "PortalRepository",
    "PortalSession",
    "Repository",
    "Scope",
    "ShipmentRepository",
    "TrialRepository",
    "WebhookRepository",
    "decode_cursor",
    "decode_key",
    "encode_cursor",
]
