"""Forgotten passwords: ask for an emailed link at /password/forgot, choose a new password at
/password/reset/{token} (single-use, expiring; rule X1 throttles both)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from trialhub.domain.errors import RateLimited, Unauthenticated, ValidationFailed
from trialhub.services import accounts
from trialhub.web.portal import CsrfChecked, client_address, ctx_of, render

router = APIRouter(include_in_schema=False)


def _throttled(request: Request, name: str, error: RateLimited, **values: object) -> Response:
    page = render(request, name, status_code=429, error=error.message, **values)
    page.headers["Retry-After"] = str(error.retry_after)
    return page


@router.get("/password/forgot")
def forgot_page(request: Request) -> Response:
    return render(request, "password_forgot.html", email="", sent=False, error=None)


@router.post("/password/forgot", dependencies=[CsrfChecked])
def forgot_submit(request: Request, email: Annotated[str, Form(max_length=320)] = "") -> Response:
    try:
        accounts.request_password_reset(ctx_of(request), email, address=client_address(request))
    except RateLimited as e:  # rule X1
        return _throttled(request, "password_forgot.html", e, email=email, sent=False)
    # the same answer whether or not the email has an account
    return render(request, "password_forgot.html", email=email, sent=True, error=None)


@router.get("/password/reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    return render(request, "password_reset.html", token=token, error=None)


@router.post("/password/reset/{token}", dependencies=[CsrfChecked])
def reset_submit(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    if password != confirm:
        error = "The two passwords differ; type the same one twice."
        return render(request, "password_reset.html", status_code=422, token=token, error=error)
    try:
        accounts.reset_password(ctx_of(request), token, password, address=client_address(request))
    except RateLimited as e:  # rule X1
        return _throttled(request, "password_reset.html", e, token=token)
    except ValidationFailed as e:
        return render(request, "password_reset.html", status_code=422, token=token, error=e.message)
    except Unauthenticated as e:
        return render(request, "password_reset.html", status_code=410, token=token, error=e.message)
    return RedirectResponse("/signin?reset=done", status_code=303)
