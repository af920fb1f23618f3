"""Every API list answers with a statement count that does not grow with the data
(issue 11, goal 4): counted with a few and with more of everything (tests/support/census.py)."""

from __future__ import annotations

from tests.support.census import count_api, grow, open_census
from trialhub.services.kernel.context import Context

FEW, MORE = 2, 6


def test_every_api_list_costs_the_same_statements_for_few_or_many_rows(ctx: Context) -> None:
    census = open_census(ctx)
    grow(census, FEW)
    few = count_api(census)
    grow(census, MORE - FEW)
    many = count_api(census)
    assert {k: (few[k], many[k]) for k in few if few[k] != many[k]} == {}
