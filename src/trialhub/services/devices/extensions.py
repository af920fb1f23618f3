"""Device extension requests: partners ask, the trials team approves or denies (rules D5, D6)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.devices import (
    DeviceExtensionRequest,
    DeviceShipment,
    ExtensionDecision,
    decide_extension,
    device_trial_cap,
)
from trialhub.domain.errors import (
    Conflict,
    ErrorCollector,
    InvalidTransition,
    IrreversibleLapse,
    NotFound,
    ValidationFailed,
)
from trialhub.domain.model import Trial, new_id
from trialhub.domain.roles import Action
from trialhub.domain.states import TrialStatus
from trialhub.services.devices.schemas import (
    DecideDeviceExtension,
    DeviceExtensionPage,
    DeviceExtensionView,
    RequestDeviceExtension,
)
from trialhub.services.kernel import paging
from trialhub.services.kernel.actor import Actor, require_operator, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial, trial_in_reach
from trialhub.services.messaging.outbox import queue_trial_email
from trialhub.store.uow import UnitOfWork


def request_extension(
    ctx: Context, actor: Actor, trial_id: str, cmd: RequestDeviceExtension
) -> DeviceExtensionView:
    """Rule D6: a device trial is extended by the trials team on request, never past 120 days
    from its start (rule D5). One request waits at a time."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        if trial.status == TrialStatus.LAPSED:
            raise IrreversibleLapse(
                "The trial lapsed after its grace period; it cannot be extended.", rule="T7"
            )
        if trial.status not in (TrialStatus.ACTIVE, TrialStatus.EXPIRED):
            raise InvalidTransition(
                f"Only an active trial or one in its grace period can be extended; this one is "
                f"{TrialStatus(trial.status).label.lower()}.",
                rule="D6",
            )
        out = [s for s in uow.shipments.for_trial(trial.id) if s.awaiting_return()]
        if not ctx.catalog.has_device_service(trial.open_service_codes()) and not out:
            raise ValidationFailed(
                "This trial has no device services and no devices out: extend it by 30 days "
                "instead (rule T3).",
                field="trial",
                rule="D6",
            )
        errors = ErrorCollector()
        wanted = cmd.requested_end
        current = device_end(ctx, trial, out)
        cap = device_trial_cap(trial.starts_at or trial.created_at, ctx.policy)
        if wanted.tzinfo is None:
            errors.add("requested_end", "Give the time zone (for example 2026-06-01T00:00Z).")
        elif current is not None and wanted <= current:
            errors.add(
                "requested_end",
                f"The device trial already runs to {current:%Y-%m-%d}; ask for a later end.",
                "D6",
            )
        elif wanted > cap:
            errors.add(
                "requested_end",
                f"A device trial lasts at most {ctx.policy.device_trial_max_days} days from its "
                f"start, extensions included: {cap:%Y-%m-%d} at the latest.",
                "D5",
            )
        errors.raise_if_any()
        if uow.shipments.extension_requests(decision=ExtensionDecision.PENDING, trial_id=trial.id):
            raise Conflict(
                "A device extension request for this trial already waits for the trials team.",
                rule="D6",
            )
        request = DeviceExtensionRequest(
            id=new_id("dxr"),
            trial_id=trial.id,
            requested_end=wanted,
            requested_at=now,
            reason=cmd.reason,
            partner_id=trial.partner_id,
            org_id=trial.org_id,
            requested_by_admin_id=actor.admin_id,
        )
        uow.shipments.add_extension_request(request)
        request.record_event(
            "device_extension.requested", now, requested_end=wanted, reason=cmd.reason
        )
        payload = _extension_payload(uow, request, trial, actor.partner_name or "")
        for operator in uow.admins.operators_unscoped():
            queue_trial_email(
                uow,
                request,
                "device_extension_requested",
                operator.email,
                f"dxr:{request.id}",
                now,
                payload,
            )
        uow.commit()
        return extension_view(ctx, request, trial)


