"""GET /v1/me and GET /v1/catalog."""

from __future__ import annotations

from fastapi import APIRouter

from trialhub.api.deps import ContextDep, CurrentActor
from trialhub.services import accounts
from trialhub.services.accounts.schemas import MeView
from trialhub.services.trials import CatalogOut, catalog_view

router = APIRouter(prefix="/v1", tags=["me"])


@router.get("/me", response_model=MeView, summary="The caller, its organization and roles")
def get_me(ctx: ContextDep, actor: CurrentActor) -> MeView:
    return accounts.me(ctx, actor)


@router.get("/catalog", response_model=CatalogOut, summary="Services, limits and reference data")
def get_catalog(ctx: ContextDep, actor: CurrentActor) -> CatalogOut:
    return catalog_view(ctx)
