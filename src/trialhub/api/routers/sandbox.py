"""The sandbox clock (sandbox servers only; 404 elsewhere)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from trialhub.api.deps import ContextDep, CurrentActor
from trialhub.domain.errors import ValidationFailed
from trialhub.services import sandbox

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


class ClockMove(BaseModel):
    advance: str | None = Field(default=None, description="7d, 12h, 30m or ISO 8601 (P7D)")
    to: datetime | None = Field(default=None, description="An instant to move forward to")


class ClockOut(BaseModel):
    now: datetime
    applied: int = Field(description="Deadlines applied on the way")
    delivered: int = Field(description="Messages delivered on the way")
    steps: int


@router.get("/clock", response_model=ClockOut)
def read_clock(ctx: ContextDep, actor: CurrentActor) -> ClockOut:
    """The sandbox clock."""
    r = sandbox.read_clock(ctx, actor)
    return ClockOut(now=r.now, applied=0, delivered=0, steps=0)


@router.post("/clock", response_model=ClockOut)
def move_clock(cmd: ClockMove, ctx: ContextDep, actor: CurrentActor) -> ClockOut:
    """Move the clock forward; the worker runs up to the new time, deadline by deadline."""
    current = sandbox.read_clock(ctx, actor).now
    if (cmd.advance is None) == (cmd.to is None):
        raise ValidationFailed("Give either advance or to.", field="advance")
    if cmd.advance is not None:
        delta = sandbox.parse_duration(cmd.advance)
    else:
        assert cmd.to is not None
        if cmd.to.tzinfo is None:
            raise ValidationFailed("Give the instant with its time zone.", field="to")
        delta = cmd.to - current
    r = sandbox.advance(ctx, actor, delta)
    return ClockOut(now=r.now, applied=r.applied, delivered=r.delivered, steps=r.steps)
