"""What the worker has in hand: deadlines pending and due, the ones that keep failing, and
the outbox per channel (the trials team's view; rules T10, E2)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from trialhub.services.kernel.actor import Actor, require_operator
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.views import view_of

FAILING_SHOWN = 50  # the oldest failing deadlines listed; the count covers them all


class FailingDeadline(BaseModel):
    """A deadline whose handler raised; it waits for its next attempt."""

    id: int
    trial_id: str
    kind: str
    due_at: datetime
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    stuck: bool = Field(description="Failed at least the policy's number of times (rule T10)")


class ChannelQueue(BaseModel):
    """Unsent messages of one channel (email, webhook)."""

    channel: str
    pending: int
    failing: int = Field(description="Pending messages that failed at least once")
    oldest_created_at: datetime | None


class WorkerStatus(BaseModel):
    now: datetime
    deadlines_pending: int = Field(description="Deadlines not applied yet, due or not")
    deadlines_due: int = Field(description="Deadlines the next pass takes")
    deadlines_failing: int
    deadlines_stuck: int
    stuck_after_attempts: int
    failing: list[FailingDeadline] = Field(description="The oldest failing deadlines")
    outbox: list[ChannelQueue]


def worker_status(ctx: Context, actor: Actor) -> WorkerStatus:
    """Only the trials team sees it (rule P2): it spans every partner."""
    require_operator(actor)
    now = ctx.now()
    stuck_after = ctx.policy.deadline_stuck_after_attempts
    with ctx.uow(actor.scope) as uow:
        failing, stuck = uow.due.failure_counts(stuck_after)
        status = WorkerStatus(
            now=now,
            deadlines_pending=uow.due.pending_count(),
            deadlines_due=uow.due.due_count(now),
            deadlines_failing=failing,
            deadlines_stuck=stuck,
            stuck_after_attempts=stuck_after,
            failing=[
                view_of(FailingDeadline, r, id=r.id or 0, stuck=r.attempts >= stuck_after)
                for r in uow.due.failing(limit=FAILING_SHOWN)
            ],
            outbox=[
                ChannelQueue(channel=c, pending=n, failing=f, oldest_created_at=oldest)
                for c, n, f, oldest in uow.outbox.unsent_by_channel()
            ],
        )
    return status
