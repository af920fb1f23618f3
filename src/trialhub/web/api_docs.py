"""The API reference at /docs: Swagger UI served from the fastapi-offline package (no CDN),
started by a static script instead of FastAPI's inline one, so the CSP needs no exception."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from trialhub.web.pages import templates

router = APIRouter(include_in_schema=False)


def swagger_ui_files() -> StaticFiles:
    """Swagger UI's release files, as the fastapi-offline package ships them."""
    return StaticFiles(packages=[("fastapi_offline", "static")])


@router.get("/docs", response_class=HTMLResponse)
def api_reference(request: Request) -> HTMLResponse:
    html = templates().get_template("docs.html").render(openapi_url=request.app.openapi_url)
    return HTMLResponse(html)
