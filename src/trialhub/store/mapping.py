"""The imperative mapping of the domain's plain classes onto the tables (cosmicpython style)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import registry, relationship

from trialhub.domain import (
    accounts,
    consent,
    conversion,
    devices,
    organization,
    records,
    trial,
    trial_parts,
)
from trialhub.store import tables as t

mapper_registry = registry(metadata=t.metadata)
_mapped = False

# classes mapped column for column, with no relationship of their own
_PLAIN: tuple[tuple[type, Table], ...] = (
    (accounts.Distributor, t.distributors),
    (accounts.Partner, t.partners),
    (accounts.Admin, t.admins),
    (accounts.ApiToken, t.api_tokens),
    (organization.OrgAdmin, t.org_admins),
    (organization.OrgUser, t.org_users),
    (organization.Subscription, t.subscriptions),
    (organization.CustomerAssignment, t.customer_assignments),
    (trial_parts.TrialService, t.trial_services),
    (trial_parts.Extension, t.extensions),
    (trial_parts.MeetingsSite, t.meetings_sites),
    (devices.ShippedDevice, t.shipped_devices),
    (devices.DeviceExtensionRequest, t.device_extension_requests),
    (conversion.ConversionOrder, t.orders),
    (consent.ConsentToken, t.consent_tokens),
    (records.OutboxMessage, t.outbox),
    (records.ScheduledDeadline, t.due_events),
    (records.MailboxEmail, t.mailbox),
    (records.WebhookEndpoint, t.webhook_endpoints),
    (records.WebhookDelivery, t.webhook_deliveries),
    (records.AuditEvent, t.audit_events),
    (records.IdempotencyRecord, t.idempotency_keys),
)


def start_mappers() -> None:
    """Map the domain classes onto the tables; idempotent, called when a database opens."""
    global _mapped
    if _mapped:
        return
    for cls, table in _PLAIN:
        mapper_registry.map_imperatively(cls, table)
    _map_organizations()
    _map_trials()
    _mapped = True


def _map_organizations() -> None:
    """An organization loads its people and subscriptions; a customer its organization."""
    mapper_registry.map_imperatively(
        organization.Organization,
        t.organizations,
        properties={
            "admins": relationship(
                organization.OrgAdmin, order_by=t.org_admins.c.created_at, lazy="selectin"
            ),
            "users": relationship(
                organization.OrgUser, order_by=t.org_users.c.created_at, lazy="selectin"
            ),
            "subscriptions": relationship(
                organization.Subscription, order_by=t.subscriptions.c.started_at, lazy="selectin"
            ),
        },
    )
    mapper_registry.map_imperatively(
        organization.Customer,
        t.customers,
        properties={
            "assignments": relationship(organization.CustomerAssignment, lazy="selectin"),
            "organization": relationship(organization.Organization, lazy="joined"),
        },
    )


def _map_trials() -> None:
    """A trial loads its services, extensions and site; a device shipment its devices."""
    _map_versioned(
        trial.Trial,
        t.trials,
        services=relationship(
            trial_parts.TrialService, order_by=t.trial_services.c.added_at, lazy="selectin"
        ),
        extensions=relationship(trial_parts.Extension, order_by=t.extensions.c.at, lazy="selectin"),
        site=relationship(trial_parts.MeetingsSite, uselist=False, lazy="selectin"),
        # never read or set: they tell the unit of work that a trial's row goes in after its
        # customer's and organization's, so that a new customer and its first trial go in
        # one flush (issue 11; decision 0001 flushed parents first, one flush each)
        _customer_row=relationship(organization.Customer, lazy="raise"),
        _organization_row=relationship(organization.Organization, lazy="raise"),
    )
    _map_versioned(
        devices.DeviceShipment,
        t.device_shipments,
        devices=relationship(
            devices.ShippedDevice, order_by=t.shipped_devices.c.serial_number, lazy="selectin"
        ),
    )


def _map_versioned(cls: type, table: Table, **properties: Any) -> None:
    """An aggregate whose `version` column refuses a lost update (StaleDataError)."""
    mapper_registry.map_imperatively(
        cls, table, version_id_col=table.c.version, properties=properties
    )
