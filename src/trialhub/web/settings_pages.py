"""Settings: administrators and their roles (only roles the signed-in administrator may
grant, rule P2), one's own API tokens (shown once, then only their prefix; revoke), and
webhook endpoints (the destination checks, enable, their delivery log). The same use cases
as `/v1/partners/{id}/admins`, `/v1/admins/{id}/tokens` and `/v1/webhooks`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from trialhub.domain.roles import Action, Role
from trialhub.services import accounts, messaging
from trialhub.services.accounts.schemas import CreateAdmin, IssueToken
from trialhub.services.kernel import Actor
from trialhub.services.messaging.schemas import CreateWebhook
from trialhub.web.form_errors import REFUSED_INPUT, command, field_errors
from trialhub.web.portal import CsrfChecked, Signed, can, ctx_of, render

router = APIRouter(include_in_schema=False)

# rule P2's names of the partner roles
ROLE_LABELS = {
    Role.PARTNER_FULL_ADMIN: "Partner full administrator",
    Role.PARTNER_ADMIN: "Partner administrator",
    Role.SALES_FULL_ADMIN: "Sales full administrator",
    Role.SALES_ADMIN: "Sales administrator",
    Role.READ_ONLY: "Partner read-only administrator",
    Role.OPERATOR: "Trials team",
    Role.DISTRIBUTOR: "Distributor",
}
DONE = {
    "admin": "Administrator created.",
    "revoked": "API token revoked: it no longer works.",
    "enabled": "Webhook enabled: deliveries start again.",
}
Text = Annotated[str, Form(max_length=300)]


@router.get("/settings")
def settings_page(
    request: Request, signed: Signed, done: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    return render_settings(request, signed.actor, flash=DONE.get(done))


def render_settings(
    request: Request, actor: Actor, *, status_code: int = 200, **values: Any
) -> Response:
    ctx = ctx_of(request)
    manages = can(actor, Action.MANAGE_ADMINS.value) and actor.partner_id is not None
    forms: dict[str, Any] = {
        "admin_form": {"values": {}, "roles": [], "errors": {}},
        "token_form": {"values": {}, "errors": {}},
        "webhook_form": {"values": {}, "errors": {}},
        "flash": None,
        "new_token": None,
        "new_webhook": None,
        **values,
    }
    return render(
        request,
        "settings.html",
        status_code=status_code,
        admins=accounts.list_admins(ctx, actor, actor.partner_id or "") if manages else [],
        grantable=[(r.value, ROLE_LABELS[r]) for r in accounts.grantable_roles(actor)],
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
        tokens=accounts.list_tokens(ctx, actor, actor.admin_id),
        webhooks=messaging.list_endpoints(ctx, actor) if manages else [],
        manages=manages,
        **forms,
    )


@router.post("/settings/admins", dependencies=[CsrfChecked])
def create_admin(
    request: Request,
    signed: Signed,
    name: Text = "",
    email: Text = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """Rule P2: a partner full administrator adds its own partner's administrators, with
    roles whose rights it holds itself; the service refuses any other (403)."""
    actor = signed.actor
    try:
        cmd = command(
            lambda: CreateAdmin(name=name, email=email, roles=roles, password=password or None)
        )
        accounts.create_admin(ctx_of(request), actor, actor.partner_id, cmd)
    except REFUSED_INPUT as e:
        form = {"values": {"name": name, "email": email}, "roles": roles, "errors": field_errors(e)}
        return render_settings(request, actor, status_code=422, admin_form=form)
    return RedirectResponse("/settings?done=admin", status_code=303)


@router.post("/settings/tokens", dependencies=[CsrfChecked])
def issue_token(request: Request, signed: Signed, label: Text = "") -> Response:
    """An API token for oneself (rule P2), shown on this answer only: stored hashed, listed
    by its prefix afterwards."""
    actor = signed.actor
    try:
        cmd = command(lambda: IssueToken(label=label.strip() or "api"))
        issued = accounts.issue_token(ctx_of(request), actor, actor.admin_id, cmd)
    except REFUSED_INPUT as e:
        form = {"values": {"label": label}, "errors": field_errors(e)}
        return render_settings(request, actor, status_code=422, token_form=form)
    page = render_settings(request, actor, new_token=issued)
    page.headers["Cache-Control"] = "no-store"  # the token is on this page once
    return page


@router.post("/settings/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke_token(request: Request, signed: Signed, token_id: str) -> Response:
    accounts.revoke_token(ctx_of(request), signed.actor, signed.actor.admin_id, token_id)
    return RedirectResponse("/settings?done=revoked", status_code=303)


@router.post("/settings/webhooks", dependencies=[CsrfChecked])
def create_webhook(
    request: Request,
    signed: Signed,
    url: Annotated[str, Form(max_length=2000)] = "",
    event_types: Text = "",
    description: Text = "",
) -> Response:
    """The destination checks (rule E3) and event types (rule E1) of the API; the signing
    secret is shown on this answer only."""
    actor = signed.actor
    kinds = [k for k in event_types.replace(",", " ").split() if k]
    try:
        cmd = command(
            lambda: CreateWebhook(url=url, event_types=kinds, description=description or None)
        )
        created = messaging.create_endpoint(ctx_of(request), actor, cmd)
    except REFUSED_INPUT as e:
        typed = {"url": url, "event_types": event_types, "description": description}
        form = {"values": typed, "errors": field_errors(e)}
        return render_settings(request, actor, status_code=422, webhook_form=form)
    page = render_settings(request, actor, new_webhook=created)
    page.headers["Cache-Control"] = "no-store"
    return page


@router.post("/settings/webhooks/{endpoint_id}/enable", dependencies=[CsrfChecked])
def enable_webhook(request: Request, signed: Signed, endpoint_id: str) -> Response:
    messaging.enable_endpoint(ctx_of(request), signed.actor, endpoint_id)
    return RedirectResponse("/settings?done=enabled", status_code=303)


@router.get("/settings/webhooks/{endpoint_id}")
def webhook_deliveries(request: Request, signed: Signed, endpoint_id: str) -> Response:
    """The delivery log, newest first: every attempt with its status (rule E2)."""
    ctx = ctx_of(request)
    log = messaging.list_deliveries(ctx, signed.actor, endpoint_id)
    endpoints = messaging.list_endpoints(ctx, signed.actor)
    url = next((e.url for e in endpoints if e.id == endpoint_id), endpoint_id)
    return render(request, "webhook_deliveries.html", url=url, deliveries=log)
