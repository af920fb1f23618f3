"""Every page of the portal answers with a statement count that does not grow with the data
(issue 11, goal 4): counted with a few and with more of everything (tests/support/census.py:
customers, trials, their history, shipments, device requests, orders, administrators,
tokens, webhook deliveries, emails)."""

from __future__ import annotations

import re

from tests.support.census import count_pages, grow, open_census, page_paths
from tests.web.conftest import app_routes
from trialhub.api.app import create_app
from trialhub.services.kernel.context import Context

FEW, MORE = 2, 5
# pages without a list that grows: a health check, forms of one field, a wizard step
# (counted in test_wizard_pages.py), an email's HTML (the same row as /mailbox/{id})
NOT_COUNTED = {"/healthz", "/password/forgot", "/password/reset/{token}", "/trials/new/region"}
NOT_COUNTED |= {"/mailbox/{mail_id}/html"}


def test_every_page_costs_the_same_statements_for_few_or_many_rows(sqlite_ctx: Context) -> None:
    census = open_census(sqlite_ctx)
    pages = {
        r.path
        for r in app_routes(create_app(sqlite_ctx))
        if "GET" in r.methods and not r.path.startswith("/v1/")
    }
    counted = {name.split("?")[0] for name in page_paths(census)}
    # a new page joins the census
    assert {_generic(p) for p in pages - NOT_COUNTED} - {_generic(p) for p in counted} == set()
    grow(census, FEW)
    few = count_pages(census)
    grow(census, MORE - FEW)
    many = count_pages(census)
    assert {k: (few[k], many[k]) for k in few if few[k] != many[k]} == {}


def _generic(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)
