"""Signed webhook subscriptions (partner full administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from trialhub.api.deps import ContextDep, CurrentActor, IdempotentDep
from trialhub.services import messaging
from trialhub.services.messaging.schemas import CreateWebhook, DeliveryView, WebhookView

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookView)
def create(cmd: CreateWebhook, run: IdempotentDep) -> JSONResponse:
    """Subscribe a URL to event types; the signing secret is shown once (Standard Webhooks)."""
    return run.run(
        lambda: messaging.create_endpoint(run.ctx, run.actor, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )


@router.get("", response_model=list[WebhookView])
def list_endpoints(ctx: ContextDep, actor: CurrentActor) -> list[WebhookView]:
    """Your partner's subscriptions (secrets are never shown again)."""
    return messaging.list_endpoints(ctx, actor)


@router.delete("/{endpoint_id}", response_model=WebhookView)
def delete(endpoint_id: str, run: IdempotentDep) -> JSONResponse:
    """Stop delivering to this endpoint."""
    return run.run(lambda: messaging.delete_endpoint(run.ctx, run.actor, endpoint_id))


@router.post("/{endpoint_id}/enable", response_model=WebhookView)
def enable(endpoint_id: str, run: IdempotentDep) -> JSONResponse:
    """Deliver again to an endpoint that was disabled after failing for days."""
    return run.run(lambda: messaging.enable_endpoint(run.ctx, run.actor, endpoint_id))


@router.get("/{endpoint_id}/deliveries", response_model=list[DeliveryView])
def deliveries(
    endpoint_id: str,
    ctx: ContextDep,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryView]:
    """The delivery log, newest first: every attempt with its status."""
    return messaging.list_deliveries(ctx, actor, endpoint_id, limit=limit)
