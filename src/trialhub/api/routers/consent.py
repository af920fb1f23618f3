"""The customer's side of consent, authenticated by the link's token (rules K2, K3, K7)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from trialhub.api.deps import ContextDep, client_address
from trialhub.services import consent
from trialhub.services.consent.schemas import ConsentDecision, ConsentView

router = APIRouter(prefix="/v1/consent", tags=["consent"])


@router.get("/{token}", response_model=ConsentView)
def view_request(token: str, ctx: ContextDep, request: Request) -> ConsentView:
    """The request behind the link, and every request pending for the organization (K7)."""
    return consent.view(ctx, token, address=client_address(request))


@router.post("/{token}", response_model=ConsentView)
def decide(token: str, cmd: ConsentDecision, ctx: ContextDep, request: Request) -> ConsentView:
    """A full administrator accepts (granting full or provisioning access) or declines."""
    return consent.decide(ctx, token, cmd, address=client_address(request))
