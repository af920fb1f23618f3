"""The customer's consent page behind the emailed link: see the request, accept (with or
without full-admin access for the partner) or decline (rules K2, K3, K7).

The form carries a CSRF token bound to the consent token (HMAC with the server's secret),
so another site cannot post a decision even if it learned where the form lives.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from trialhub.domain.errors import (
    ConsentUnavailable,
    Forbidden,
    NotFound,
    RateLimited,
    TrialhubError,
)
from trialhub.services import consent
from trialhub.services.consent.schemas import ConsentDecision
from trialhub.web.pages import templates
from trialhub.web.portal import SameSiteOnly

router = APIRouter(include_in_schema=False)


def csrf_token(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), f"consent:{token}".encode(), hashlib.sha256).hexdigest()


def _page(
    request: Request,
    token: str,
    *,
    error: str | None = None,
    done: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = request.app.state.ctx
    view = None
    problem = error
    headers: dict[str, str] = {}
    if done is None:
        try:
            view = consent.view(ctx, token, address=_client(request))
        except (NotFound, ConsentUnavailable) as e:
            problem, status = e.message, (404 if isinstance(e, NotFound) else 410)
        except RateLimited as e:  # rule X1: too many unknown links from this address
            problem, status = e.message, 429
            headers["Retry-After"] = str(e.retry_after)
    html = (
        templates()
        .get_template("consent.html")
        .render(
            view=view,
            token=token,
            csrf=csrf_token(request.app.state.secret, token),
            error=problem,
            done=done,
        )
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def _client(request: Request) -> str:
    """The socket peer, or what a trusted proxy says it is (`TRIALHUB_FORWARDED_ALLOW_IPS`)."""
    return request.client.host if request.client else ""


@router.get("/consent/{token}", response_class=HTMLResponse)
def consent_page(request: Request, token: str) -> HTMLResponse:
    return _page(request, token)


# its own token below (the customer's administrator has no session), and the same-site check
# of every page POST
@router.post("/consent/{token}", response_class=HTMLResponse, dependencies=[SameSiteOnly])
def consent_submit(
    request: Request,
    token: str,
    decision: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    full_admin: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    expected = csrf_token(request.app.state.secret, token)
    # bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500)
    if not hmac.compare_digest(csrf.encode(), expected.encode()):
        return _page(request, token, error="The form expired; please try again.", status=403)
    if decision not in ("accept", "decline"):
        return _page(request, token, error="Choose accept or decline.", status=422)
    try:
        result = consent.decide(
            request.app.state.ctx,
            token,
            ConsentDecision(decision=decision, grant_full_admin=full_admin is not None),
            address=_client(request),
        )
    except RateLimited:
        return _page(request, token)  # the page says so, with its Retry-After
    except Forbidden as e:
        return _page(request, token, error=e.message, status=403)
    except TrialhubError as e:
        return _page(request, token, error=e.message, status=409)
    if decision == "accept":
        access = "full administrator" if full_admin is not None else "provisioning administrator"
        done = f"You accepted the trial. {result.partner_name} now has {access} access."
    else:
        done = f"You declined the trial request of {result.partner_name}."
    return _page(request, token, done=done)
