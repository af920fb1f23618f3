"""The customer list page, the portal's home: the same use case as GET /v1/customers, its
filters, search, keyset pages, paid customers (rule A1), a bounded number of statements,
and actions only for roles that may take them (rule P2)."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import new_customer_body
from tests.web.conftest import Portal, sign_in, statements_of
from trialhub.services.customers import organizations
from trialhub.services.customers.schemas import AddOrgAdmin, AddSubscription, CreateOrganization
from trialhub.services.demo import SYSTEM_OPERATOR

_ROW = re.compile(r'<a href="/customers/([^"]+)">([^<]+)</a>')


def start_trial(client: TestClient, portal: Portal, company: str) -> dict[str, Any]:
    body = new_customer_body()
    body["customer"]["company_name"] = company
    answer = client.post("/v1/trials", json=body, headers=portal.sales.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def paid_customer(portal: Portal, name: str = "Initech", service: str = "meetings") -> str:
    """An organization whose Meetings (or `service`) the portal's partner manages (A1)."""
    ctx, op = portal.ctx, SYSTEM_OPERATOR
    org = organizations.create_organization(ctx, op, CreateOrganization(name=name, country="US"))
    admin = AddOrgAdmin(email=f"bill@{name.lower()}.example", name="Bill")
    organizations.add_org_admin(ctx, op, org.id, admin)
    sub = AddSubscription(service=service, quantity=10, partner_id=portal.partner_id)
    organizations.add_subscription(ctx, op, org.id, sub)
    return org.id


def listed(page: str) -> list[str]:
    return [html.unescape(name) for _, name in _ROW.findall(page)]


def test_the_list_shows_what_the_api_lists(portal: Portal, signed_in: TestClient) -> None:
    for company in ("Acme", "Globex & Sons"):
        start_trial(signed_in, portal, company)
    paid_customer(portal)
    api = signed_in.get("/v1/customers", headers=portal.sales.headers).json()["items"]
    page = signed_in.get("/customers").text
    assert listed(page) == [c["name"] for c in api]  # the same order: soonest end first
    for c in api:
        assert f'href="/customers/{c["id"]}"' in page
        if c["status_label"]:
            assert c["status_label"] in page  # the seed's words (rule K4)
    assert "Initech" in listed(page)  # rule A1: a paid customer is listed too
    assert "No open trial" in page
    assert "Webex Meetings" in page  # services by their names
    assert "bill@initech.example" in page


def test_filter_by_status_and_search(portal: Portal, signed_in: TestClient) -> None:
    trial = start_trial(signed_in, portal, "Acme")
    start_trial(signed_in, portal, "Umbrella")
    paid_customer(portal)
    by_status = signed_in.get("/customers", params={"status": trial["status"]}).text
    assert sorted(listed(by_status)) == ["Acme", "Umbrella"]
    assert f'value="{trial["status"]}" selected' in by_status
    assert listed(signed_in.get("/customers", params={"status": "none"}).text) == ["Initech"]
    assert listed(signed_in.get("/customers", params={"q": "umbr"}).text) == ["Umbrella"]
    by_email = signed_in.get("/customers", params={"q": "bill@initech"}).text
    assert listed(by_email) == ["Initech"]
    nothing = signed_in.get("/customers", params={"q": "no such company"}).text
    assert "No customers match." in nothing


def test_a_wrong_filter_is_shown_not_a_crash(signed_in: TestClient) -> None:
    page = signed_in.get("/customers", params={"status": "bogus"})
    assert page.status_code == 200
    assert "Unknown status" in page.text
    broken = signed_in.get("/customers", params={"cursor": "not-a-cursor"})
    assert broken.status_code == 200
    assert "The cursor is not valid" in broken.text


def test_keyset_pages_next_and_previous(portal: Portal, signed_in: TestClient) -> None:
    portal.ctx.policy = replace(portal.ctx.policy, default_page_size=2)
    for i in range(5):
        start_trial(signed_in, portal, f"Company {i}")
    seen: list[list[str]] = []
    page = signed_in.get("/customers").text
    assert 'rel="prev"' not in page
    while True:
        seen.append(listed(page))
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        if found is None:
            break
        page = signed_in.get(html.unescape(found.group(1))).text
    assert [len(names) for names in seen] == [2, 2, 1]
    assert sorted(name for names in seen for name in names) == [f"Company {i}" for i in range(5)]
    # back from the last page: the middle one, then the first
    for expected in (seen[1], seen[0]):
        back = re.search(r'<a href="([^"]+)" rel="prev">', page)
        assert back is not None
        page = signed_in.get(html.unescape(back.group(1))).text
        assert listed(page) == expected
    assert 'rel="prev"' not in page


def test_the_page_costs_the_same_statements_for_few_or_many_customers(
    portal: Portal, signed_in: TestClient
) -> None:
    """Issue 10: one query per list, no N+1."""
    for i in range(2):
        start_trial(signed_in, portal, f"Few {i}")
    paid_customer(portal, "PaidOne")
    few = statements_of(portal, signed_in, "/customers")
    for i in range(10):
        start_trial(signed_in, portal, f"Many {i}")
    paid_customer(portal, "PaidTwo")
    many = statements_of(portal, signed_in, "/customers")
    assert many == few
    assert many <= 12


def test_actions_only_for_roles_that_may(portal: Portal, signed_in: TestClient) -> None:
    """Rule P2: a read-only administrator sees the list but no action buttons."""
    start_trial(signed_in, portal, "Acme")
    assert "Start trial" in signed_in.get("/customers").text
    with portal.client() as reader:
        assert sign_in(reader, portal.read_only.actor.email).status_code == 303
        page = reader.get("/customers").text
    assert listed(page) == ["Acme"]
    assert "Start trial" not in page
