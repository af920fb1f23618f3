"""Activity filtered by customer (rule E1): a search field that finds the customer by name
or email (never a list of every customer), the link from the customer page, the active
filters shown each with a way to clear it, and one query per list."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from tests.web.conftest import Portal, statements_of
from tests.web.test_activity_page import codes
from tests.web.test_customers_page import start_trial
from trialhub.services import customers


def _feed_of(portal: Portal, customer_id: str, kind: str) -> list[str]:
    """The actions of one customer's feed as the use case behind the API lists them."""
    feed = customers.activity(
        portal.ctx, portal.sales.actor, customer_id=customer_id, kind=kind, limit=100
    )
    assert len({e.org_id for e in feed.items}) == 1
    return [e.action for e in feed.items]


def test_the_field_is_labelled_and_no_list_of_customers(
    portal: Portal, signed_in: TestClient
) -> None:
    start_trial(signed_in, portal, "Acme")
    page = signed_in.get("/activity").text
    assert '<label for="find">Customer</label>' in page
    assert 'id="find" name="find" type="search"' in page
    assert "<select" in page  # the kind
    assert 'name="customer"' not in page  # no list of customers, no hidden filter yet


def test_one_match_filters_the_feed_to_that_customer(portal: Portal, signed_in: TestClient) -> None:
    acme = start_trial(signed_in, portal, "Globex")
    start_trial(signed_in, portal, "Umbrella")
    found = signed_in.get("/activity?find=glob&kind=trial", follow_redirects=False)
    assert found.status_code == 303
    target = urlsplit(found.headers["location"])
    assert parse_qs(target.query) == {"customer": [acme["customer_id"]], "kind": ["trial"]}
    page = signed_in.get(found.headers["location"]).text
    assert codes(page) == _feed_of(portal, acme["customer_id"], "trial")
    assert len(codes(page)) < len(codes(signed_in.get("/activity?kind=trial").text))
    assert all(code.startswith("trial.") for code in codes(page))
    # the active filters, each with a link that clears it and keeps the other
    assert "Customer: <a" in page
    assert ">Globex</a>" in page
    assert "Kind: Trials" in page
    assert 'href="/activity?kind=trial" aria-label="Clear the customer filter (Globex)"' in page
    clear_kind = f'href="/activity?customer={acme["customer_id"]}" aria-label="Clear the kind'
    assert clear_kind in page
    # changing the kind keeps the customer (the form carries it)
    assert f'name="customer" value="{acme["customer_id"]}"' in page


def test_by_the_administrators_email_too(portal: Portal, signed_in: TestClient) -> None:
    acme = start_trial(signed_in, portal, "Acme")
    email = signed_in.get("/v1/customers", headers=portal.sales.headers).json()["items"][0][
        "admin_email"
    ]
    found = signed_in.get(f"/activity?find={email}", follow_redirects=False)
    assert found.headers["location"] == f"/activity?customer={acme['customer_id']}"


def test_several_matches_are_offered_to_choose_from(portal: Portal, signed_in: TestClient) -> None:
    one = start_trial(signed_in, portal, "Globex One")
    two = start_trial(signed_in, portal, "Globex Two")
    start_trial(signed_in, portal, "Umbrella")
    page = signed_in.get("/activity?find=Globex&kind=customer")
    assert page.status_code == 200
    text = page.text
    assert "Which customer?" in text
    links = {html.unescape(h) for h in re.findall(r'<li><a href="(/activity\?[^"]+)">', text)}
    assert links == {
        f"/activity?customer={one['customer_id']}&kind=customer",
        f"/activity?customer={two['customer_id']}&kind=customer",
    }
    assert "Umbrella" not in text
    assert 'value="Globex"' in text  # what was typed stays in the field


def test_no_match_says_so_next_to_the_field(portal: Portal, signed_in: TestClient) -> None:
    start_trial(signed_in, portal, "Acme")
    page = signed_in.get("/activity?find=Nobody")
    assert page.status_code == 200
    assert 'id="find-error"' in page.text
    assert "No customer in your list has a name or email containing “Nobody”." in page.text
    assert 'aria-invalid="true"' in page.text
    assert not codes(page.text)  # no feed while no customer is chosen


def test_the_customer_page_links_to_its_activity(portal: Portal, signed_in: TestClient) -> None:
    acme = start_trial(signed_in, portal, "Acme")
    page = signed_in.get(f"/customers/{acme['customer_id']}").text
    assert f'href="/activity?customer={acme["customer_id"]}">Activity</a>' in page


def test_a_customer_of_another_partner_is_not_found_by_name(
    portal: Portal, signed_in: TestClient
) -> None:
    """Rule P3: the search looks in the caller's own list only."""
    from tests.conftest import make_admin, make_partner, new_customer_body

    other = make_partner(portal.ctx, name="Other")
    admin = make_admin(portal.ctx, partner_id=other)
    body = new_customer_body()
    body["customer"]["company_name"] = "Hidden Corp"
    assert signed_in.post("/v1/trials", json=body, headers=admin.headers).status_code == 201
    assert "No customer in your list" in signed_in.get("/activity?find=Hidden").text


def test_one_query_per_list_however_many_customers_and_events(
    portal: Portal, signed_in: TestClient
) -> None:
    """Issue 10: the search and the filtered feed each cost the same statements whatever
    the numbers of matching customers and of events."""
    acme = start_trial(signed_in, portal, "Globex 0")
    start_trial(signed_in, portal, "Globex 1")
    filtered = f"/activity?customer={acme['customer_id']}"
    few = (
        statements_of(portal, signed_in, "/activity?find=Globex"),
        statements_of(portal, signed_in, filtered),
    )
    for i in range(2, 8):
        start_trial(signed_in, portal, f"Globex {i}")
    for _ in range(3):
        signed_in.post(f"/v1/trials/{acme['id']}/extend", json={}, headers=portal.sales.headers)
    many = (
        statements_of(portal, signed_in, "/activity?find=Globex"),
        statements_of(portal, signed_in, filtered),
    )
    assert many == few
    assert many[0] <= 12  # the customer list's own query and its eager loads
    assert many[1] <= 10  # the session, the customer (its aggregate), the feed


def test_an_own_reach_role_finds_and_filters_only_customers_in_its_reach(
    portal: Portal, signed_in: TestClient
) -> None:
    """Rule P2: a sales administrator reads the customers it provisioned or was assigned;
    another customer of the partner is not found, by name or by id (rule P3's answer)."""
    from tests.conftest import make_admin
    from tests.web.conftest import PASSWORD, signed_as

    globex = start_trial(signed_in, portal, "Globex")
    seller = make_admin(
        portal.ctx,
        partner_id=portal.partner_id,
        roles=("sales_admin",),
        email="seller@portal.example",
        password=PASSWORD,
    )
    with signed_as(portal, seller) as client:
        assert "No customer in your list" in client.get("/activity?find=Globex").text
        by_id = client.get(f"/activity?customer={globex['customer_id']}").text
        assert "No such customer." in by_id
        assert not codes(by_id)
        customers.assign_customer(
            portal.ctx, portal.sales.actor, globex["customer_id"], str(seller.actor.admin_id)
        )
        found = client.get("/activity?find=Globex", follow_redirects=False)
        assert found.headers["location"] == f"/activity?customer={globex['customer_id']}"
        assert codes(client.get(found.headers["location"]).text)