def list_extension_requests(
    ctx: Context,
    actor: Actor,
    *,
    decision: str | None = None,
    trial_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> DeviceExtensionPage:
    """The trials team's queue (every partner) or a partner's own requests, oldest first,
    a page at a time."""
    errors = ErrorCollector()
    if decision is not None and decision not in {d.value for d in ExtensionDecision}:
        errors.add("decision", "decision is one of pending, approved, denied.", "D6")
    size = paging.page_size(ctx.policy, limit, errors)
    after = paging.read_cursor(cursor, errors)
    errors.raise_if_any()
    if not actor.is_operator:
        require_partner(actor, Action.READ_CUSTOMERS)
    with ctx.uow(actor.scope) as uow:

        def fetch(key: paging.Key | None, n: int) -> list[DeviceExtensionRequest]:
            return uow.shipments.extension_requests(
                decision=decision, trial_id=trial_id, limit=n, after=key
            )

        def reached(request: DeviceExtensionRequest) -> bool:
            trial = uow.trials.get(request.trial_id)
            return trial is not None and trial_in_reach(uow, actor, trial)

        found, next_cursor = paging.walk(
            fetch, reached, lambda r: (r.requested_at, r.id), size=size, after=after
        )
        items = []
        for request in found:
            trial = uow.trials.get(request.trial_id)
            assert trial is not None
            items.append(extension_view(ctx, request, trial))
        return DeviceExtensionPage(items=items, next_cursor=next_cursor)


def decide_extension_request(
    ctx: Context, actor: Actor, request_id: str, cmd: DecideDeviceExtension
) -> DeviceExtensionView:
    """Rule D6: the trials team approves or denies; an approval past the 120-day limit is
    refused (rule D5). An approval moves the end of the trial's device services and the device
    due date of the devices still out, so their reminders move too (rule D7)."""
    require_operator(actor)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        request = uow.shipments.extension_request(request_id)
        if request is None:
            raise NotFound("No such device extension request.", rule="P3")
        trial = uow.trials.get(request.trial_id)
        assert trial is not None
        if cmd.approve and trial.status not in (TrialStatus.ACTIVE, TrialStatus.EXPIRED):
            raise InvalidTransition(
                f"The trial is {TrialStatus(trial.status).label.lower()}; it cannot be extended.",
                rule="T7" if trial.status == TrialStatus.LAPSED else "D6",
            )
        decide_extension(
            request,
            approve=cmd.approve,
            started_at=trial.starts_at or trial.created_at,
            now=now,
            policy=ctx.policy,
        )
        request.decided_by_admin_id = actor.admin_id
        request.note = cmd.note
        request.record_event(
            f"device_extension.{request.decision}",
            now,
            requested_end=request.requested_end,
            note=cmd.note,
        )
        if cmd.approve:
            _apply_extension(ctx, uow, trial, request, actor, now)
        requester = (
            uow.admins.get(request.requested_by_admin_id) if request.requested_by_admin_id else None
        )
        if requester is not None:
            partner = uow.partners.get(trial.partner_id)
            payload = {
                **_extension_payload(uow, request, trial, partner.name if partner else ""),
                "decision": request.decision,
                "note": cmd.note,
            }
            cause = f"dxr-decided:{request.id}"
            queue_trial_email(
                uow, request, "device_extension_decided", requester.email, cause, now, payload
            )
        uow.commit()
        return extension_view(ctx, request, trial)


def _apply_extension(
    ctx: Context,
    uow: UnitOfWork,
    trial: Trial,
    request: DeviceExtensionRequest,
    actor: Actor,
    now: datetime,
) -> None:
    new_end = request.requested_end
    end = trial.ends_at
    has_devices = ctx.catalog.has_device_service(trial.open_service_codes())
    if has_devices and end is not None and new_end > end:
        reason = f"device extension approved by the trials team (request {request.id})"
        trial.extend_to(
            new_end,
            now,
            by=actor.admin_id,
            reason=reason + (f": {request.reason}" if request.reason else ""),
            rule="D6",
        )  # in the grace period, the trial is active again
    for shipment in uow.shipments.for_trial(trial.id):
        if not shipment.awaiting_return() or shipment.eula_due_at is None:
            continue
        if new_end > shipment.eula_due_at:
            shipment.extend(new_end, ctx.policy, now)


def device_end(ctx: Context, trial: Trial, out: list[DeviceShipment]) -> datetime | None:
    """Where the device trial ends now: the device services' end, or the latest device due
    date of the devices still out."""
    ends = [s.eula_due_at for s in out if s.eula_due_at is not None]
    if ctx.catalog.has_device_service(trial.open_service_codes()) and trial.ends_at is not None:
        ends.append(trial.ends_at)
    return max(ends) if ends else None


def extension_view(
    ctx: Context, request: DeviceExtensionRequest, trial: Trial
) -> DeviceExtensionView:
    view = DeviceExtensionView.model_validate(request)
    view.cap = device_trial_cap(trial.starts_at or trial.created_at, ctx.policy)
    return view


def _extension_payload(
    uow: UnitOfWork, request: DeviceExtensionRequest, trial: Trial, partner: str
) -> dict[str, object]:
    org = uow.organizations.get(trial.org_id)
    return {
        "organization": org.name if org else "",
        "partner": partner,
        "trial_id": trial.id,
        "request_id": request.id,
        "requested_end": request.requested_end.isoformat(),
        "reason": request.reason,
    }
