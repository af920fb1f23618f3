"""Sign-in and sign-out of the partner portal (rule X1 for failures, E1 for the audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from trialhub.domain.errors import RateLimited, Unauthenticated
from trialhub.services import accounts
from trialhub.web.portal import (
    SESSION_COOKIE,
    CsrfChecked,
    client_address,
    current_session,
    render,
    safe_next,
    set_cookie,
)

router = APIRouter(include_in_schema=False)


NOTICES = {"done": "Your new password is set; sign in with it."}


@router.get("/signin")
def signin_page(
    request: Request,
    next: Annotated[str | None, Query()] = None,
    reset: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    if current_session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = NOTICES.get(reset or "")
    return render(request, "signin.html", next=safe_next(next), email="", error=None, notice=notice)


@router.post("/signin", dependencies=[CsrfChecked])
def signin_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    target = safe_next(next)
    try:
        signed = accounts.sign_in(
            request.app.state.ctx, email, password, address=client_address(request)
        )
    except RateLimited as e:  # rule X1
        page = render(
            request, "signin.html", status_code=429, next=target, email=email, error=e.message
        )
        page.headers["Retry-After"] = str(e.retry_after)
        return page
    except Unauthenticated as e:
        return render(
            request, "signin.html", status_code=401, next=target, email=email, error=e.message
        )
    response = RedirectResponse(target, status_code=303)
    max_age = int(request.app.state.ctx.policy.session_absolute.total_seconds())
    set_cookie(request, response, SESSION_COOKIE, signed.token, max_age=max_age)
    return response


@router.post("/signout", dependencies=[CsrfChecked])
def signout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.sign_out(request.app.state.ctx, token)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
