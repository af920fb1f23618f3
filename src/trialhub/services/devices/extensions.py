"""Device extension requests: partners ask, the trials team approves or denies (rules D5, D6)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.devices import (
    DeviceExtensionRequest,
    ExtensionDecision,
    trial_device_cap,
)
from trialhub.domain.errors import ErrorCollector, NotFound
from trialhub.domain.roles import Action
from trialhub.domain.trial import Trial
from trialhub.services.devices.schemas import (
    DecideDeviceExtension,
    DeviceExtensionPage,
    DeviceExtensionView,
    RequestDeviceExtension,
)
from trialhub.services.kernel import paging
from trialhub.services.kernel.actor import Actor, require_operator, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial, trials_in_reach
from trialhub.services.messaging.outbox import queue_trial_email
from trialhub.store.uow import UnitOfWork


def request_extension(
    ctx: Context, actor: Actor, trial_id: str, cmd: RequestDeviceExtension
) -> DeviceExtensionView:
    """Rule D6: a device trial is extended by the trials team on request, never past the
    policy's device maximum from its start (rule D5). One request waits at a time."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        waiting = uow.shipments.extension_requests(
            decision=ExtensionDecision.PENDING, trial_id=trial.id
        )
        request = DeviceExtensionRequest.file(
            trial,
            ctx.catalog,
            ctx.policy,
            shipments=uow.shipments.for_trial(trial.id),
            requested_end=cmd.requested_end,
            reason=cmd.reason,
            one_waiting=bool(waiting),
            by=actor.admin_id,
            at=now,
        )
        uow.shipments.add_extension_request(request)
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
    paging.one_of(errors, "decision", decision, (d.value for d in ExtensionDecision), "D6")
    size = paging.page_size(ctx.policy, limit, errors)
    after = paging.read_cursor(cursor, errors)
    errors.raise_if_any()
    if not actor.is_operator:
        require_partner(actor, Action.READ_CUSTOMERS)
    with ctx.uow(actor.scope) as uow:
        trials: dict[str, Trial] = {}
        reached_trials: set[str] = set()

        def fetch(key: paging.Key | None, n: int) -> list[DeviceExtensionRequest]:
            batch = uow.shipments.extension_requests(
                decision=decision, trial_id=trial_id, limit=n, after=key
            )
            # the batch's trials and their customers in one query each, not one a request
            # (issues 10, 11: no N+1)
            loaded = uow.trials.get_many({r.trial_id for r in batch} - set(trials))
            trials.update(loaded)
            reached_trials.update(trials_in_reach(uow, actor, loaded.values()))
            return batch

        def reached(request: DeviceExtensionRequest) -> bool:
            return request.trial_id in reached_trials

        found, next_cursor = paging.walk(
            fetch, reached, lambda r: (r.requested_at, r.id), size=size, after=after
        )
        items = [extension_view(ctx, r, trials[r.trial_id]) for r in found]
        return DeviceExtensionPage(items=items, next_cursor=next_cursor)


def decide_extension_request(
    ctx: Context, actor: Actor, request_id: str, cmd: DecideDeviceExtension
) -> DeviceExtensionView:
    """Rule D6: the trials team approves or denies; an approval past the policy's device
    maximum is refused (rule D5). An approval moves the end of the trial's device services and
    the device due date of the devices still out, so their reminders move too (rule D7)."""
    require_operator(actor)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        request = uow.shipments.extension_request(request_id)
        if request is None:
            raise NotFound("No such device extension request.", rule="P3")
        trial = uow.trials.get(request.trial_id)
        assert trial is not None
        shipments = uow.shipments.for_trial(trial.id)
        request.decide(
            cmd.approve,
            trial,
            shipments,
            ctx.catalog,
            ctx.policy,
            by=actor.admin_id,
            note=cmd.note,
            at=now,
        )
        _tell_requester(uow, request, trial, now)
        uow.commit()
        return extension_view(ctx, request, trial)


def _tell_requester(
    uow: UnitOfWork, request: DeviceExtensionRequest, trial: Trial, now: datetime
) -> None:
    requester = (
        uow.admins.get(request.requested_by_admin_id) if request.requested_by_admin_id else None
    )
    if requester is None:
        return
    partner = uow.partners.get(trial.partner_id)
    payload = {
        **_extension_payload(uow, request, trial, partner.name if partner else ""),
        "decision": request.decision,
        "note": request.note,
    }
    cause = f"dxr-decided:{request.id}"
    queue_trial_email(
        uow, request, "device_extension_decided", requester.email, cause, now, payload
    )


def extension_view(
    ctx: Context, request: DeviceExtensionRequest, trial: Trial
) -> DeviceExtensionView:
    view = DeviceExtensionView.model_validate(request)
    view.cap = trial_device_cap(trial, ctx.policy)
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
