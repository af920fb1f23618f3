"""RFC 9457 problem+json for every error, with code, rule and fields (rule E3)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trialhub.domain.errors import (
    Conflict,
    ConsentUnavailable,
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

# which rule a structurally bad field breaks, for errors Pydantic finds before the services
_FIELD_RULES: list[tuple[str, str]] = [
    ("customer.", "C1"),
    ("customer", "C1"),
    ("services", "S1"),
    ("user_licenses", "S1"),
    ("meetings", "S2"),
    ("duration_days", "T1"),
    ("setup", "T1"),
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


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


def _rule_of(field: str) -> str | None:
    return next((rule for prefix, rule in _FIELD_RULES if field.startswith(prefix)), None)


def install(app: FastAPI) -> None:
    @app.exception_handler(TrialhubError)
    async def _domain(_: Request, error: TrialhubError) -> JSONResponse:
        return problem_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = []
        for e in error.errors():
            field = _field_of(tuple(e.get("loc", ())))
            errors.append({"field": field, "message": str(e.get("msg")), "rule": _rule_of(field)})
        first = errors[0] if errors else {"field": "body", "message": "Invalid input", "rule": None}
        detail = first["message"] if len(errors) == 1 else f"{len(errors)} fields are invalid"
        body = {
            "type": "https://trialhub.dev/problems/validation_failed",
            "title": "Invalid input",
            "status": 422,
            "detail": f"{first['field']}: {detail}" if len(errors) == 1 else detail,
            "code": "validation_failed",
            "rule": next((e["rule"] for e in errors if e["rule"]), None),
            "field": first["field"],
            "errors": errors,
        }
        return JSONResponse(body, status_code=422, media_type=PROBLEM)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        body = {
            "type": f"https://trialhub.dev/problems/{code}",
            "title": str(error.detail),
            "status": error.status_code,
            "detail": str(error.detail),
            "code": code,
            "rule": None,
            "field": None,
            "errors": [],
        }
        return JSONResponse(body, status_code=error.status_code, media_type=PROBLEM)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        body = {
            "type": "https://trialhub.dev/problems/internal_error",
            "title": "Internal error",
            "status": 500,
            "detail": "Something went wrong on our side; nothing was changed.",
            "code": "internal_error",
            "rule": None,
            "field": None,
            "errors": [],
        }
        return JSONResponse(body, status_code=500, media_type=PROBLEM)
