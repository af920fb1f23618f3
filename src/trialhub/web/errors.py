"""Errors on pages are pages: the problem+json the API handlers build, shown as HTML.

The API's handlers (`api.problems`) stay the one place that turns an error into a status,
a code, the field and the rule (rule E3); outside `/v1` their answer is rendered with the
`error.html` template instead of being sent as JSON to a person's browser.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from trialhub.domain.errors import TrialhubError
from trialhub.web.pages import templates

Handler = Callable[[Request, Any], Awaitable[Response]]
AnyHandler = Callable[[Request, Any], Response | Awaitable[Response]]

# machine-read paths keep their problem+json; everything else is read by a person
_MACHINE = ("/v1/", "/openapi.json", "/healthz")


def is_machine_path(path: str) -> bool:
    return path == "/v1" or path.startswith(_MACHINE)


def install(app: FastAPI) -> None:
    """Wraps the handlers `api.problems.install` registered (call it after that one)."""
    for key in (TrialhubError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(key, _as_page(app.exception_handlers[key]))


def _as_page(api_handler: AnyHandler) -> Handler:
    async def handler(request: Request, error: Any) -> Response:
        response = api_handler(request, error)
        if inspect.isawaitable(response):
            response = await response
        if is_machine_path(request.url.path):
            return response
        problem = json.loads(bytes(response.body))
        html = templates().get_template("error.html").render(problem=problem)
        return HTMLResponse(html, status_code=response.status_code)

    return handler
