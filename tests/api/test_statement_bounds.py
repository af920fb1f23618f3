"""Every API list answers with a statement count that does not grow with the data
(issue 11, goal 4): counted with a few and with more of everything (tests/support/census.py:
customers, trials, their history, shipments, device requests, orders, administrators,
tokens, webhook deliveries, events)."""

from __future__ import annotations

import re

from tests.support.census import api_paths, count_api, grow, open_census
from tests.web.conftest import app_routes
from trialhub.api.app import create_app
from trialhub.services.kernel.context import Context

FEW, MORE = 2, 5
NOT_COUNTED = {"GET /v1/sandbox/clock"}  # 404 here (not a sandbox); one row when it is


def test_every_api_read_costs_the_same_statements_for_few_or_many_rows(ctx: Context) -> None:
    census = open_census(ctx)
    reads = {
        f"GET {r.path}"
        for r in app_routes(create_app(ctx))
        if "GET" in r.methods and r.path.startswith("/v1/")
    }
    counted = {name.split("?")[0] for name in api_paths(census)}
    # a new endpoint joins the census
    assert {_generic(p) for p in reads - NOT_COUNTED} - {_generic(p) for p in counted} == set()
    grow(census, FEW)
    few = count_api(census)
    grow(census, MORE - FEW)
    many = count_api(census)
    assert {k: (few[k], many[k]) for k in few if few[k] != many[k]} == {}


def _generic(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)
