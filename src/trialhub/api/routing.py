"""Finding a request's route without trying every route (issue 11).

Starlette and FastAPI find a request's route by trying each route in order, a regular
expression each; FastAPI 0.165's included routers add their own bookkeeping at every try.
trialhub has about a hundred routes, the API's first and the pages' after them, so a page
was matched only after some sixty tries: 0.6 ms of a page's time on the issue's slow
machine, 1.4 ms for a 404.

`include_flat` adds a router's routes to the app's own list, as FastAPI did before it
wrapped included routers (the routes already carry their prefix and dependencies: an
`APIRouter` applies them when a route is declared). `RouteIndex` then narrows the list by
the path's first two segments, once, at the first request: a route whose first two
segments are literal is tried only for paths that start with them, one with a parameter
in its second segment for every path under its first, and any other (a parameter first, a
host) for every path. The candidates keep the app's order, so the first route that
matches is the one a full walk finds, and so are a partial match (405) and the redirect
to the path with or without its trailing slash, which share the first two segments.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

Key = tuple[str, str]


def include_flat(app: FastAPI, router: APIRouter) -> None:
    """Adds the router's routes to the app's, in order (module docstring)."""
    app.router.routes.extend(router.routes)


def _segments(path: str) -> list[str]:
    """The first two segments of a path ("" where it has fewer): "/v1/trials/{id}" ->
    ["v1", "trials"]; "/customers" and "/customers/" -> ["customers", ""]."""
    first, second = [*path.split("/", 3)[1:3], "", ""][:2]
    return [first, second]


def _literal(segment: str) -> bool:
    return "{" not in segment


def _where(route: BaseRoute) -> tuple[str, ...]:
    """Which bucket a route belongs in: (first, second), (first,) or () for everywhere."""
    path = getattr(route, "path", None)
    if not isinstance(route, (Route, Mount)) or not isinstance(path, str):
        return ()  # a host or another kind of route: tried for every path
    first, second = _segments(path)
    if not _literal(first):
        return ()
    if isinstance(route, Mount) and second == "":
        # "/static" serves every path under it; a mount at the root, every path
        return (first,) if first else ()
    if not _literal(second):
        return (first,)
    return (first, second)


class RouteIndex:
    """The app router's dispatch, trying only the routes a path can match (module
    docstring). Installed as the router's `middleware_stack`; lifespan and anything that
    is not a request go to the router itself."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._built_for: tuple[int, int] | None = None
        self._pairs: dict[Key, APIRouter] = {}
        self._firsts: dict[str, APIRouter] = {}
        self._anywhere = router

    def _rebuild(self) -> None:
        routes: Sequence[BaseRoute] = self.router.routes
        placed = [(_where(route), route) for route in routes]
        pairs = {where for where, _ in placed if len(where) == 2}
        firsts = {where[0] for where, _ in placed if where}

        def sub(first: str | None, second: str | None) -> APIRouter:
            """The routes a path with these first two segments may match, in order."""
            chosen = [
                route
                for where, route in placed
                if not where or (where[0] == first and (len(where) == 1 or where[1] == second))
            ]
            return self._sub_router(chosen)

        self._pairs = {(f, s): sub(f, s) for f, s in pairs}
        self._firsts = {f: sub(f, None) for f in firsts}
        self._anywhere = sub(None, None)
        self._built_for = (id(routes), len(routes))

    def _sub_router(self, routes: list[BaseRoute]) -> APIRouter:
        router = self.router
        sub = APIRouter(routes=routes, redirect_slashes=router.redirect_slashes)
        sub.default = router.default
        sub.form_limits = router.form_limits  # a body's limits, as the app's router sets them
        return sub

    def candidates(self, path: str) -> APIRouter:
        """The router holding the routes that may match `path`, in the app's order."""
        routes = self.router.routes
        if self._built_for != (id(routes), len(routes)):
            self._rebuild()
        first, second = _segments(path)
        found = self._pairs.get((first, second))
        if found is not None:
            return found
        return self._firsts.get(first, self._anywhere)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.router.app(scope, receive, send)
            return
        # url_for and the like look routes up in the app's whole router
        scope.setdefault("router", self.router)
        await self.candidates(get_route_path(scope)).app(scope, receive, send)


def install(app: FastAPI) -> RouteIndex:
    """Puts the index in front of the app's router."""
    index = RouteIndex(app.router)
    app.router.middleware_stack = index
    return index
