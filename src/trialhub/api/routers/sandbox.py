"""The sandbox clock (sandbox servers only; 404 elsewhere). Anyone signed in reads it; only
the trials team moves it (rule P2)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from trialhub.api.deps import ContextDep, CurrentActor
from trialhub.services import lifecycle

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


class ClockMove(BaseModel):
    advance: str | None = Field(default=None, description="7d, 12h, 30m or ISO 8601 (P7D)")
    to: datetime | None = Field(default=None, description="An instant to move forward to")


class ClockOut(BaseModel):
    now: datetime
    applied: int = Field(default=0, description="Deadlines applied on the way")
    obsolete: int = Field(default=0, description="Deadlines that no longer held")
    failed: int = Field(default=0, description="Deadlines that failed; they are retried")
    steps: int = Field(default=0, description="Transactions the deadlines were applied in")
    waiting: int = Field(
        default=0, description="Messages in the outbox; the worker delivers them, not this call"
    )


@router.get("/clock", response_model=ClockOut)
def read_clock(ctx: ContextDep, actor: CurrentActor) -> ClockOut:
    """The sandbox clock."""
    return ClockOut(now=lifecycle.read_clock(ctx, actor).now)


@router.post("/clock", response_model=ClockOut)
def move_clock(cmd: ClockMove, ctx: ContextDep, actor: CurrentActor) -> ClockOut:
    """Move the clock forward (trials team only): every deadline due up to the new time is
    applied, in order; the worker then delivers the messages they queued."""
    r = lifecycle.move_clock(ctx, actor, advance=cmd.advance, to=cmd.to)
    return ClockOut(
        now=r.now,
        applied=r.applied,
        obsolete=r.obsolete,
        failed=r.failed,
        steps=r.steps,
        waiting=r.waiting,
    )
