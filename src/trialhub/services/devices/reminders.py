"""Return reminders and the overdue flag, applied by the worker (rule D7)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.devices import (
    DeviceShipment,
    Recipient,
)
from trialhub.domain.trial import Trial
from trialhub.services.devices.loading import _trial
from trialhub.services.devices.views import shipment_payload
from trialhub.services.kernel.context import Context
from trialhub.services.messaging.audience import managing_admin_emails
from trialhub.services.messaging.outbox import queue_trial_email
from trialhub.store.uow import UnitOfWork


def send_reminders(ctx: Context, uow: UnitOfWork, trial: Trial, at: datetime) -> str:
    """Devices due back soon: the shipment contact, the customer administrators and the
    partner administrators who manage the customer are reminded."""
    due = [s for s in uow.shipments.for_trial(trial.id) if at in s.reminder_instants(ctx.policy)]
    if not due:
        return "obsolete"
    for shipment in due:
        cause = f"device_reminder:{shipment.id}:{at.isoformat()}"
        _tell_everyone(ctx, uow, shipment, "device_return_reminder", cause, at)
        shipment.remind_return(at)
    return "notified"


def flag_overdue(ctx: Context, uow: UnitOfWork, trial: Trial, at: datetime) -> str:
    """The return date passed with the devices still out: the shipment is flagged overdue and
    the partner and the customer are told."""
    late = [s for s in uow.shipments.for_trial(trial.id) if s.flag_overdue(at)]
    if not late:
        return "obsolete"
    for shipment in late:
        _tell_everyone(ctx, uow, shipment, "devices_overdue", f"device_overdue:{shipment.id}", at)
    return "flagged"


def _tell_everyone(
    ctx: Context, uow: UnitOfWork, s: DeviceShipment, template: str, cause: str, at: datetime
) -> None:
    """The shipment's contact and customer administrators, then the partner administrators
    who manage the customer, each with their own wording (rule D7)."""
    payload = shipment_payload(ctx, uow, s)
    for email in _customer_recipients(uow, s):
        queue_trial_email(uow, s, template, email, cause, at, payload)
    for email in _partner_recipients(uow, s):
        queue_trial_email(uow, s, template, email, cause, at, {**payload, "audience": "partner"})


def _customer_recipients(uow: UnitOfWork, s: DeviceShipment) -> list[str]:
    """The shipment's contact and, when the devices went to the customer, its administrators."""
    out = {s.address["email"]}
    if s.recipient == Recipient.CUSTOMER:
        org = uow.organizations.get(s.org_id)
        if org is not None:
            out |= {a.email for a in org.admins}
    return sorted(out)


def _partner_recipients(uow: UnitOfWork, s: DeviceShipment) -> list[str]:
    customer = uow.customers.get(_trial(uow, s).customer_id, include_removed=True)
    return managing_admin_emails(uow, customer) if customer is not None else []
