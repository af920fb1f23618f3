"""Existing customer organizations, their admins, users and subscriptions (operator)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from trialhub.api.deps import ContextDep, CurrentActor, IdempotentDep
from trialhub.services import customers
from trialhub.services.customers.schemas import (
    AddOrgAdmin,
    AddOrgUser,
    AddSubscription,
    CreateOrganization,
    OrganizationView,
)

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])


@router.post("", status_code=201, response_model=OrganizationView, summary="Create an organization")
def create_organization(cmd: CreateOrganization, run: IdempotentDep) -> JSONResponse:
    return run.run(
        lambda: customers.create_organization(run.ctx, run.actor, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )


@router.get("/{org_id}", response_model=OrganizationView, summary="One organization (operator)")
def get_organization(org_id: str, ctx: ContextDep, actor: CurrentActor) -> OrganizationView:
    return customers.get_organization(ctx, actor, org_id)


@router.post("/{org_id}/admins", status_code=201, response_model=OrganizationView)
def add_admin(org_id: str, cmd: AddOrgAdmin, run: IdempotentDep) -> JSONResponse:
    """Add an administrator; `full` ones can accept trial requests (rule K2)."""
    return run.run(
        lambda: customers.add_org_admin(run.ctx, run.actor, org_id, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )


@router.post("/{org_id}/users", status_code=201, response_model=OrganizationView)
def add_user(org_id: str, cmd: AddOrgUser, run: IdempotentDep) -> JSONResponse:
    """Add a user."""
    return run.run(
        lambda: customers.add_org_user(run.ctx, run.actor, org_id, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )


@router.post("/{org_id}/subscriptions", status_code=201, response_model=OrganizationView)
def add_subscription(org_id: str, cmd: AddSubscription, run: IdempotentDep) -> JSONResponse:
    """Add a purchased service and the partner that manages it (rules S3, A1)."""
    return run.run(
        lambda: customers.add_subscription(run.ctx, run.actor, org_id, cmd),
        status_code=201,
        body=lambda: cmd.model_dump(),
    )
