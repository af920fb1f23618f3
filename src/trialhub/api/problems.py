"""RFC 9457 problem+json for every error, with code, rule and fields (rule E3)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from trialhub.domain.errors import (
    FALLBACK_RULE,
    Conflict,
    ConsentUnavailable,
    FieldError,
    Forbidden,
    InvalidTransition,
    IrreversibleLapse,
    NotCertified,
    NotFound,
    RateLimited,
    TrialhubError,
    Unauthenticated,
    ValidationFailed,
)
from trialhub.services.kernel import explain, model_in

log = logging.getLogger("trialhub.api")

PROBLEM = "application/problem+json"

_STATUS: list[tuple[type[TrialhubError], int, str]] = [
    (ValidationFailed, 422, "Invalid input"),
    (NotFound, 404, "Not found"),
    (NotCertified, 403, "Partner not certified"),
    (Forbidden, 403, "Forbidden"),
    (Unauthenticated, 401, "Unauthenticated"),
    (RateLimited, 429, "Too many failed attempts"),
    (ConsentUnavailable, 410, "Consent link no longer valid"),
    (IrreversibleLapse, 409, "Trial lapsed"),
    (InvalidTransition, 409, "Not allowed in this status"),
    (Conflict, 409, "Conflict"),
]


def status_of(error: TrialhubError) -> tuple[int, str]:
    for cls, status, title in _STATUS:
        if isinstance(error, cls):
            return status, title
    return 400, "Bad request"


def problem_body(error: TrialhubError) -> tuple[int, dict[str, Any]]:
    status, title = status_of(error)
    return status, {
        "type": f"https://trialhub.dev/problems/{error.code}",
        "title": title,
        "status": status,
        "detail": error.message,
        "code": error.code,
        "rule": error.rule,
        "field": error.field,
        "errors": [{"field": e.field, "message": e.message, "rule": e.rule} for e in error.errors],
    }


def problem_response(error: TrialhubError) -> JSONResponse:
    status, body = problem_body(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _invalid_input(request: Request, error: RequestValidationError) -> list[FieldError]:
    """Each refused field with its rule, read from the declaration of the route's command
    (services.fields.Rule), and a message a person can act on (rule E3)."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model = model_in(getattr(getattr(body_field, "field_info", None), "annotation", None))
    dependant = getattr(route, "dependant", None)
    out: list[FieldError] = []
    for e in error.errors():
        where = tuple(e.get("loc", ()))
        if where[:1] == ("body",):
            out += explain(model, [e], prefix=1)
        else:  # query, path or header parameters: their bounds, and rule E3
            params = getattr(dependant, f"{where[0]}_params", []) if where else []
            infos = {p.alias: p.field_info for p in params}
            out += explain(None, [e], prefix=1, fields=infos)
    return out


def _validation_problem(request: Request, error: RequestValidationError) -> ValidationFailed:
    """FastAPI's refusal of a request, as one rule error naming every field (rule E3)."""
    found = _invalid_input(request, error) or [FieldError("body", "Invalid input", FALLBACK_RULE)]
    first = found[0]
    rule = next((f.rule for f in found if f.rule != FALLBACK_RULE), first.rule)
    detail = first.message if len(found) == 1 else f"{len(found)} fields are invalid"
    return ValidationFailed(
        f"{first.field}: {detail}" if len(found) == 1 else detail,
        field=first.field,
        rule=rule,
        errors=found,
    )


def _plain_problem(code: str, title: str, status: int, detail: str) -> JSONResponse:
    """A problem that no rule raised (an unknown route, a crash): no rule, no fields."""
    body = {
        "type": f"https://trialhub.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "rule": None,
        "field": None,
        "errors": [],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install(app: FastAPI) -> None:
    from trialhub.api import deps  # it answers with this module's problems

    @app.exception_handler(TrialhubError)
    async def _domain(_: Request, error: TrialhubError) -> JSONResponse:
        return problem_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # a write authenticates its caller in the endpoint's thread (`deps.Idempotent`); one
        # that never got there is authenticated now: 401 or 429 come before 422 (rule X1)
        caller = deps.caller_not_yet_authenticated(request)
        if caller is not None:
            try:
                await run_in_threadpool(lambda: caller.actor)
            except TrialhubError as refused:
                return problem_response(refused)
        return problem_response(_validation_problem(request, error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        detail = str(error.detail)
        return _plain_problem(code, detail, error.status_code, detail)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return _plain_problem(
            "internal_error",
            "Internal error",
            500,
            "Something went wrong on our side; nothing was changed.",
        )
