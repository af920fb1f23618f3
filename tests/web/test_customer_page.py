"""The customer page: what `GET /v1/customers/{id}` and each trial's timeline say, the
actions each role may take (rule P2), unknown or other partners' customers as 404 (P3),
and a bounded number of statements."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import Portal, sign_in, statements_of
from tests.web.test_customers_page import paid_customer, start_trial
from trialhub.services import trials


def test_the_page_shows_the_customer_its_trials_and_their_timeline(
    portal: Portal, signed_in: TestClient
) -> None:
    trial = start_trial(signed_in, portal, "Acme & Co")
    page = signed_in.get(f"/customers/{trial['customer_id']}")
    assert page.status_code == 200
    text = page.text
    assert "Acme &amp; Co" in text
    assert trial["status_label"] in text  # the seed's words (rule K4)
    assert "Webex Meetings" in text
    assert f'href="/trials/{trial["id"]}/devices"' in text
    assert f'href="/customers/{trial["customer_id"]}/trials/new"' in text
    timeline = trials.timeline(portal.ctx, portal.sales.actor, trial["id"])
    for e in timeline.events:
        assert e.action in text
    for d in timeline.deadlines:
        assert d.label in text
    assert "Europe" in text  # the region (rule C2)


def test_a_paid_customer_shows_its_managing_partner(portal: Portal, signed_in: TestClient) -> None:
    paid_customer(portal)
    page = signed_in.get("/customers").text
    found = re.search(r'<a href="/customers/([^"]+)">Initech</a>', page)
    assert found
    text = signed_in.get(f"/customers/{found.group(1)}").text
    assert "Portal Partner" in text  # rule A1: who manages the purchased service
    assert "No trials." in text


def test_unknown_or_other_partners_customer_is_404(portal: Portal, signed_in: TestClient) -> None:
    assert signed_in.get("/customers/no-such-id").status_code == 404
    from tests.conftest import make_admin, make_partner

    other = make_partner(portal.ctx, name="Other")
    admin = make_admin(portal.ctx, partner_id=other)
    theirs = signed_in.post("/v1/trials", json=_body("Theirs"), headers=admin.headers).json()
    assert signed_in.get(f"/customers/{theirs['customer_id']}").status_code == 404


def _body(company: str) -> dict[str, Any]:
    from tests.conftest import new_customer_body

    body = new_customer_body()
    body["customer"]["company_name"] = company
    return body


def test_the_customer_page_costs_the_same_statements_however_long_the_history(
    portal: Portal, signed_in: TestClient
) -> None:
    """Issue 10: no N+1, however many events the trials have."""
    trial = start_trial(signed_in, portal, "Acme")
    path = f"/customers/{trial['customer_id']}"
    few = statements_of(portal, signed_in, path)
    for _ in range(3):
        signed_in.post(f"/v1/trials/{trial['id']}/extend", json={}, headers=portal.sales.headers)
    many = statements_of(portal, signed_in, path)
    assert many == few
    assert many <= 30


def test_the_activity_page_costs_the_same_statements_however_many_events(
    portal: Portal, signed_in: TestClient
) -> None:
    start_trial(signed_in, portal, "Acme")
    few = statements_of(portal, signed_in, "/activity")
    for i in range(5):
        start_trial(signed_in, portal, f"More {i}")
    many = statements_of(portal, signed_in, "/activity")
    assert many == few
    assert many <= 8


def test_read_only_sees_the_page_but_no_actions(portal: Portal, signed_in: TestClient) -> None:
    trial = start_trial(signed_in, portal, "Acme")
    with portal.client() as reader:
        assert sign_in(reader, portal.read_only.actor.email).status_code == 303
        text = reader.get(f"/customers/{trial['customer_id']}").text
    assert "Acme" in text
    for action in ("/extend", "/services", "/delete", "/convert", "/assignments", "/trials/new"):
        assert action not in text
