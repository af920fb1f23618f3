"""Trials: preview, start, read."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from trialhub.api.deps import ContextDep, CurrentActor, IdempotentDep
from trialhub.services import trials
from trialhub.services.trials.schemas import PreviewTrial, PreviewView, StartTrial, TrialView

router = APIRouter(prefix="/v1/trials", tags=["trials"])


@router.post("/preview", response_model=PreviewView)
def preview_trial(cmd: PreviewTrial, ctx: ContextDep, actor: CurrentActor) -> PreviewView:
    """What starting this trial would do; writes nothing (rules C2, C3, S3)."""
    return trials.preview_trial(ctx, actor, cmd)


@router.post("", status_code=201, response_model=TrialView)
def start_trial(cmd: StartTrial, run: IdempotentDep) -> JSONResponse:
    """Start a trial for a new customer, or add one to a customer in your list (rule A1)."""
    return run.run(
        lambda: trials.start_trial(run.ctx, run.actor, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )


@router.get("/{trial_id}", response_model=TrialView)
def get_trial(trial_id: str, ctx: ContextDep, actor: CurrentActor) -> TrialView:
    """One trial of your partner organization (rule P3)."""
    return trials.get_trial(ctx, actor, trial_id)
