"""The imperative mapping of the domain's plain classes onto the tables (cosmicpython style)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import registry, relationship

from trialhub.domain import conversion, devices, model
from trialhub.store import tables as t

mapper_registry = registry(metadata=t.metadata)
_mapped = False

# classes mapped column for column, with no relationship of their own
_PLAIN: tuple[tuple[type, Table], ...] = (
    (model.Distributor, t.distributors),
    (model.Partner, t.partners),
    (model.Admin, t.admins),
    (model.ApiToken, t.api_tokens),
    (model.OrgAdmin, t.org_admins),
    (model.OrgUser, t.org_users),
    (model.Subscription, t.subscriptions),
    (model.CustomerAssignment, t.customer_assignments),
    (model.TrialService, t.trial_services),
    (model.Extension, t.extensions),
    (model.MeetingsSite, t.meetings_sites),
    (devices.ShippedDevice, t.shipped_devices),
    (devices.DeviceExtensionRequest, t.device_extension_requests),
    (conversion.ConversionOrder, t.orders),
    (model.ConsentToken, t.consent_tokens),
    (model.OutboxMessage, t.outbox),
    (model.ScheduledDeadline, t.due_events),
    (model.MailboxEmail, t.mailbox),
    (model.WebhookEndpoint, t.webhook_endpoints),
    (model.WebhookDelivery, t.webhook_deliveries),
    (model.AuditEvent, t.audit_events),
    (model.IdempotencyRecord, t.idempotency_keys),
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
        model.Organization,
        t.organizations,
        properties={
            "admins": relationship(
                model.OrgAdmin, order_by=t.org_admins.c.created_at, lazy="selectin"
            ),
            "users": relationship(
                model.OrgUser, order_by=t.org_users.c.created_at, lazy="selectin"
            ),
            "subscriptions": relationship(
                model.Subscription, order_by=t.subscriptions.c.started_at, lazy="selectin"
            ),
        },
    )
    mapper_registry.map_imperatively(
        model.Customer,
        t.customers,
        properties={
            "assignments": relationship(model.CustomerAssignment, lazy="selectin"),
            "organization": relationship(model.Organization, lazy="joined"),
        },
    )


def _map_trials() -> None:
    """A trial loads its services, extensions and site; a device shipment its devices."""
    _map_versioned(
        model.Trial,
        t.trials,
        services=relationship(
            model.TrialService, order_by=t.trial_services.c.added_at, lazy="selectin"
        ),
        extensions=relationship(model.Extension, order_by=t.extensions.c.at, lazy="selectin"),
        site=relationship(model.MeetingsSite, uselist=False, lazy="selectin"),
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
