"""The imperative mapping of the domain's plain classes onto the tables (cosmicpython style)."""

from __future__ import annotations

from sqlalchemy.orm import registry, relationship

from trialhub.domain import conversion, devices, model
from trialhub.store import tables as t

mapper_registry = registry(metadata=t.metadata)
_mapped = False


def start_mappers() -> None:
    """Map the domain classes onto the tables; idempotent, called when a database opens."""
    global _mapped
    if _mapped:
        return
    _map_accounts()
    _map_organizations()
    _map_trials()
    _map_devices_and_orders()
    _map_machinery()
    _mapped = True


def _map_accounts() -> None:
    m = mapper_registry.map_imperatively
    m(model.Distributor, t.distributors)
    m(model.Partner, t.partners)
    m(model.Admin, t.admins)
    m(model.ApiToken, t.api_tokens)


def _map_organizations() -> None:
    m = mapper_registry.map_imperatively
    m(model.OrgAdmin, t.org_admins)
    m(model.OrgUser, t.org_users)
    m(model.Subscription, t.subscriptions)
    m(
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
    m(model.CustomerAssignment, t.customer_assignments)
    m(
        model.Customer,
        t.customers,
        properties={
            "assignments": relationship(model.CustomerAssignment, lazy="selectin"),
            "organization": relationship(model.Organization, lazy="joined"),
        },
    )


def _map_trials() -> None:
    m = mapper_registry.map_imperatively
    m(model.TrialService, t.trial_services)
    m(model.Extension, t.extensions)
    m(model.MeetingsSite, t.meetings_sites)
    m(
        model.Trial,
        t.trials,
        version_id_col=t.trials.c.version,
        properties={
            "services": relationship(
                model.TrialService, order_by=t.trial_services.c.added_at, lazy="selectin"
            ),
            "extensions": relationship(
                model.Extension, order_by=t.extensions.c.at, lazy="selectin"
            ),
            "site": relationship(model.MeetingsSite, uselist=False, lazy="selectin"),
        },
    )


def _map_devices_and_orders() -> None:
    m = mapper_registry.map_imperatively
    m(devices.ShippedDevice, t.shipped_devices)
    m(
        devices.DeviceShipment,
        t.device_shipments,
        version_id_col=t.device_shipments.c.version,
        properties={
            "devices": relationship(
                devices.ShippedDevice, order_by=t.shipped_devices.c.serial_number, lazy="selectin"
            ),
        },
    )
    m(devices.DeviceExtensionRequest, t.device_extension_requests)
    m(conversion.ConversionOrder, t.orders)


def _map_machinery() -> None:
    m = mapper_registry.map_imperatively
    m(model.ConsentToken, t.consent_tokens)
    m(model.OutboxMessage, t.outbox)
    m(model.ScheduledDeadline, t.due_events)
    m(model.MailboxEmail, t.mailbox)
    m(model.WebhookEndpoint, t.webhook_endpoints)
    m(model.WebhookDelivery, t.webhook_deliveries)
    m(model.AuditEvent, t.audit_events)
    m(model.IdempotencyRecord, t.idempotency_keys)
