"""Conversion to a paid order (rules V1-V5): tier 1 converts, tier 2 asks its distributor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from trialhub.api.deps import ContextDep, CurrentActor, IdempotentDep
from trialhub.api.params import Cursor, PageSize
from trialhub.services import conversion
from trialhub.services.conversion.schemas import (
    ConvertTrial,
    DecideConversion,
    OrderPage,
    OrderView,
)

router = APIRouter(prefix="/v1", tags=["orders"])


@router.post(
    "/trials/{trial_id}/convert",
    status_code=201,
    response_model=OrderView,
    responses={202: {"model": OrderView, "description": "tier 2: a request for the distributor"}},
)
def convert(trial_id: str, cmd: ConvertTrial, run: IdempotentDep) -> JSONResponse:
    """Convert the trial to a paid order (rules V1-V5). A tier-1 partner or the distributor
    converts at once (201, status `completed`); a tier-2 partner files a request for its
    distributor (202, status `requested`)."""
    tier_two = run.actor.is_partner_admin and run.actor.partner_tier == 2
    return run.run(
        lambda: conversion.convert_trial(run.ctx, run.actor, trial_id, cmd),
        status_code=202 if tier_two else 201,
        body=lambda: cmd.model_dump(),
    )


@router.get("/orders", response_model=OrderPage)
def list_orders(
    ctx: ContextDep,
    actor: CurrentActor,
    status: Annotated[
        str | None, Query(description="requested, completed or declined (all when absent)")
    ] = None,
    trial_id: Annotated[str | None, Query(max_length=40, description="One trial's orders")] = None,
    limit: PageSize = None,
    cursor: Cursor = None,
) -> OrderPage:
    """Your orders and conversion requests; a distributor's queue; every order (operator).
    Oldest first, a page at a time."""
    return conversion.list_orders(
        ctx, actor, status=status, trial_id=trial_id, limit=limit, cursor=cursor
    )


@router.get("/orders/{order_id}", response_model=OrderView)
def get_order(order_id: str, ctx: ContextDep, actor: CurrentActor) -> OrderView:
    return conversion.get_order(ctx, actor, order_id)


@router.post("/orders/{order_id}/decision", response_model=OrderView)
def decide(order_id: str, cmd: DecideConversion, run: IdempotentDep) -> JSONResponse:
    """Distributor: process (convert) or decline a tier-2 partner's request (rule V1)."""
    return run.run(
        lambda: conversion.decide_request(run.ctx, run.actor, order_id, cmd),
        body=lambda: cmd.model_dump(),
    )
