"""Property-based fuzzing of the pages (hypothesis): the pages are not in the OpenAPI schema,
so schemathesis never sees them. Whatever a browser sends, a page answers a page, never a
500 and never JSON (rule E3)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Route

import trialhub.web
from tests.conftest import World
from tests.support.apps import app_for
from tests.support.fuzzing import fuzzing

# values a hand-edited URL carries: huge, negative, not numbers at all
VALUES = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["99999999999999999999999", str(2**63), "-1", "0", "1e400", "NaN", " "]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
)


def page_routes(app: Any) -> list[tuple[str, str]]:
    """Every page: the routes of each `trialhub.web` module's router, the app's own (the API
    reference) and the static files."""
    found: list[Any] = []
    for module in pkgutil.iter_modules(trialhub.web.__path__):
        router = getattr(importlib.import_module(f"trialhub.web.{module.name}"), "router", None)
        found += router.routes if router is not None else []
    # the app's own (the app's list holds every router's routes too: not the API's)
    found += [r for r in app.routes if isinstance(r, Route) and not r.path.startswith("/v1/")]
    routes = [("GET", "/static/{path}")]
    for route in found:
        routes += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return sorted(set(routes))


def fill(path: str, value: str) -> str:
    from urllib.parse import quote

    out, _, rest = path.partition("{")
    while _:
        _, _, rest = rest.partition("}")
        out += quote(value, safe="") or "x"
        piece, _, rest = rest.partition("{")
        out += piece
    return out


def test_pages_never_answer_a_server_error(sqlite_world: World) -> None:
    ctx = sqlite_world.ctx
    ctx.local_mailbox = True  # the development pages are fuzzed too
    app = app_for(ctx)
    client = TestClient(app, raise_server_exceptions=False)
    routes = page_routes(app)
    assert {"/", "/mailbox/{mail_id}", "/consent/{token}", "/docs"} <= {p for _, p in routes}

    @given(route=st.sampled_from(routes), value=VALUES, query=VALUES)
    @fuzzing(max_examples=100)
    def fuzz(route: tuple[str, str], value: str, query: str) -> None:
        method, path = route
        url = fill(path, value)
        params = {"to": query, "after": query, "limit": query}
        form = {"decision": query, "csrf": value, "full_admin": query}
        got = client.request(method, url, params=params, data=form if method == "POST" else None)
        assert got.status_code < 500, (method, url, got.text)
        if got.status_code >= 400 and not got.url.path.startswith(("/v1/", "/openapi.json")):
            assert got.headers["content-type"].startswith("text/html"), (url, got.text)

    fuzz()


def test_a_huge_mailbox_id_is_a_readable_page(sqlite_world: World) -> None:
    """`GET /mailbox/99999999999999999999999` was a JSON 500 (OverflowError)."""
    ctx = sqlite_world.ctx
    ctx.local_mailbox = True
    client = TestClient(app_for(ctx), raise_server_exceptions=False)
    for value, status in (("99999999999999999999999", 422), ("-1", 422), ("abc", 422)):
        got = client.get(f"/mailbox/{value}")
        assert got.status_code == status, got.text
        assert got.headers["content-type"].startswith("text/html")
        assert "mail_id" in got.text  # the page names the field
    missing = client.get("/mailbox/9223372036854775807")
    assert missing.status_code == 404
    assert "No such email." in missing.text
