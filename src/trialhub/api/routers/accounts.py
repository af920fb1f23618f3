"""Partners, their administrators and API tokens (operator; partner full admins for their own)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from trialhub.api.deps import ContextDep, CurrentActor, IdempotentDep
from trialhub.services import accounts
from trialhub.services.accounts.schemas import (
    AdminView,
    CreateAdmin,
    CreatePartner,
    IssueToken,
    PartnerView,
    TokenView,
)

router = APIRouter(prefix="/v1", tags=["partners"])


@router.post("/partners", status_code=201, response_model=PartnerView, summary="Create a partner")
def create_partner(cmd: CreatePartner, run: IdempotentDep) -> JSONResponse:
    return run.run(
        lambda: accounts.create_partner(run.ctx, run.actor, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )


@router.post(
    "/partners/{partner_id}/admins",
    status_code=201,
    response_model=AdminView,
    summary="Create a partner administrator with roles (rule P2)",
)
def create_partner_admin(partner_id: str, cmd: CreateAdmin, run: IdempotentDep) -> JSONResponse:
    return run.run(
        lambda: accounts.create_admin(run.ctx, run.actor, partner_id, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(exclude={"password"}),
    )


@router.post(
    "/admins",
    status_code=201,
    response_model=AdminView,
    summary="Create a trials-team operator or distributor administrator (operator)",
)
def create_admin(cmd: CreateAdmin, run: IdempotentDep) -> JSONResponse:
    return run.run(
        lambda: accounts.create_admin(run.ctx, run.actor, None, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(exclude={"password"}),
    )


@router.post(
    "/admins/{admin_id}/tokens",
    status_code=201,
    response_model=TokenView,
    summary="Issue an API token (shown once; stored hashed)",
)
def issue_token(admin_id: str, cmd: IssueToken, run: IdempotentDep) -> JSONResponse:
    return run.run(
        lambda: accounts.issue_token(run.ctx, run.actor, admin_id, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )


@router.get(
    "/partners/{partner_id}/admins",
    response_model=list[AdminView],
    summary="A partner's administrators and their roles (rule P2)",
)
def list_partner_admins(partner_id: str, ctx: ContextDep, actor: CurrentActor) -> list[AdminView]:
    return accounts.list_admins(ctx, actor, partner_id)


@router.get(
    "/admins/{admin_id}/tokens",
    response_model=list[TokenView],
    summary="An administrator's API tokens: their prefix, never the token (rule P2)",
)
def list_tokens(admin_id: str, ctx: ContextDep, actor: CurrentActor) -> list[TokenView]:
    return accounts.list_tokens(ctx, actor, admin_id)


@router.delete(
    "/admins/{admin_id}/tokens/{token_id}",
    response_model=TokenView,
    summary="Revoke an API token: it stops authenticating at once",
)
def revoke_token(admin_id: str, token_id: str, run: IdempotentDep) -> JSONResponse:
    return run.run(lambda: accounts.revoke_token(run.ctx, run.actor, admin_id, token_id))
