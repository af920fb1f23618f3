"""Operations on a trial after its start: provision, services, extend, consent, cancel,
delete, timeline (rules T1, S4, T3, K5, T9)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from trialhub.api.deps import ContextDep, CurrentActor, IdempotentDep
from trialhub.services import customers, trials
from trialhub.services.customers.schemas import OrganizationView, SetUpUser
from trialhub.services.trials.schemas import (
    ChangeServices,
    ExtendTrial,
    ProvisionTrial,
    TimelineView,
    TrialView,
)

router = APIRouter(prefix="/v1", tags=["trials"])


@router.post("/trials/{trial_id}/provision", response_model=TrialView)
def provision(trial_id: str, run: IdempotentDep, cmd: ProvisionTrial | None = None) -> JSONResponse:
    """Complete provisioning: awaiting_provisioning -> active (rules K4, T1)."""
    body = cmd or ProvisionTrial()
    return run.run(
        lambda: trials.provision_trial(run.ctx, run.actor, trial_id, body),
        body=lambda: body.model_dump(),
    )


@router.post("/trials/{trial_id}/services", response_model=TrialView)
def change_services(trial_id: str, cmd: ChangeServices, run: IdempotentDep) -> JSONResponse:
    """Add services (subject to rule S3) or remove them; the last one stays (rule S4)."""
    return run.run(
        lambda: trials.change_services(run.ctx, run.actor, trial_id, cmd),
        body=lambda: cmd.model_dump(),
    )


@router.post("/trials/{trial_id}/extend", response_model=TrialView)
def extend(trial_id: str, run: IdempotentDep, cmd: ExtendTrial | None = None) -> JSONResponse:
    """Add the policy's extension (rule T3) to the later of the end date and today; a
    trial in its grace period becomes active again."""
    body = cmd or ExtendTrial()
    return run.run(
        lambda: trials.extend_trial(run.ctx, run.actor, trial_id, body),
        body=lambda: body.model_dump(),
    )


@router.post("/trials/{trial_id}/consent/resend", response_model=TrialView)
def resend_consent(trial_id: str, run: IdempotentDep) -> JSONResponse:
    """Send the consent links again; the consent window does not restart (rule K5)."""
    return run.run(lambda: trials.resend(run.ctx, run.actor, trial_id))


@router.post("/trials/{trial_id}/cancel", response_model=TrialView)
def cancel(trial_id: str, run: IdempotentDep) -> JSONResponse:
    """Cancel a request pending consent; the customer leaves your list (rule K5)."""
    return run.run(lambda: trials.cancel(run.ctx, run.actor, trial_id))


@router.delete("/trials/{trial_id}", response_model=TrialView)
def delete(
    trial_id: str,
    run: IdempotentDep,
    confirm: Annotated[bool, Query(description="Must be true: deleting cannot be undone")] = False,
) -> JSONResponse:
    """End the trial at once and release what it held (rule T9)."""
    return run.run(
        lambda: trials.delete_trial(run.ctx, run.actor, trial_id, confirm=confirm),
        body=lambda: {"confirm": confirm},
    )


@router.get("/trials/{trial_id}/timeline", response_model=TimelineView)
def get_timeline(trial_id: str, ctx: ContextDep, actor: CurrentActor) -> TimelineView:
    """What happened, and every deadline still ahead."""
    return trials.timeline(ctx, actor, trial_id)


@router.post("/customers/{customer_id}/users", status_code=201, response_model=OrganizationView)
def set_up_user(customer_id: str, cmd: SetUpUser, run: IdempotentDep) -> JSONResponse:
    """Set up a user on the customer's behalf; needs full-admin access (rule K3)."""
    return run.run(
        lambda: customers.set_up_user(run.ctx, run.actor, customer_id, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )
