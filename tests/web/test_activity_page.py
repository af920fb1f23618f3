"""Activity: the partner's audit log newest first, of one customer and one kind, a page at
a time (rule E1); the same use case as GET /v1/activity."""

from __future__ import annotations

import html
import re
from dataclasses import replace

from fastapi.testclient import TestClient

from tests.conftest import make_admin, make_partner
from tests.web.conftest import Portal
from tests.web.test_customers_page import start_trial

_CODES = re.compile(r'<span class="action" title="([^"]+)">')


def codes(page: str) -> list[str]:
    return _CODES.findall(page)


def test_newest_first_as_the_api_says(portal: Portal, signed_in: TestClient) -> None:
    start_trial(signed_in, portal, "Acme")
    api = signed_in.get("/v1/activity", headers=portal.sales.headers).json()["items"]
    ids = [e["id"] for e in api]
    assert ids == sorted(ids, reverse=True)
    page = signed_in.get("/activity").text
    assert codes(page)[: len(api)] == [e["action"] for e in api]
    assert "Trial created" in page


def test_of_one_customer_and_one_kind(portal: Portal, signed_in: TestClient) -> None:
    acme = start_trial(signed_in, portal, "Acme")
    start_trial(signed_in, portal, "Umbrella")
    path = f"/activity?customer={acme['customer_id']}&kind=trial"
    page = signed_in.get(path).text
    found = codes(page)
    assert found
    assert all(code.startswith("trial.") for code in found)
    api = signed_in.get(
        "/v1/activity",
        params={"customer_id": acme["customer_id"], "kind": "trial"},
        headers=portal.sales.headers,
    ).json()["items"]
    assert {e["org_id"] for e in api} == {acme["org_id"]}
    assert found == [e["action"] for e in api]
    assert f'href="/customers/{acme["customer_id"]}"' in page


def test_pages_older_and_back_to_the_newest(portal: Portal, signed_in: TestClient) -> None:
    portal.ctx.policy = replace(portal.ctx.policy, default_page_size=3)
    for i in range(3):
        start_trial(signed_in, portal, f"Company {i}")
    pages = [signed_in.get("/activity").text]
    assert "Newest" not in pages[0]
    while older := re.search(r'<a href="([^"]+)" rel="next">Older</a>', pages[-1]):
        pages.append(signed_in.get(html.unescape(older.group(1))).text)
        assert "Newest" in pages[-1]
    seen = [code for page in pages for code in codes(page)]
    api = signed_in.get("/v1/activity?limit=100", headers=portal.sales.headers).json()["items"]
    assert seen == [e["action"] for e in api]


def test_a_wrong_kind_or_customer_is_shown_not_a_crash(
    portal: Portal, signed_in: TestClient
) -> None:
    wrong = signed_in.get("/activity?kind=bogus")
    assert wrong.status_code == 200
    assert "kind is one of" in wrong.text
    assert "No such customer." in signed_in.get("/activity?customer=nobody").text


def test_another_partners_events_are_not_shown(portal: Portal, signed_in: TestClient) -> None:
    other = make_partner(portal.ctx, name="Other")
    admin = make_admin(portal.ctx, partner_id=other)
    from tests.conftest import new_customer_body

    theirs = signed_in.post("/v1/trials", json=new_customer_body(), headers=admin.headers).json()
    page = signed_in.get("/activity").text
    assert theirs["customer_id"] not in page
    mine = signed_in.get("/v1/activity?limit=100", headers=portal.sales.headers).json()["items"]
    assert theirs["org_id"] not in {e["org_id"] for e in mine}
