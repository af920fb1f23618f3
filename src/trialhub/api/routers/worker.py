"""The worker's state, for the trials team: deadlines due and failing, the outbox queue."""

from __future__ import annotations

from fastapi import APIRouter

from trialhub.api.deps import ContextDep, CurrentActor
from trialhub.services.lifecycle import WorkerStatus, worker_status

router = APIRouter(prefix="/v1/worker", tags=["operations"])


@router.get("/status", response_model=WorkerStatus)
def read_worker_status(ctx: ContextDep, actor: CurrentActor) -> WorkerStatus:
    """Pending and due deadlines, the ones that keep failing (with their error and next
    attempt), and the unsent messages per channel. Operators only (rule P2)."""
    return worker_status(ctx, actor)
