"""The sandbox clock bar's forms: the trials team moves the clock from any page (issue 8,
rule P2); the same use case as `POST /v1/sandbox/clock`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from trialhub.services import lifecycle
from trialhub.web.portal import CsrfChecked, Signed, ctx_of, safe_next

router = APIRouter(include_in_schema=False)


@router.post("/sandbox/clock", dependencies=[CsrfChecked])
def move_clock(
    request: Request,
    signed: Signed,
    advance: Annotated[str | None, Form(max_length=20)] = None,
    to: Annotated[date | None, Form()] = None,
    back: Annotated[str | None, Form()] = None,
) -> Response:
    instant = datetime.combine(to, time(), tzinfo=UTC) if to is not None else None
    lifecycle.move_clock(ctx_of(request), signed.actor, advance=advance, to=instant)
    return RedirectResponse(safe_next(back), status_code=303)
